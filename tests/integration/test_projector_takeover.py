"""kill -9 of the projector mid-batch while a second one stands by (targets.md, reliability).

Two `huying project` processes offer the projector duty; one holds its lock and projects, the
other stands by. The holder dies by SIGKILL inside the transaction of a batch drawn from a
seeded RNG — after its tracking row moved, before its rows were written, the worst moment. The
standby (retrying every 0.1 s) takes over within seconds and finishes the log. Nothing is lost or
applied twice: at every moment the read models equal a replay up to their own position (one
snapshot), at the end they equal a replay of the whole log, and each call has one row. The killed
one, started again, stands by; `huying project --once` meanwhile leaves the work to the holder.
"""

from __future__ import annotations

import random
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from huying.audit.replay import replay_and_compare
from huying.bootstrap import build_services
from huying.clock import FakeClock
from huying.migrate import upgrade
from huying.projections.tables import rm_calls
from huying.settings import Settings

from .histories import Shape, write_in_batches
from .test_projector_crash import BATCH, SELF_KILL, START, WAIT, Child, tracked

pytestmark = pytest.mark.slow

DUTIES = {"HUYING_DUTY_RETRY_SECONDS": "0.1"}


@pytest.fixture
def projectors() -> Iterator[list[Child]]:
    started: list[Child] = []
    yield started
    for child in started:
        child.kill()


def standing_by(child: Child) -> bool:
    return "standing by for projector" in child.stderr()


def test_a_projector_killed_mid_batch_is_taken_over_and_nothing_is_applied_twice(
    settings: Settings, tmp_path: Path, projectors: list[Child]
) -> None:
    rng = random.Random(1123)
    upgrade(settings)
    services = build_services(settings, FakeClock(start=START))
    try:
        write_in_batches(services, services.clock, rng, Shape.tame(calls=600, concurrency=50), per_save=300)
        log = services.app.recorder.select_notifications(start=0, limit=10**9)
        end = log[-1].id
        in_batch = rng.randrange(2, len(log) // BATCH - 2)

        hook = tmp_path / "hook"
        hook.mkdir()
        (hook / "sitecustomize.py").write_text(SELF_KILL)
        inside, die = tmp_path / "inside", tmp_path / "die"
        logs = tmp_path / "logs"
        word = {"DIE_IN_BATCH": str(in_batch), "INSIDE": str(inside), "DIE": str(die)}
        first = Child(settings, logs, "--no-chain", extra_path=hook, extra_env={**DUTIES, **word})
        projectors.append(first)
        deadline = time.monotonic() + WAIT
        while "holds the projector duty" not in first.stderr():
            assert first.proc.poll() is None, first.stderr()
            assert time.monotonic() < deadline, f"the first does not project:\n{first.stderr()}"
            time.sleep(0.01)
        second = Child(settings, logs, "--no-chain", extra_env=DUTIES)
        projectors.append(second)
        while not (inside.exists() and standing_by(second)):
            assert first.proc.poll() is None, first.stderr()
            assert second.proc.poll() is None, second.stderr()
            assert time.monotonic() < deadline, f"no batch {in_batch}, or no standby:\n{second.stderr()}"
            time.sleep(0.01)
        at_kill = int(inside.read_text())  # where the batch began: all before it is committed
        die.touch()
        assert first.proc.wait(timeout=WAIT) == -signal.SIGKILL, first.stderr()
        killed_at = time.monotonic()
        assert tracked(services.engine) == at_kill, "the killed batch left its tracking move behind"
        while tracked(services.engine) <= at_kill:  # the standby took over
            assert second.proc.poll() is None, second.stderr()
            assert time.monotonic() < killed_at + WAIT, f"no takeover in {WAIT} s:\n{second.stderr()}"
            time.sleep(0.01)
        took_over = time.monotonic() - killed_at
        midway = replay_and_compare(services.app, services.engine, settings)  # one snapshot
        assert midway.same, (midway.position, midway.differing)

        while tracked(services.engine) < end:
            assert time.monotonic() < killed_at + WAIT, f"the log was not finished:\n{second.stderr()}"
            time.sleep(0.01)
        final = replay_and_compare(services.app, services.engine, settings)
        assert final.same and final.position == end, (final.position, final.differing)
        with services.engine.connect() as conn:
            rows = conn.execute(select(func.count()).select_from(rm_calls)).scalar()
        raised = Counter(n.topic.rsplit(".", 1)[-1] for n in log)["Raised"]
        assert rows == raised, f"{rows} rows for {raised} calls"
        assert "holds the projector duty" in second.stderr()

        again = Child(settings, logs, "--no-chain", extra_env=DUTIES)  # the killed one, restarted
        projectors.append(again)
        deadline = time.monotonic() + WAIT
        while not standing_by(again):
            assert again.proc.poll() is None, again.stderr()
            assert time.monotonic() < deadline, f"the restarted one does not stand by:\n{again.stderr()}"
            time.sleep(0.02)
        once = Child(settings, logs, "--once", "--no-chain")  # a catch-up by hand meanwhile: no race
        projectors.append(once)
        assert once.proc.wait(timeout=WAIT) == 0, once.stderr()
        assert "another process holds the projector duty" in once.stderr()
        print(
            f"killed inside batch {in_batch} after position {at_kill} of {end}; "
            f"taken over in {took_over:.2f} s"
        )
    finally:
        services.close()
