"""``bench.inprocess``, the load ``bench.instructions`` counts, on each backend: every raise of it
answered 201 through the whole app (it stops at the first that is not), and stored."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench import inprocess
from eventsourcing.utils import get_topic

from huying.bootstrap import build_services
from huying.domain.call import Call
from huying.settings import Settings


def test_the_in_process_load_raises_and_stores_every_call(settings: Settings, tmp_path: Path) -> None:
    directory = tmp_path / "inprocess"
    directory.mkdir()
    url = settings.database_url if settings.on_postgres else ""
    args = argparse.Namespace(
        raises=12,
        concurrency=4,
        warm=3,
        seed=1,
        bare=False,
        database_url=url or None,
        database_schema=settings.database_schema or None,
    )
    got = inprocess.measure(directory, args)
    assert got["raises"] == 12 and got["cpu_ms_per_raise"] > 0
    store = Settings(
        data_dir=directory,
        database_url=url,
        database_schema=settings.database_schema,
        demo=True,
        run_projector=False,
        run_chain=False,
    )
    services = build_services(store)
    try:
        raised = services.app.recorder.select_notifications(1, 100, topics=[get_topic(Call.Raised)])
    finally:
        services.close()
    assert len(raised) == 3 + 12
