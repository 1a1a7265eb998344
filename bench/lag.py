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
(``huying_projection_visible_seconds`` on /metrics, ``huying.projections.lag``). Its histogram is
read before and after the load; the p99 reported is the upper bound of the bucket holding the
99th percentile of the samples in between (an upper bound, never below the true p99).
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


def under_load(url: str, script: Path, seconds: int, token: str, item: str, grid: str) -> dict[str, Any]:
    load: dict[str, Any] = {}
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
        before = visible_buckets(client)
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
        server = server_side(before, visible_buckets(client))
    return (percentiles(samples) if samples else {"n": 0}) | {
        "probes": probe,
        "not_visible": behind,
        "load": load,
        "server": server,
    }


_BUCKET = re.compile(r'^huying_projection_visible_seconds_bucket\{le="([^"]+)"\} (\S+)$', re.M)


def visible_buckets(client: httpx.Client) -> dict[float, float]:
    """The server's cumulative save → visible histogram: upper bound (s) → samples at or below."""
    text = client.get("/metrics").text
    return {float(le): float(n) for le, n in _BUCKET.findall(text)}


def server_side(before: dict[float, float], after: dict[float, float]) -> dict[str, Any]:
    """The samples between two readings: their count and the p50 / p99 as bucket upper bounds
    (ms; None when the server measured nothing — its projector runs in another process)."""
    between = sorted((bound, after[bound] - before.get(bound, 0.0)) for bound in after)
    n = int(between[-1][1]) if between else 0

    def upper(percent: int) -> float | None:
        if not n:
            return None
        rank = -(-percent * n // 100)
        bound = next(b for b, below in between if below >= rank)
        return bound * 1000 if math.isfinite(bound) else None

    return {"n": n, "p50_ms": upper(50), "p99_ms": upper(99)}
