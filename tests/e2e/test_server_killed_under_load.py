"""kill -9 of the server in the middle of sustained concurrent writes (targets.md, reliability).

Sixteen clients write at once — keyed raises, every other one acknowledged — to `huying serve`
(three workers on PostgreSQL, the one process SQLite allows), which also projects and keeps the
chain. At a moment drawn from a seeded RNG the whole server (supervisor and workers) gets
SIGKILL. After a restart every write answered 201/200 is stored exactly once, the requests that
got no answer are sent again with their keys and recorded once, and the read models and the
hash chain catch up and equal a replay of the log.
"""

from __future__ import annotations

import random
import time
from typing import Any

import pytest

from backends import Backend
from huying.bootstrap import Services

from .processes import (
    COMMUNITY,
    DISTRICT,
    GRID,
    Writers,
    check_everything_acknowledged_is_stored,
    check_read_models_equal_a_rebuild,
    until,
)
from .server import Server

pytestmark = pytest.mark.slow

CLIENTS = 16


def test_kill_9_of_the_server_under_sixteen_writers_loses_no_acknowledged_write(
    server: Server, services: Services, tokens: Any, backend: Backend
) -> None:
    rng = random.Random(20261123)
    workers = 3 if backend.name == "postgres" else 1
    writers = Writers(server, tokens.headers("grid_worker", GRID), tokens.headers("community", COMMUNITY))
    server.start(workers=workers)
    threads = writers.run(CLIENTS, per_client=10_000)  # more than they get to send
    kill_after = rng.randrange(60, 240)
    until(f"{kill_after} writes answered", lambda: writers.acknowledged >= kill_after, 120, server.log)
    server.kill()
    killed_at = time.monotonic()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads), "a client hung on a killed server"
    assert not writers.failures, writers.failures[:5]
    assert writers.unanswered, "every client had its answer: the kill came between requests"
    print(f"killed after {writers.acknowledged} answered writes, {len(writers.unanswered)} unanswered")

    server.start(workers=workers)
    print(f"serving again {time.monotonic() - killed_at:.1f} s after the kill")
    with server.client() as http:
        writers.resend_unanswered(http)
    check_everything_acknowledged_is_stored(server, writers, tokens.headers("supervisor", DISTRICT))
    check_read_models_equal_a_rebuild(services, server.log)
