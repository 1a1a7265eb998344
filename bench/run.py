"""``make bench`` / ``make bench-quick``: every metric of targets.md P1–P7 against its baseline,
measured in one run on SQLite and then on PostgreSQL, printed as one table and written to
``bench/results.json``.

    python -m bench.run --quick               # 10,000 stored calls, 10 s loads
    python -m bench.run                       # the real run: 1,000,000 stored calls, 30 s loads
    python -m bench.run --backends sqlite     # one backend only

PostgreSQL is the server ``HUYING_DATABASE_URL`` names, or else the benchmarks' own durable
cluster, kept under ``--cache`` and started for the run (``bench/postgres_cluster.py``). The
synthetic district of N calls is made once by ``huying seed --synthetic`` and cached under
``--cache`` (keyed by backend, N and seed), so later runs reuse it. Timings on a shared machine
lie: run this on an idle one.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import command_path, lag, reads, servers, store, wrk
from bench.rebuild import machine, source
from bench.report import (
    P4_P95_MS,
    P5_P99_MS,
    P6_P95_MS,
    Row,
    best,
    context_row,
    failed,
    latency_row,
    p1_rows,
    ratio_row,
    table,
)
from bench.servers import ROOT, clean_env


@dataclass(frozen=True)
class Sizes:
    calls: int  # stored synthetic calls for P4, P5, P6, P7
    seconds: int  # each wrk load
    repeat: int  # P1 huying / bare pairs
    p2_calls: int
    p2_repeat: int  # P2 runs of each side: a few seconds each, and fsync times on a VM vary
    reads: int  # requests per P4 / P6 measurement
    quick: bool


QUICK = Sizes(calls=10_000, seconds=10, repeat=1, p2_calls=300, p2_repeat=3, reads=100, quick=True)
FULL = Sizes(calls=1_000_000, seconds=30, repeat=3, p2_calls=2000, p2_repeat=3, reads=200, quick=False)


class Bench:
    def __init__(self, sizes: Sizes, backend: store.Backend, cache: Path, work: Path, seed: int) -> None:
        self.sizes, self.backend, self.cache, self.work, self.seed = sizes, backend, cache, work, seed
        self.rows: list[Row] = []
        self.raw: dict[str, Any] = {}
        self.logs = work / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        from huying.reference import load_catalog, load_org

        org = load_org()
        self.items = sorted(load_catalog(org).items)
        self.grids = [code for code, unit in org.units.items() if unit.kind == "grid"]

    def say(self, text: str) -> None:
        print(f"[bench] {text}", file=sys.stderr, flush=True)

    # --- P1 on an empty store, with its baselines; P2; P3 --------------------------------------

    def p1_empty(self) -> dict[str, Any]:
        empty = store.empty_store(self.backend, self.work)
        with store.tokens(empty) as made:
            script = wrk.write_script(self.work / "ingest.lua", self.items, self.grids, made["supervisor LW"])
        base_env = clean_env(BENCH_DB_URL=self.backend.baseline_url(self.work))
        runs: dict[str, list[dict[str, Any]]] = {"bare": [], "huying": []}
        for i in range(self.sizes.repeat):  # in turn, so both see the same machine
            self.say(f"P1 bare endpoint, run {i + 1}/{self.sizes.repeat}")
            runs["bare"].append(
                self._load(
                    servers.baseline("bare", base_env, self.logs / "bare.log", self.backend.workers), script
                )
            )
            self.say(f"P1 huying, empty store, run {i + 1}/{self.sizes.repeat}")
            runs["huying"].append(
                self._load(
                    servers.huying(empty.env, self.logs / "huying-empty.log", self.backend.workers), script
                )
            )
        for name in ("es_app", "crud"):
            self.say(f"P1 context: {name}")
            runs[name] = [
                self._load(
                    servers.baseline(name, base_env, self.logs / f"{name}.log", self.backend.workers), script
                )
            ]
        chosen = {name: best(r) for name, r in runs.items()}
        b = self.backend.name
        self.rows += p1_rows(b, chosen["huying"], chosen["bare"], self.backend.workers)
        for name, what in (
            ("es_app", "the obvious event-sourced app (plain Application)"),
            ("crud", "the obvious FastAPI + SQLAlchemy CRUD insert"),
        ):
            self.rows.append(context_row(what, b, chosen[name], chosen["bare"]))
        self.raw["p1"] = chosen
        return chosen["huying"]

    def _load(self, server: servers.Server, script: Path) -> dict[str, Any]:
        with server:
            return wrk.run(server.url, script, self.sizes.seconds)

    def p2(self) -> None:
        self.say(f"P2 command path, {self.sizes.p2_calls:,} calls × {self.sizes.p2_repeat}")
        found = command_path.measure(self.backend, self.sizes.p2_calls, self.sizes.p2_repeat)
        self.raw["p2"] = found
        self.rows.append(
            ratio_row(
                "P2 command path events/s",
                self.backend.name,
                found["huying_events_per_s"],
                found["plain_events_per_s"],
                0.7,
            )
        )

    def p3(self) -> None:
        self.say("P3 rebuild (bench/rebuild.py)")
        out = self.work / "p3.json"
        argv = [sys.executable, "-m", "bench.rebuild", "--backend", self.backend.name]
        argv += ["--out", str(out), "--no-breakdown"] + (["--quick"] if self.sizes.quick else [])
        # On PostgreSQL, this run's server: its logs are schemas of their own (bench_p3_…), dropped
        # by bench.rebuild when it ends, and by this run's end if it could not.
        url = {"HUYING_DATABASE_URL": self.backend.url} if self.backend.url else {}
        subprocess.run(argv, cwd=ROOT, env=clean_env(**url), check=True, stdout=subprocess.DEVNULL)
        found = json.loads(out.read_text())
        self.raw["p3"] = found
        m, t = found["measurements"], found["targets"]
        self.rows.append(
            ratio_row(
                "P3 rebuild events/s",
                self.backend.name,
                m["rebuild_full"]["events_per_s"],
                m["baseline_full"]["events_per_s"],
                0.4,
            )
        )
        self.rows.append(
            Row(
                "P3 rebuild peak RSS full ÷ 1/10",
                self.backend.name,
                f"{t['rss_ratio']:.2f}",
                "—",
                "—",
                "≤ 1.5",
                t["rss_ok"],
            )
        )

    # --- with N calls stored: P4, P6, P5, P7 --------------------------------------------------------

    def stored(self) -> None:
        self.say(f"a synthetic district of {self.sizes.calls:,} calls (cached under {self.cache})")
        district, made = store.synthetic_store(
            self.backend, self.cache, self.work, self.sizes.calls, self.seed
        )
        self.raw["store"] = made
        with store.tokens(district) as tokens:
            server = servers.huying(district.env, self.logs / "huying-district.log", self.backend.workers)
            with server:
                self.say("P4 reads")
                self.raw["p4"] = reads.p4(server.url, tokens, self.items, self.sizes.reads)
                self.say("P6 one 50-event call's history and past")
                self.raw["p6"] = reads.p6(server.url, tokens, self.sizes.reads)
                self.say("P5 projection lag under P1 load")
                # The probe is a grid worker of its own grid: another client than the load's
                # supervisor, so it never waits its turn behind the load in that principal's share.
                probe = next(name for name in tokens if name.startswith("grid_worker "))
                self.raw["p5"] = lag.under_load(
                    server.url,
                    self.script_for(tokens),
                    self.sizes.seconds,
                    tokens[probe],
                    self.items[0],
                    probe.split(" ", 1)[1],
                    self.backend.workers,
                )
        self.raw["p7"] = self.p7()
        self._stored_rows(self.raw["p7"]["stored"], self.raw["p7"]["empty"])

    def p7(self) -> dict[str, Any]:
        """P1 on a copy of the district and on an empty store, both P7's own, in turn, each load
        on a fresh server (as P1's): both sides see the same minutes of this noisy machine, and
        each starts with as many of its own loads before it, so they differ by the district's
        history alone. Until 2026-12-05 the empty side was P1's own figure, measured minutes
        earlier: most of P7's spread from pass to pass was that one load's. Until 2026-12-07 the
        stored side was the district P5 had just loaded: it alone started with P5's thousands of
        raises of the last seconds among the recent calls each raise's duplicate hints look at."""
        district, _ = store.synthetic_store(
            self.backend, self.cache, self.work / "p7", self.sizes.calls, self.seed
        )
        with store.tokens(district) as made:
            script = self.script_for(made, "ingest-p7-stored.lua")
        empty = store.empty_store(self.backend, self.work, "empty_p7")
        with store.tokens(empty) as made:
            empty_script = self.script_for(made, "ingest-p7-empty.lua")
        loads: dict[str, list[dict[str, Any]]] = {"stored": [], "empty": []}
        for i in range(self.sizes.repeat):  # the best of as many on each side
            for side, home, lua in (("stored", district, script), ("empty", empty, empty_script)):
                self.say(f"P7 P1 on the {side} store, run {i + 1}/{self.sizes.repeat}")
                log = self.logs / f"huying-p7-{side}.log"
                loads[side].append(self._load(servers.huying(home.env, log, self.backend.workers), lua))
        return {side: best(runs) for side, runs in loads.items()}

    def script_for(self, tokens: dict[str, str], name: str = "ingest-district.lua") -> Path:
        """P1's load, as the supervisor whose token is among ``tokens``."""
        return wrk.write_script(self.work / name, self.items, self.grids, tokens["supervisor LW"])

    def _stored_rows(self, loaded: dict[str, Any], empty: dict[str, Any]) -> None:
        b, n = self.backend.name, f"{self.sizes.calls:,}"
        for name, figures in self.raw["p4"].items():
            self.rows.append(latency_row(f"P4 {name} ({n} calls)", b, figures, "p95_ms", P4_P95_MS))
        self.rows.append(
            latency_row(
                f"P5 projection lag under P1 load ({n} calls)", b, self.raw["p5"], "p99_ms", P5_P99_MS
            )
        )
        self.rows.append(
            latency_row(
                f"P5 save → visible, as the server measures ({n} calls)",
                b,
                self.raw["p5"]["server"],
                "p99_ms",
                P5_P99_MS,
            )
        )
        for name in ("history", "as_of", "version"):
            self.rows.append(
                latency_row(f"P6 50-event call: {name}", b, self.raw["p6"][name], "p95_ms", P6_P95_MS)
            )
        row = ratio_row(
            f"P7 P1 requests/s with {n} calls ÷ empty",
            b,
            loaded["requests_per_s"],
            empty["requests_per_s"],
            0.9,
        )
        runs = [*loaded["runs"], *empty["runs"]]
        self.rows.append(row if not any(map(failed, runs)) else replace(row, met=False))


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few minutes: 10,000 stored calls, 10 s loads")
    parser.add_argument("--calls", type=int, help="synthetic calls stored for P4–P7 (default 1,000,000)")
    parser.add_argument("--seconds", type=int, help="length of each wrk load")
    parser.add_argument("--seed", type=int, default=1, help="the synthetic district's seed")
    parser.add_argument(
        "--cache", type=Path, default=ROOT / "var" / "bench-stores", help="synthetic stores kept here"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.json")
    parser.add_argument("--keep", type=Path, help="work here and keep it (logs, copies); default: a temp dir")
    parser.add_argument(
        "--backends",
        type=lambda text: text.split(","),
        default=list(store.BACKENDS),
        help="sqlite,postgresql (both, in that order) or either one",
    )
    parser.add_argument(
        "--only",
        type=lambda text: set(text.split(",")),
        default={"p1", "p2", "p3", "stored"},
        help="some of p1,p2,p3,stored (stored: P4–P7 on the synthetic district)",
    )
    return parser.parse_args(argv)


def measure(bench: Bench, only: set[str]) -> None:
    if "p2" in only:
        bench.p2()
    if "p3" in only:
        bench.p3()
    if "p1" in only:
        bench.p1_empty()
    if "stored" in only:
        bench.stored()


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    base = QUICK if args.quick else FULL
    sizes = replace(base, calls=args.calls or base.calls, seconds=args.seconds or base.seconds)
    wrk.ensure_wrk()
    work = args.keep or Path(tempfile.mkdtemp(prefix="huying-bench-"))
    started = datetime.now(UTC)
    rows: list[Row] = []
    raw: dict[str, Any] = {}
    try:
        for name in args.backends:
            with store.backend_named(name, args.cache, os.environ.get("HUYING_DATABASE_URL")) as backend:
                bench = Bench(sizes, backend, args.cache, work / backend.name, args.seed)
                bench.say(f"--- {backend.name} ---")
                try:
                    measure(bench, args.only)
                finally:
                    rows += bench.rows
                    raw[backend.name] = bench.raw
                    dropped = store.drop_run_schemas(backend, started.timestamp())
                    if dropped:
                        bench.say(f"dropped this run's schemas: {', '.join(dropped)}")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    results = {
        "benchmark": "huying P1–P7 (targets.md), each against its baseline in the same run",
        "date": started.isoformat(timespec="seconds"),
        "machine": machine(),
        "source": source(),
        "backends": list(raw),
        "sizes": asdict(sizes),
        "rows": [r.as_json() for r in rows],
        "raw": raw,
    }
    print(table(rows))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str) + "\n")
    print(f"written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
