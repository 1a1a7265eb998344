"""The duties' process on SQLite (``HUYING_DUTIES_APART``, docs/operations.md): P1's load with
P5's probe (``bench/lag.py``) against `huying serve` with the projector, chain keeper and webhook
deliveries in the server's own process (0) and in its child (1), in turn, each on a fresh empty
store — and the CPU each process spent per raise (utime + stime from ``/proc/<pid>/stat`` around
the load, divided by the load's requests). CPU per raise is what a busy shared machine changes
least; requests/s and latencies move with whatever else runs.

    python -m bench.apart [--seconds 20] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import lag, servers, store, wrk

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds the process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime: the 14th and 15th fields


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def measure(apart: bool, work: Path, seconds: int, items: list[str], grids: list[str]) -> dict[str, Any]:
    empty = store.Store(
        f"apart{int(apart)}", work / f"apart{int(apart)}-{time.time_ns()}", "", store.backend_from(None), 0
    )
    empty.cli("migrate")
    with store.tokens(empty) as made:
        script = wrk.write_script(work / "ingest.lua", items, grids, made["supervisor LW"])
        probe = next(name for name in made if name.startswith("grid_worker "))
    env = empty.env | {"HUYING_DUTIES_APART": "1" if apart else "0"}
    with servers.huying(env, work / f"serve-apart{int(apart)}.log") as server:
        assert server.proc is not None
        pid = server.proc.pid
        deadline = time.monotonic() + 60
        while apart and not children(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(3)  # the child imported, migrated and holds its duties
        pids = [pid, *children(pid)]
        before = {p: cpu_seconds(p) for p in pids}
        found = lag.under_load(server.url, script, seconds, made[probe], items[0], probe.split(" ", 1)[1])
        spent = {p: cpu_seconds(p) - before[p] for p in pids}
    requests = found["load"]["requests"] + found["probes"]
    return {
        "apart": apart,
        "requests_per_s": found["load"]["requests_per_s"],
        "p99_ms": found["load"]["p99_ms"],
        "api_cpu_ms_per_raise": round(spent[pid] * 1000 / requests, 2),
        "child_cpu_ms_per_raise": round(
            sum(spent.values()) * 1000 / requests - spent[pid] * 1000 / requests, 2
        ),
        "p5_probe": {k: found.get(k) for k in ("n", "p50_ms", "p99_ms")},
        "p5_server": found["server"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    from huying.reference import load_catalog, load_org

    org = load_org()
    items = sorted(load_catalog(org).items)
    grids = [code for code, unit in org.units.items() if unit.kind == "grid"]
    with tempfile.TemporaryDirectory() as work:
        for run in range(args.repeat):
            for apart in (False, True):  # in turn, so both see the same machine
                print(f"[apart] run {run + 1}, HUYING_DUTIES_APART={int(apart)}", file=sys.stderr, flush=True)
                print(json.dumps(measure(apart, Path(work), args.seconds, items, grids)), flush=True)


if __name__ == "__main__":
    main()
