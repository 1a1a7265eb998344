"""P5: projection lag under P1 load — from a raise's commit to the read models showing it.

While wrk drives P1's load, a probe raises a call now and then (a grid worker's, in its own
grid: another client than the load's supervisor, so its requests do not wait their turn behind
the load's in that principal's share — ``api/limits.py``) and at once asks
``GET /api/v1/ledger?min_position=<the raise's position>``:
the server answers when its read models have reached that position (or 503 after its wait).
A sample is the time from the raise's 201 to that answer — the lag plus one read under load,
which waits its turn like any request of the saturated server.

The server measures the lag itself too, for every save of the load and the probes: from the
save's commit to the commit of the projector batch that holds it
(``huying_projection_visible_seconds`` on /metrics, ``huying.projections.lag``). Each worker
keeps its own histogram, labelled with its pid, and a scrape reaches one worker: every worker's
is read before and after the load (scrapes over new connections until each pid has answered),
and the samples in between summed; the p99 reported is the upper bound of the bucket holding the
99th percentile of those (an upper bound, never below the true p99). A worker that answered no
scrape, before or after, is left out and counted in ``workers_unread``.
"""

from __future__ import annotations

import math
import re
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench import wrk
from bench.reads import percentiles

PROBE_EVERY = 0.2  # seconds between probes


def under_load(
    url: str, script: Path, seconds: int, token: str, item: str, grid: str, workers: int = 1
) -> dict[str, Any]:
    load: dict[str, Any] = {}
    # Every worker's histogram read before the load starts: read under it, the scrapes of a
    # saturated server took the whole load's time once (PostgreSQL, 2026-12-06), and no probe ran.
    before = visible_buckets(url, workers)
    runner = threading.Thread(target=lambda: load.update(wrk.run(url, script, seconds)))
    runner.start()
    samples, behind, probe = [], 0, 0
    auth = {"Authorization": f"Bearer {token}"}
    body = {
        "item_code": item,
        "grid_code": grid,
        "title": "市民来电",
        "description": "探针",
        "channel": "grid_worker",
    }
    with httpx.Client(base_url=url, timeout=30.0) as client:
        time.sleep(min(2.0, seconds / 5))  # into the load first
        while runner.is_alive():
            probe += 1
            raised = client.post(
                "/api/v1/calls", json=body, headers=auth | {"Idempotency-Key": f"p5-{time.time_ns()}"}
            )
            committed = time.perf_counter()
            if raised.status_code != 201:
                behind += 1
                continue
            read = client.get(
                "/api/v1/ledger", params={"limit": 1, "min_position": raised.json()["position"]}, headers=auth
            )
            if read.status_code == 200:
                samples.append((time.perf_counter() - committed) * 1000)
            else:
                behind += 1
            time.sleep(PROBE_EVERY)
        runner.join()
        server = server_side(before, visible_buckets(url, workers), workers)
    return (percentiles(samples) if samples else {"n": 0}) | {
        "probes": probe,
        "not_visible": behind,
        "load": load,
        "server": server,
    }


_BUCKET = re.compile(
    r'^huying_projection_visible_seconds_bucket\{le="([^"]+)",pid="(\d+)"\} (\S+)$|'
    r'^huying_projection_visible_seconds_bucket\{pid="(\d+)",le="([^"]+)"\} (\S+)$',
    re.M,
)
SCRAPES_PER_WORKER = 25  # new connections tried per worker to reach every one of them

Buckets = dict[float, float]  # upper bound (s) → samples at or below


def visible_buckets(url: str, workers: int) -> dict[int, Buckets]:
    """Every worker's cumulative save → visible histogram, by pid: scraped over new connections
    (the kernel hands each to one worker) until ``workers`` pids have answered, or tries run out."""
    found: dict[int, Buckets] = {}
    for _ in range(SCRAPES_PER_WORKER * workers):
        with httpx.Client(base_url=url, timeout=30.0) as scraper:
            found |= histograms(scraper.get("/metrics").text)
        if len(found) >= workers:
            break
    return found


def histograms(metrics: str) -> dict[int, Buckets]:
    """The save → visible histograms in a /metrics text, by pid."""
    found: dict[int, Buckets] = {}
    for match in _BUCKET.finditer(metrics):
        le, pid, n = match.group(1, 2, 3) if match.group(1) else match.group(5, 4, 6)
        found.setdefault(int(pid), {})[float(le)] = float(n)
    return found


def server_side(before: dict[int, Buckets], after: dict[int, Buckets], workers: int) -> dict[str, Any]:
    """The samples between two readings of every worker: their count and the p50 / p99 as bucket
    upper bounds (ms; None when the server measured nothing — its projector runs in another
    process and no news of it reaches the workers)."""
    read = before.keys() & after.keys()
    totals: Buckets = {}
    for pid in read:
        for bound, below in after[pid].items():
            totals[bound] = totals.get(bound, 0.0) + below - before[pid].get(bound, 0.0)
    between = sorted(totals.items())
    n = int(between[-1][1]) if between else 0

    def upper(percent: int) -> float | None:
        if not n:
            return None
        rank = -(-percent * n // 100)
        bound = next(b for b, below in between if below >= rank)
        return bound * 1000 if math.isfinite(bound) else None

    return {"n": n, "p50_ms": upper(50), "p99_ms": upper(99), "workers_unread": workers - len(read)}
