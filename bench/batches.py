"""The projector's CPU per event in live-sized batches: what the duties' process spends keeping
the read models (and their tallies) in step with a stream of raises, without the HTTP load
around it.

    python -m bench.batches                          # 2,000 raises on an empty SQLite store
    python -m bench.batches --on var/bench-stores/sqlite-n100000-seed1 --batch 10 --repeat 3

1. Raises ``--raises`` hotline calls (random items and grids, a caller's contact, an
   Idempotency-Key each) through ``CallService.raise_call`` on a fresh store — or on a copy of
   the store ``--on`` names (a synthetic district, say) — with no projector running.
2. ``--repeat`` times, each in a fresh process on a fresh copy of that store: the projector
   projects those events ``--batch`` at a time (under P1's load its batches hold ~5–20 raises),
   and the process's CPU time (``time.process_time``) is divided by the events.

CPU time is what a shared machine disturbs least; still, compare two versions of the code by
running them in turn (``PYTHONPATH=<worktree>/src python -m bench.batches``), not a figure with
one written down. SQLite only.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

START = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # Monday 09:00 in Guangzhou


def _settings(directory: Path) -> Any:
    from huying.settings import Settings

    return Settings(data_dir=directory, demo=True, fake_clock=True, run_projector=False, run_watchdog=False)


def raise_calls(directory: Path, raises: int, seed: int) -> None:
    """``raises`` hotline raises stored, none projected."""
    from huying.bootstrap import build_services
    from huying.clock import FakeClock
    from huying.domain.contact import Contact
    from huying.domain.org import UnitKind
    from huying.domain.principal import Principal, Role
    from huying.migrate import upgrade
    from huying.service_layer.calls import CallDraft
    from huying.service_layer.command_path import Submission

    upgrade(_settings(directory))
    services = build_services(_settings(directory), FakeClock(start=START))
    org = services.app.org
    grids = [u.code for u in org.of_kind(UnitKind.GRID)]
    items = sorted(services.app.catalog.items)
    rng = random.Random(seed)
    supervisor = Principal(Role.SUPERVISOR, "LW")
    for i in range(raises):
        draft = CallDraft(
            item_code=rng.choice(items),
            grid_code=rng.choice(grids),
            title="路灯不亮",
            description="夜间无照明",
            channel="hotline",
            reporter=Contact("陈先生", f"1390000{i % 10_000:04d}"),
        )
        services.calls.raise_call(supervisor, draft, Submission(key=f"bench-batches-{seed}-{i}"))
    services.close()


def project(directory: Path, batch: int) -> dict[str, float]:
    """Projects what is stored ``batch`` events at a time; CPU and wall milliseconds per event."""
    from huying.bootstrap import build_services
    from huying.clock import FakeClock

    services = build_services(_settings(directory), FakeClock(start=START))
    projector = services.projector
    cpu, wall, events = time.process_time(), time.perf_counter(), 0
    while done := projector.run_once(limit=batch):
        events += done
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    services.close()
    return {
        "events": events,
        "cpu_ms_per_event": cpu * 1e3 / events,
        "wall_ms_per_event": wall * 1e3 / events,
    }


def _in_child(source: Path, batch: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="huying-batches-") as d:
        copy = Path(d) / "store"
        shutil.copytree(source, copy)
        argv = [sys.executable, "-m", "bench.batches", "--project", str(copy), "--batch", str(batch)]
        done = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=3600)
        measured: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
        return measured


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.batches", description=__doc__.splitlines()[0])
    parser.add_argument("--raises", type=int, default=2_000)
    parser.add_argument("--batch", type=int, default=10, help="events per projector batch")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--on", type=Path, help="a SQLite store (directory) to raise into a copy of")
    parser.add_argument("--project", type=Path, help=argparse.SUPPRESS)  # the child's part
    args = parser.parse_args()
    if args.project is not None:
        print(json.dumps(project(args.project, args.batch)))
        return
    with tempfile.TemporaryDirectory(prefix="huying-batches-") as d:
        store = Path(d) / "raised"
        if args.on is not None:
            shutil.copytree(args.on, store)
        raise_calls(store, args.raises, args.seed)
        runs = [_in_child(store, args.batch) for _ in range(args.repeat)]
    best = min(runs, key=lambda r: r["cpu_ms_per_event"])
    print(
        json.dumps(
            {
                "raises": args.raises,
                "batch": args.batch,
                "on": str(args.on) if args.on else "an empty store",
                "cpu_ms_per_event": round(best["cpu_ms_per_event"], 3),
                "runs_cpu_ms_per_event": [round(r["cpu_ms_per_event"], 3) for r in runs],
                "wall_ms_per_event": round(best["wall_ms_per_event"], 3),
            }
        )
    )


if __name__ == "__main__":
    main()
