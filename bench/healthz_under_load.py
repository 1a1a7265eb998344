"""/healthz while one token does its worst (targets.md, reliability: "No single client can stall
the server"; issue 10's check: no request from one token delays /healthz past 250 ms).

    python -m bench.healthz_under_load                # each attack for 10 s
    python -m bench.healthz_under_load --seconds 20

Starts `huying serve` on a fresh data directory with a call, then runs each attack from ONE
grid-worker token while a separate connection asks /healthz every 50 ms, and reports the
/healthz latency (p50, p99, max) and what the attacker's requests were answered. Attacks
(``none`` first: the same probe with nobody attacking, the baseline):

- waits: 60 reads at once with ``min_position`` beyond the log's head, again and again;
- flood: 200 reads of a call at once, again and again;
- expensive: 20 searches and 20 dashboards at once, again and again;
- bad tokens: 100 requests at once with a wrong token, again and again;
- slowloris: 200 connections dribbling a request head.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from bench.serving import GRID, served

RAISE = {
    "item_code": "C01-01",
    "grid_code": GRID,
    "title": "人行道地砖松动",
    "description": "多块地砖松动，雨天溅水。",
    "channel": "grid_worker",
}


PROBE = """
import json, sys, time, httpx
base, seconds = sys.argv[1], float(sys.argv[2])
latencies = []
with httpx.Client(base_url=base, timeout=60) as http:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.perf_counter()
        http.get("/healthz")
        latencies.append((time.perf_counter() - started) * 1000)
        time.sleep(0.05)
print(json.dumps(latencies))
"""


async def probe(base: str, seconds: float) -> list[float]:
    """/healthz every 50 ms from a process of its own (the attacker's event loop is busy);
    latencies in ms."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", PROBE, base, str(seconds), stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    latencies: list[float] = json.loads(out)
    return latencies


async def again_and_again(n: int, one: Callable[[], Awaitable[int]], stop: asyncio.Event) -> Counter[int]:
    answers: Counter[int] = Counter()

    async def worker() -> None:
        while not stop.is_set():
            try:
                answers[await one()] += 1
            except httpx.HTTPError as e:
                answers[type(e).__name__] += 1  # type: ignore[index]

    await asyncio.gather(*(worker() for _ in range(n)))
    return answers


async def slowloris(base: str, n: int, stop: asyncio.Event) -> Counter[int]:
    host, port = base.removeprefix("http://").split(":")
    cut: Counter[Any] = Counter()

    async def one() -> None:
        while not stop.is_set():
            try:
                reader, writer = await asyncio.open_connection(host, int(port))
                writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                while not stop.is_set():
                    writer.write(b"z")
                    await writer.drain()
                    try:
                        if await asyncio.wait_for(reader.read(1), 1.0) == b"":
                            cut["closed by the server"] += 1
                            break
                    except TimeoutError:
                        pass
                writer.close()
            except OSError:
                cut["refused"] += 1
                await asyncio.sleep(0.1)

    await asyncio.gather(*(one() for _ in range(n)))
    return cut


async def attack(base: str, token: str, name: str, seconds: float, call_id: str) -> dict[str, Any]:
    stop = asyncio.Event()
    auth = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=300, max_keepalive_connections=300)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as http:

        async def get(path: str, headers: dict[str, str] = auth) -> int:
            return (await http.get(path, headers=headers)).status_code

        attacks: dict[str, Callable[[], Awaitable[Any]]] = {
            "none": lambda: again_and_again(0, lambda: get("/healthz"), stop),
            "waits": lambda: again_and_again(
                60, lambda: get(f"/api/v1/calls/{call_id}/possible-duplicates?min_position=999999"), stop
            ),
            "flood": lambda: again_and_again(200, lambda: get(f"/api/v1/calls/{call_id}"), stop),
            "expensive": lambda: again_and_again(
                40,
                lambda: (
                    get("/api/v1/calls?limit=500")
                    if time.perf_counter_ns() % 2
                    else get("/api/v1/dashboards/sla")
                ),
                stop,
            ),
            "bad tokens": lambda: again_and_again(
                100, lambda: get("/api/v1/calls", {"Authorization": "Bearer hy_guess"}), stop
            ),
            "slowloris": lambda: slowloris(base, 200, stop),
        }
        attacker = asyncio.ensure_future(attacks[name]())
        await asyncio.sleep(1.0)  # the attack in full swing before measuring
        latencies = await probe(base, seconds)
        stop.set()
        answers = await attacker
    return {
        "healthz_ms": {
            "n": len(latencies),
            "p50": statistics.median(latencies) if latencies else None,
            "p99": statistics.quantiles(latencies, n=100, method="inclusive")[98]
            if len(latencies) > 1
            else None,
            "max": max(latencies, default=None),
        },
        "attacker_answers": {str(k): v for k, v in answers.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--code", help="PYTHONPATH for the server, e.g. another checkout's src")
    parser.add_argument("--out", type=Path, default=Path("bench/healthz-under-load.json"))
    parser.add_argument("--set", action="append", default=[], help="HUYING_X=value for the server")
    parser.add_argument("--only", action="append", help="run only these attacks")
    args = parser.parse_args()
    settings = dict(item.split("=", 1) for item in args.set)
    results: dict[str, Any] = {}
    print(f"{'attack':12} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}  attacker's answers")
    for name in args.only or ("none", "waits", "flood", "expensive", "bad tokens", "slowloris"):
        with served(settings, args.code) as server:
            auth = {"Authorization": f"Bearer {server.token}"}
            call_id = httpx.post(f"{server.base_url}/api/v1/calls", headers=auth, json=RAISE).json()["id"]
            got = asyncio.run(attack(server.base_url, server.token, name, args.seconds, call_id))
        results[name] = got
        h = {k: float("nan") if v is None else v for k, v in got["healthz_ms"].items()}
        print(f"{name:12} {h['p50']:8.1f} {h['p99']:8.1f} {h['max']:8.1f}  {got['attacker_answers']}")
    args.out.write_text(json.dumps({"seconds": args.seconds, "attacks": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
