"""``bench.past_reads``, P6's three reads in process, on each backend: every read of each kind
answered 200 through the whole app (it stops at the first that is not), of a call that has
the 50 events P6 reads."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench import past_reads

from huying.settings import Settings


def test_the_past_reads_answer_every_read_of_a_50_event_call(settings: Settings, tmp_path: Path) -> None:
    directory = tmp_path / "past-reads"
    directory.mkdir()
    args = argparse.Namespace(
        reads=3,
        warm=1,
        database_url=settings.database_url if settings.on_postgres else None,
        database_schema=settings.database_schema or None,
    )
    got = past_reads.measure(directory, args)
    assert got["reads"] == 3 and got["events"] == 50
    assert all(got[kind]["cpu_ms_per_read"] > 0 for kind in past_reads.KINDS)
