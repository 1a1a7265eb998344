"""P5: projection lag under P1 load — from a raise's commit to the read models showing it.

While wrk drives P1's load, a probe raises a call now and then (a grid worker's, in its own
grid: another client than the load's supervisor, so its requests do not wait their turn behind
the load's in that principal's share — ``api/limits.py``) and at once asks
``GET /api/v1/ledger?min_position=<the raise's position>``:
the server answers when its read models have reached that position (or 503 after its wait).
A sample is the time from the raise's 201 to that answer — the lag plus one read under load.
"""

from __future__ import annotations

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
    return (percentiles(samples) if samples else {"n": 0}) | {
        "probes": probe,
        "not_visible": behind,
        "load": load,
    }
