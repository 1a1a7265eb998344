"""P2: the in-process command path — raise → acknowledge → resolve, one transaction per command
as a server stores them — against the library's plain ``Application`` saving as many events,
one per transaction, for a trivial aggregate on the same backend.

Each side runs in its own fresh process, the runs alternate, and the fastest run counts (noise
on a shared machine only ever slows a run down). The projector is not running: this is the
write path alone.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from bench.servers import ROOT, clean_env
from bench.store import Backend

EVENTS_PER_CALL = 3


class Trivial(Aggregate):
    @event("Opened")
    def __init__(self, name: str) -> None:
        self.name = name
        self.step = 0

    @event("Stepped")
    def step_on(self) -> None:
        self.step += 1


def plain(directory: Path, calls: int) -> float:
    """Seconds the plain Application takes to store ``calls`` × 3 events, one save each."""
    from huying.migrate import upgrade
    from huying.settings import Settings

    settings = Settings(data_dir=directory, demo=True)
    upgrade(settings)  # the same fresh, migrated store huying's side gets (on PostgreSQL: its schema)
    app = Application[UUID](env=settings.eventsourcing_env())
    started = time.perf_counter()
    for i in range(calls):
        thing = Trivial(f"call {i}")
        app.save(thing)
        for _ in range(EVENTS_PER_CALL - 1):
            thing.step_on()
            app.save(thing)
    elapsed = time.perf_counter() - started
    app.close()
    return elapsed


def huying(directory: Path, calls: int) -> float:
    """Seconds huying's application takes for ``calls`` raise → acknowledge → resolve."""
    from datetime import UTC, datetime

    from huying.bootstrap import build_services
    from huying.clock import FakeClock
    from huying.domain.org import UnitKind
    from huying.domain.principal import Principal, Role
    from huying.migrate import upgrade
    from huying.service_layer.calls import CallDraft
    from huying.service_layer.command_path import Submission
    from huying.settings import Settings

    settings = Settings(
        data_dir=directory, demo=True, fake_clock=True, run_projector=False, run_watchdog=False
    )
    upgrade(settings)
    services = build_services(settings, FakeClock(start=datetime(2026, 11, 23, 1, 0, tzinfo=UTC)))
    app, org = services.app, services.app.org
    grids = [u.code for u in org.of_kind(UnitKind.GRID)]
    items = sorted(app.catalog.items)
    started = time.perf_counter()
    for i in range(calls):
        grid = grids[i % len(grids)]
        community = Principal(Role.COMMUNITY, org.community_of(grid))
        draft = CallDraft(
            item_code=items[i % len(items)],
            grid_code=grid,
            title="路灯不亮",
            description="夜间无照明",
            channel="hotline",
        )
        call = services.calls.raise_call(Principal(Role.GRID_WORKER, grid), draft, Submission()).call
        services.calls.acknowledge(community, call.id, Submission(), None)
        services.calls.resolve(community, call.id, Submission(), "已修复")
    elapsed = time.perf_counter() - started
    services.close()
    return elapsed


def measure(backend: Backend, calls: int, repeat: int) -> dict[str, Any]:
    """Both sides, alternating, each run in a fresh process on a fresh store."""
    runs: dict[str, list[float]] = {"huying": [], "plain": []}
    for i in range(repeat):
        for side in runs:
            runs[side].append(_in_child(backend, side, calls, f"bench_p2_{side}_{i}_{int(time.time())}"))
    best = {side: calls * EVENTS_PER_CALL / min(seconds) for side, seconds in runs.items()}
    return {
        "calls": calls,
        "events": calls * EVENTS_PER_CALL,
        "huying_events_per_s": round(best["huying"]),
        "plain_events_per_s": round(best["plain"]),
        "ratio": round(best["huying"] / best["plain"], 3),
        "runs_seconds": {side: [round(s, 3) for s in seconds] for side, seconds in runs.items()},
        "backend": backend.name,
    }


def _in_child(backend: Backend, side: str, calls: int, schema: str) -> float:
    with tempfile.TemporaryDirectory(prefix=f"huying-p2-{side}-") as d:
        argv = [sys.executable, "-m", "bench.command_path", side, d, str(calls)]
        env = clean_env(
            **{k: v for k, v in backend.env(Path(d), schema).items() if k.startswith("HUYING_DATABASE")}
        )
        done = subprocess.run(
            argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"P2 {side} failed:\n{done.stderr[-3000:]}")
        return float(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.command_path")
    parser.add_argument("side", choices=["huying", "plain"])
    parser.add_argument("dir", type=Path)
    parser.add_argument("calls", type=int)
    args = parser.parse_args()
    print(json.dumps((huying if args.side == "huying" else plain)(args.dir, args.calls)))


if __name__ == "__main__":
    main()
