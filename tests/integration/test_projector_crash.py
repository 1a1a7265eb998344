"""kill -9 of the projector: a real `huying project` process, killed mid-batch, loses nothing and
counts nothing twice.

A few thousand events are written first. Then `python -m huying.cli project` (batches of 50)
runs on the same data directory and is killed with SIGKILL — twice from outside, as soon as it
has committed some batches but not all, and once from inside its own write transaction (after
it moved the tracking position, before its rows were written), which is the worst moment there
is. After every kill the tracking position must sit on a batch boundary and the read models
must be exactly what a rebuild up to that position gives: no part of a batch visible. A last
`huying project --once` finishes the log, and the read models must equal a full rebuild into a
scratch database.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from backends import settings_env
from huying.bootstrap import Services, build_services
from huying.clock import FakeClock
from huying.db import make_engine
from huying.migrate import upgrade
from huying.projections import tracking
from huying.projections.runner import TRACKING_NAME, Projector
from huying.projections.tables import READ_MODEL_TABLES, rm_calls, rm_supervisions
from huying.settings import Settings
from stored_rows import Rows, rows_of

from .histories import Shape, write_in_batches

BATCH = 50
START = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
WAIT = 60.0  # seconds: the bound on every wait in this file

pytestmark = pytest.mark.slow

# Loaded by the child through PYTHONPATH: SIGKILLs the process inside the transaction of batch
# number DIE_IN_BATCH (the second unless set), right after the tracking row moved and before any
# read-model row is written. Given INSIDE and DIE (file names), it first writes where the batch
# began into INSIDE and waits for DIE to appear: the test chooses the moment.
SELF_KILL = textwrap.dedent(
    """
    import os, signal, time
    from pathlib import Path
    from huying.projections import tracking

    _move = tracking.move
    _seen = []

    def _move_then_die(conn, name, start, end, **how):
        moved = _move(conn, name, start, end, **how)
        if name == "read-models":  # the audit chain keeper moves its own row alongside
            _seen.append(end)
            if len(_seen) == int(os.environ.get("DIE_IN_BATCH", "2")):
                if "INSIDE" in os.environ:
                    # Written aside and renamed: the test reads it as soon as it exists.
                    aside = Path(os.environ["INSIDE"] + ".part")
                    aside.write_text(str(start))
                    aside.replace(os.environ["INSIDE"])
                    deadline = time.monotonic() + 60
                    while not Path(os.environ["DIE"]).exists() and time.monotonic() < deadline:
                        time.sleep(0.005)
                os.kill(os.getpid(), signal.SIGKILL)
        return moved

    tracking.move = _move_then_die
    """
)


def tracked(engine: Engine) -> int:
    with engine.connect() as conn:
        return tracking.tracked(conn, TRACKING_NAME)


class Child:
    """`huying project` in its own process group, its output kept in files."""

    def __init__(
        self,
        settings: Settings,
        logs: Path,
        *args: str,
        extra_path: Path | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUYING_")}
        env.update(settings_env(settings), HUYING_FAKE_CLOCK="1", HUYING_PROJECTOR_BATCH_SIZE=str(BATCH))
        env.update(extra_env or {})
        if extra_path is not None:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(extra_path), env.get("PYTHONPATH")]))
        logs.mkdir(parents=True, exist_ok=True)
        n = len(list(logs.iterdir()))
        self.out = logs / f"{n:02d}.out"
        self.err = logs / f"{n:02d}.err"
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "huying.cli", "project", *args],
                env=env,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")[-3000:]

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=WAIT)


@pytest.fixture
def children() -> Iterator[list[Child]]:
    started: list[Child] = []
    yield started
    for child in started:
        if child.proc.poll() is None:
            child.kill()


def rebuilt_up_to(live: Settings, scratch: Path, position: int, ids: list[int]) -> Rows:
    """The read models a fresh rebuild gives from the start of the log up to ``position``, built
    into a scratch SQLite database from the same event store — by a fresh projector over the
    live deployment's application, as ``huying audit replay`` does (its events are sealed with
    that deployment's key)."""
    into = live.model_copy(
        update={"database_url": f"sqlite:///{scratch / 'huying.db'}", "database_schema": ""}
    )
    upgrade(into)
    engine = make_engine(into)
    services = build_services(live, FakeClock(start=START))
    try:
        projector = Projector(services.app, engine)
        covered = sum(1 for i in ids if i <= position)
        if covered:
            assert projector.run_once(limit=covered) == covered
        assert projector.tracked_position() == position
        return rows_of(engine)
    finally:
        services.close()
        engine.dispose()


def test_a_projector_killed_mid_batch_resumes_exactly(
    settings: Settings, tmp_path: Path, children: list[Child]
) -> None:
    upgrade(settings)
    read_db = make_engine(settings)
    rng = random.Random(7)

    clock = FakeClock(start=START)
    services: Services = build_services(settings, clock)
    try:
        written = write_in_batches(services, clock, rng, Shape.tame(calls=800, concurrency=60), per_save=300)
        log = services.app.recorder.select_notifications(start=0, limit=10**9)
        kinds = Counter(n.topic.rsplit(".", 1)[-1] for n in log)
    finally:
        services.close()
    ids = [n.id for n in log]
    end = ids[-1]
    assert written == len(ids) >= 4000
    # Where a projector starting from 0 with batches of 50 can stop (ids may have holes).
    boundaries = {0, end} | {ids[i] for i in range(BATCH - 1, len(ids), BATCH)}

    def check_consistent(label: str) -> int:
        position = tracked(read_db)
        assert position in boundaries, f"{label}: tracking stopped at {position}, not a batch boundary"
        seen = rows_of(read_db)
        expected = rebuilt_up_to(settings, tmp_path / f"scratch-{label}", position, ids)
        for table in READ_MODEL_TABLES:
            assert seen[table.name] == expected[table.name], (
                f"{label}: {table.name} at position {position} differs from a rebuild up to it "
                f"({len(seen[table.name])} rows vs {len(expected[table.name])})"
            )
        return position

    logs = tmp_path / "logs"
    position = 0
    # Twice: killed from outside once it has committed at least one more batch, but not all.
    for attempt in ("first", "second"):
        child = Child(settings, logs)
        children.append(child)
        deadline = time.monotonic() + WAIT
        while (now := tracked(read_db)) <= position:
            assert child.proc.poll() is None, f"projector exited early:\n{child.stderr()}"
            assert time.monotonic() < deadline, f"no batch committed within {WAIT} s:\n{child.stderr()}"
            time.sleep(0.001)
        assert now < end, "the projector finished before it could be killed; write more events"
        time.sleep(rng.uniform(0, 0.02))  # not a wait for anything: lands the kill at a random point
        child.kill()
        assert child.proc.returncode == -signal.SIGKILL
        after = check_consistent(attempt)
        assert position < after < end
        position = after

    # Once from inside its own write transaction: tracking moved, no rows written yet.
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SELF_KILL)
    child = Child(settings, logs, extra_path=hook)
    children.append(child)
    child.proc.wait(timeout=WAIT)
    assert child.proc.returncode == -signal.SIGKILL, child.stderr()
    after = check_consistent("inside-commit")
    one_more = ids[ids.index(position) + BATCH] if position else ids[BATCH - 1]
    assert after == one_more, f"one batch past {position} should be committed, not {after}"
    position = after

    # The last run finishes the log; the result equals a full rebuild.
    child = Child(settings, logs, "--once")
    children.append(child)
    assert child.proc.wait(timeout=WAIT) == 0, child.stderr()
    assert tracked(read_db) == end
    final = check_consistent("final")
    assert final == end

    try:
        with read_db.connect() as conn:
            calls = len(conn.execute(select(rm_calls.c.call_id)).all())
            supervisions = len(conn.execute(select(rm_supervisions.c.call_id)).all())
    finally:
        read_db.dispose()
    assert calls == kinds["Raised"]  # nothing counted twice, nothing lost
    assert supervisions == kinds["Supervised"]
