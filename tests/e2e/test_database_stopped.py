"""PostgreSQL stopped in the middle of a run (targets.md, reliability).

Eight clients write without pause to `huying serve --workers 2`, each request with its
Idempotency-Key, sending a request answered 503 again with the same key. At a moment drawn from
a seeded RNG the database is stopped (``pg_ctl stop -m fast``, on a cluster this test owns).
While it is down every request is answered — 503 problem+json with Retry-After, within a bound
(two connect timeouts and a little; never a hang, never a 500) — and /readyz says why. When the
database is back, service resumes by itself: the same processes, no restart. Every write
answered 201/200 is stored exactly once, and the read models and the chain equal a replay.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bench.postgres_cluster import Cluster

from backends import Backend
from huying.bootstrap import Services
from huying.settings import Settings

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

pytestmark = [pytest.mark.slow, pytest.mark.postgres_only(reason="SQLite has no server to stop")]

CONNECT_TIMEOUT = 2  # seconds: how long a process waits for a database connection
BOUND = 2 * CONNECT_TIMEOUT + 6  # an answer while it is down: two waits (one retry) and slack
CLIENTS = 8


@pytest.fixture
def own_cluster() -> Iterator[Cluster]:
    """A cluster of the test's own, to stop and start (not the session's shared one)."""
    cluster = Cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def settings(backend: Backend, own_cluster: Cluster, data_dir: Path) -> Settings:
    return Backend("postgres", own_cluster).settings(
        data_dir, run_watchdog=False, database_connect_timeout=CONNECT_TIMEOUT
    )


def test_the_database_stopped_mid_run_503_within_a_bound_then_service_resumes_by_itself(
    server: Server, services: Services, tokens: Any, own_cluster: Cluster
) -> None:
    rng = random.Random(503)
    server.start(workers=2, HUYING_DATABASE_CONNECT_TIMEOUT=str(CONNECT_TIMEOUT))
    writers = Writers(
        server, tokens.headers("grid_worker", GRID), tokens.headers("community", COMMUNITY), persistent=True
    )
    threads = writers.run(CLIENTS, per_client=10_000)
    stop_after = rng.randrange(20, 80)
    until(f"{stop_after} writes answered", lambda: writers.acknowledged >= stop_after, 120, server.log)

    own_cluster.halt()
    stopped_at = time.monotonic()
    until("every client answered 503", lambda: writers.statuses().count(503) >= 3 * CLIENTS, 60, server.log)
    with server.client() as http:
        ready = http.get("/readyz")
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    for store in ("event_store", "database"):
        assert not checks[store]["ok"] and checks[store]["reason"], checks
    print(f"down: /readyz says {checks['database']['reason']!r}, {checks['event_store']['reason']!r}")
    with server.client() as http:
        metrics = http.get("/metrics")
    assert metrics.status_code == 200 and "huying_database_up 0.0" in metrics.text.splitlines()

    acknowledged_while_down = writers.acknowledged
    own_cluster.resume()
    resumed_at = time.monotonic()
    until("writes succeed again", lambda: writers.acknowledged > acknowledged_while_down + CLIENTS, 60)
    back_after = time.monotonic() - resumed_at
    writers.stop.set()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a client hung"

    assert not writers.failures, writers.failures[:5]
    assert set(Counter(writers.statuses())) <= {200, 201, 503}
    unavailable = [(seconds, kind) for status, seconds, kind in writers.answers if status == 503]
    assert all(kind == "application/problem+json" for _, kind in unavailable)
    slowest = max(seconds for seconds, _ in unavailable)
    assert slowest <= BOUND, f"a 503 took {slowest:.1f} s"
    print(
        f"{len(unavailable)} answers 503 while down {resumed_at - stopped_at:.1f} s, slowest "
        f"{slowest:.2f} s; writes succeed {back_after:.2f} s after the database is back"
    )
    with server.client() as http:
        writers.resend_unanswered(http)  # the last ones sent when the clients were stopped
    for _ in range(8):  # every worker is ready again (each request a new connection)
        with server.client() as http:
            ready = http.get("/readyz")
            assert ready.status_code == 200, ready.text
    check_everything_acknowledged_is_stored(server, writers, tokens.headers("supervisor", DISTRICT))
    check_read_models_equal_a_rebuild(services, server.log)
