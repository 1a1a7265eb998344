"""封印 benchmark: what sealing costs per event, against the library's plain mapper, in-process.

    python -m bench.seal                 # 20,000 events of realistic call histories, 7 rounds
    python -m bench.seal --events 5000 --rounds 3

1. Writes realistic call histories (``tests/integration/histories.py``, many calls per
   transaction) through huying's application into a temporary store, so every event is sealed.
2. Takes the stored notifications and, for a like-for-like baseline, the same events unsealed
   (their states without the seal: what the plain mapper would have stored).
3. Times, in one process, round after round taking turns (the fastest round counts: noise only
   ever slows a round down; the median of each round's own ratio is reported beside it):
   - decode: the library's ``Mapper.to_domain_event`` over the unsealed notifications vs.
     huying's ``SealingMapper.to_domain_event`` over the sealed ones (seal checked: key, MAC,
     and that each lies beyond the position its writer had seen);
   - encode: ``Mapper.to_stored_event`` vs. ``SealingMapper.to_stored_event`` of the same events.
   Both mappers use the application's own transcoder.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.rebuild import ROOT, START, machine, source, store_settings


def write_log(directory: Path, events: int) -> Any:
    sys.path.insert(0, str(ROOT / "tests"))
    import random

    from huying.bootstrap import build_services
    from huying.clock import FakeClock
    from huying.migrate import upgrade
    from integration.histories import Shape, write_in_batches

    settings = store_settings(directory)
    upgrade(settings)
    clock = FakeClock(start=START)
    services = build_services(settings, clock)
    write_in_batches(
        services, clock, random.Random(12345), Shape.tame(calls=max(events // 7, 10), concurrency=300)
    )
    return services


def rate(work: Callable[[], int]) -> float:
    started = time.perf_counter()
    n = work()
    return n / (time.perf_counter() - started)


def measure(notifications: Sequence[Any], app: Any, rounds: int) -> dict[str, Any]:
    from dataclasses import replace

    from eventsourcing.persistence import Mapper

    from huying.audit.seal import split

    plain = Mapper(transcoder=app.construct_transcoder())
    sealing = app.mapper
    unsealed = [replace(n, state=split(n.state)[0]) for n in notifications]
    events = [sealing.to_domain_event(n) for n in notifications]

    def decode(mapper: Any, stored: Sequence[Any]) -> Callable[[], int]:
        return lambda: sum(1 for n in stored if mapper.to_domain_event(n) is not None)

    def encode(mapper: Any) -> Callable[[], int]:
        return lambda: sum(1 for e in events if mapper.to_stored_event(e) is not None)

    runs: dict[str, list[float]] = {
        k: [] for k in ("decode plain", "decode sealed", "encode plain", "encode sealed")
    }
    for _ in range(rounds):  # taking turns, so that a busy moment hurts both sides alike
        runs["decode plain"].append(rate(decode(plain, unsealed)))
        runs["decode sealed"].append(rate(decode(sealing, notifications)))
        runs["encode plain"].append(rate(encode(plain)))
        runs["encode sealed"].append(rate(encode(sealing)))
    best = {k: max(v) for k, v in runs.items()}
    # Each round's own ratio (its two sides ran back to back), the median of the rounds.
    per_round = {
        kind: statistics.median(
            p / q for p, q in zip(runs[f"{kind} plain"], runs[f"{kind} sealed"], strict=True)
        )
        for kind in ("decode", "encode")
    }
    return {
        "events": len(notifications),
        "state_bytes_mean": sum(len(n.state) for n in unsealed) / len(unsealed),
        "events_per_s": best,
        "us_per_event": {k: 1e6 / v for k, v in best.items()},
        "sealed_cost_ratio": {
            "decode": best["decode plain"] / best["decode sealed"],
            "encode": best["encode plain"] / best["encode sealed"],
        },
        "sealed_cost_ratio_median_of_rounds": per_round,
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "seal-results.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="huying-seal-") as d:
        services = write_log(Path(d), args.events)
        try:
            recorder = services.app.recorder
            notifications = recorder.select_notifications(start=1, limit=args.events)
            result = measure(notifications, services.app, args.rounds)
        finally:
            services.close()
    result.update(source=source(), machine=machine(), load_average=os.getloadavg())
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    us, ratio = result["us_per_event"], result["sealed_cost_ratio"]
    print(f"{result['events']:,} events, {result['state_bytes_mean']:.0f} state bytes on average")
    for kind in ("decode", "encode"):
        print(
            f"{kind}: plain {us[f'{kind} plain']:.1f} µs/event, sealed {us[f'{kind} sealed']:.1f} µs/event "
            f"→ sealed costs {ratio[kind]:.2f}× the plain mapper "
            f"(median of the rounds' own ratios: {result['sealed_cost_ratio_median_of_rounds'][kind]:.2f}×)"
        )
    print(f"load average during the run: {result['load_average']}")


if __name__ == "__main__":
    main()
