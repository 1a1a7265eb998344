"""Instructions per event in the duties' process, counted by valgrind's callgrind: the projector
(in batches of ``--batch``, as a live projector takes the saves that came while it worked) and
the chain keeper (in batches of ``--chain-batch``), each over 300 and 900 events of a copy of
one store, the difference divided by the 600 between them, so that start-up and imports cancel
out. ``bench.instructions`` counts the API process's side of a raise the same way.

    python -m bench.projection_instructions                      # a store of 2,000 raises
    python -m bench.projection_instructions --store var/bench-stores/sqlite-n10000-seed1
    python -m bench.projection_instructions --code <worktree>/src  # another commit's code

The default store holds raises alone, as P1's load writes; a synthetic district (``--store``,
what ``make bench-quick`` caches) holds every kind of event, acknowledgements, dispatches and
evaluations among them. Each count starts from no read models (the projector is reset, the
tallies counted from nothing on) and from an unchained log (the seeded store's own); a
synthetic district's chain is already kept, so only the projector is counted there.

Time on these shared machines moves by a third within the hour; a count of instructions does
not (runs of the same code agree within ~1% for the projector, ~6% for the chain keeper). It is
not time: a cache miss counts as one instruction, and an fsync as nothing. SQLite only. Needs
valgrind (``apt-get install -y valgrind``); each count takes a minute or two.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.instructions import collected, per_raise

EVENTS = (300, 900)  # each count's events, after the first batch


def count(duty: str, store: Path, events: int, batch: int, code: str | None) -> int:
    """The instructions of one run: ``duty`` over ``events`` events of a copy of ``store``."""
    argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable]
    argv += ["-m", "bench.projection_instructions", "--run", duty, str(store), str(events), str(batch)]
    env = dict(os.environ) | ({"PYTHONPATH": code} if code else {})
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    return collected(done.stderr)


def run(duty: str, store: Path, events: int, batch: int) -> None:
    """What is counted: ``duty`` ("projector" or "chain") on a copy of ``store``, from the
    start, ``events`` events in batches of ``batch`` after a first batch of 50."""
    from bench.inprocess import api_services
    from huying.duties import settle_the_collector

    with tempfile.TemporaryDirectory(prefix="huying-duty-") as scratch:
        work = Path(scratch) / "store"
        shutil.copytree(store, work)
        # The same deployment as the API's count (no duties running beside), its schemas up to date.
        with api_services(work, argparse.Namespace()) as services:
            settle_the_collector()  # as `huying project` runs
            if duty == "projector":
                projector = services.projector
                projector.reset()
                with projector.engine.begin() as conn:
                    projector.tallies.in_step_at(conn, 0)  # counted batch by batch, as live
                step = projector.run_once
            else:
                step = services.chain.run_once
            step(50)
            done = 0
            while done < events:
                got = step(batch)
                if not got:
                    sys.exit(f"the log ran out after {done} events")
                done += got


def seeded(directory: Path, raises: int) -> Path:
    """A store of ``raises`` raises (``bench.inprocess``'s load, its read models not built)."""
    import bench.inprocess as inprocess

    args = argparse.Namespace(raises=raises, concurrency=16, warm=0, seed=1, bare=False)
    inprocess.measure(directory, args)
    return directory


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.projection_instructions", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--store", help="a store to copy (default: one of --raises raises, made here)")
    parser.add_argument("--raises", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=10, help="the projector's batch")
    parser.add_argument("--chain-batch", type=int, default=100, help="the chain keeper's batch")
    parser.add_argument("--code", help="a PYTHONPATH to take huying's code from (another worktree's src)")
    parser.add_argument(
        "--run", nargs=4, metavar=("DUTY", "STORE", "EVENTS", "BATCH"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.run:
        duty, store, events, batch = args.run
        run(duty, Path(store), int(events), int(batch))
        return
    if shutil.which("valgrind") is None:
        sys.exit("bench.projection_instructions needs valgrind: apt-get install -y valgrind")
    with tempfile.TemporaryDirectory(prefix="huying-duties-") as scratch:
        store = Path(args.store) if args.store else seeded(Path(scratch) / "seed", args.raises)
        duties = {"projector": args.batch} | ({} if args.store else {"chain": args.chain_batch})
        found = {}
        for duty, batch in duties.items():
            small, large = (count(duty, store, n, batch, args.code) for n in EVENTS)
            found[duty] = round(per_raise((EVENTS[0], small), (EVENTS[1], large)))
    print(
        json.dumps(
            {"instructions_per_event": found, "batches": duties, "store": args.store, "code": args.code}
        )
    )


if __name__ == "__main__":
    main()
