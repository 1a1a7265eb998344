"""The read models and the hash chain kept up with a synthetic history *while* it is written, in
a second process (``another_process``), on the other core.

The seeder's own process is busy running the domain's commands; this one projects and chains
the log behind it, only in whole batches (a short batch is the log's end: it would settle the
tallies, which are counted once at the end) — the chain in batches of ``BATCH``, the read models
in larger ones (``PROJECTOR_BATCH``). When the seeder has written
the last event it says ``done`` on this process's stdin; the follower answers ``projecting``
once it has stopped chaining (the seeder then chains the rest, on its own core, while this one
projects the rest), and exits when the read models stand at the log's end. The events, the rows
and the chain are those of catching up after the writing (``tests/integration/
test_synthetic_history.py``); only the wall time differs.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TextIO

from huying.bootstrap import Services

BATCH = 20_000  # notifications per chain transaction while seeding
# Notifications per projector transaction while seeding. A batch rewrites the rows of every call
# it touches, and ~15,000 calls are in play at once in a district of a million: the fewer batches
# a call's life spans, the fewer times its rows are written. Projecting the first 200,000 events
# of the million-call history: 1,598 events per CPU second in batches of 20,000, 2,733–2,896 in
# batches of 100,000 (787 MB peak), 3,603 in one of 200,000 (937 MB) — docs/benchmarks.md.
PROJECTOR_BATCH = 100_000
DONE = "done"
PROJECTING = "projecting"
_POLL = 0.5  # seconds between looks at the log's head while less than a batch is new


@contextmanager
def another_process(
    env: Mapping[str, str], batch: int = BATCH, projector_batch: int = PROJECTOR_BATCH
) -> Iterator[Callable[[], None]]:
    """This module's ``follow`` in another process, on the store ``env`` names. What is yielded
    tells it the history is written, and returns once it has stopped chaining; the context ends
    once it has projected the rest (or died: what it left, the seeder does)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", __name__, str(batch), str(projector_batch)],
        env={**os.environ, **env},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    orders, answers = proc.stdin, proc.stdout

    def written() -> None:
        try:
            print(DONE, file=orders, flush=True)
        except BrokenPipeError:
            return
        while (line := answers.readline()) and line.strip() != PROJECTING:
            pass

    try:
        yield written
        proc.wait()
    finally:
        orders.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def follow(
    services: Services,
    orders: TextIO,
    answers: TextIO,
    batch: int = BATCH,
    projector_batch: int = PROJECTOR_BATCH,
) -> None:
    """Whole batches while the history is written; once told ``done``, the rest of the read
    models (the chain's rest is the seeder's)."""
    projector, chain, recorder = services.projector, services.chain, services.app.recorder
    projector.batch_size, chain.batch_size = projector_batch, batch
    while not _told(orders):
        head = recorder.max_notification_id() or 0
        moved = False
        if head - projector.tracked_position() >= projector_batch:
            moved = projector.run_once() > 0
        if head - chain.tracked_position() >= batch:
            moved = chain.run_once() > 0 or moved
        if not moved:
            select.select([orders], [], [], _POLL)
    print(PROJECTING, file=answers, flush=True)
    projector.catch_up()


def _told(orders: TextIO) -> bool:
    """Whether the seeder said ``done`` (or went away): a look, not a wait."""
    ready, _, _ = select.select([orders], [], [], 0)
    return bool(ready) and orders.readline().strip() in (DONE, "")


def main() -> None:
    from huying.bootstrap import opened
    from huying.settings import Settings

    batches = [int(a) for a in sys.argv[1:3]]
    with opened(Settings()) as services:
        follow(services, sys.stdin, sys.stdout, *batches)


if __name__ == "__main__":
    main()
