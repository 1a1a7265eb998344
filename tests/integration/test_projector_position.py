"""A projector starts each batch where its own last batch left the log, without reading the
stored position again: when another projector moved it meanwhile (a duty that moved and came
back, a second process), the batch's move fails, nothing of it is kept, and the next batch reads
the stored position and goes on from there. The read models end equal to a rebuild."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from huying.bootstrap import build_services
from huying.clock import FakeClock
from huying.db import make_engine
from huying.migrate import upgrade
from huying.projections.runner import Projector, ProjectorRace
from huying.projections.tables import READ_MODEL_TABLES
from huying.settings import Settings
from stored_rows import rows_of

from .histories import Shape, write_in_batches
from .test_projector_crash import START, rebuilt_up_to, tracked


def test_a_projector_whose_position_moved_under_it_starts_again_from_the_stored_one(
    settings: Settings, tmp_path: Path
) -> None:
    upgrade(settings)
    read_db = make_engine(settings)
    clock = FakeClock(start=START)
    services = build_services(settings, clock)
    try:
        write_in_batches(
            services, clock, random.Random(3), Shape.tame(calls=120, concurrency=20), per_save=50
        )
        ids = [n.id for n in services.app.recorder.select_notifications(start=0, limit=10**9)]
        mine, other = Projector(services.app, services.engine), Projector(services.app, services.engine)
        assert mine.run_once(limit=50) == 50
        assert other.run_once(limit=100) == 100  # from the stored position, past ``mine``'s
        assert tracked(read_db) == ids[149]
        with pytest.raises(ProjectorRace):
            mine.run_once(limit=50)  # from where it left the log: void
        assert tracked(read_db) == ids[149]
        assert mine.run_once(limit=50) == 50  # read again: on from the stored position
        assert tracked(read_db) == ids[199]
        mine.catch_up()
        assert tracked(read_db) == ids[-1]
        seen = rows_of(read_db)
    finally:
        services.close()
        read_db.dispose()
    expected = rebuilt_up_to(settings, tmp_path / "scratch", ids[-1], ids)
    for table in READ_MODEL_TABLES:
        assert seen[table.name] == expected[table.name], table.name
