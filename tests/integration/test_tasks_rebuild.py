"""Rebuild equals incremental for the directive and meeting read models, on each backend: the
stored-tasks story (every event class of both aggregates), projected part-way between its two
halves and at the end, gives the rows a rebuild one event at a time gives."""

from __future__ import annotations

from huying.bootstrap import Services
from huying.clock import FakeClock
from huying.projections.runner import Projector
from huying.projections.tables import DIRECTIVE_TABLES, MEETING_TABLES

from .stored_by_main import read_model_rows
from .stored_tasks import directives_story, meetings_story


def test_the_directive_and_meeting_read_models_rebuild_to_the_same_rows(
    services: Services, clock: FakeClock
) -> None:
    directives_story(services, clock)
    services.projector.run_once(limit=4)  # a batch boundary inside the first directive's life
    meetings_story(services, clock)
    services.projector.catch_up()
    incremental = read_model_rows(services)
    assert all(incremental[t.name] for t in (*DIRECTIVE_TABLES, *MEETING_TABLES))

    rebuilder = Projector(services.app, services.engine, batch_size=1)
    rebuilder.reset()
    rebuilder.catch_up()
    assert read_model_rows(services) == incremental
