"""Instructions per raise in the API process, counted by valgrind's callgrind: ``bench.inprocess``
run at two sizes, the difference divided by the raises between them, so that start-up, imports
and the warm-up cancel out. Against the same count for P1's bare endpoint.

    python -m bench.instructions                       # huying and the bare endpoint, 200 and 600 raises
    python -m bench.instructions --only huying --code <worktree>/src   # another commit's code
    python -m bench.instructions --only huying --backend postgresql    # one API worker on PostgreSQL

Time on these shared machines moves by a third within the hour, and a change worth 5% of a
raise is lost in that. An instruction count does not move with the machine's load, only with
which saves the group commit gathers (valgrind runs one thread at a time, and how it meets the
disk's syncs varies): runs of the same code move by a few percent, so compare the means of a
few runs of each version, in turn. It is not time (a cache miss counts as one instruction), and
the groups differ from those under real load: use it to compare code, and requests/s (``make
bench``) to say how fast huying is.

On PostgreSQL (``--backend postgresql``: the server ``HUYING_DATABASE_URL`` names, or the
benchmarks' own cluster, started for the count) each run stores in a schema of its own, dropped
after it. The server's own work is not counted: the count is one API worker's, what psycopg and
huying spend in Python around each statement. The runs go one after the other there, as the
group commit's groups (and so the statements a raise costs) depend on what runs beside.

Needs valgrind (``apt-get install -y valgrind``); each run takes a minute or two (several on
PostgreSQL).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

COLLECTED = re.compile(r"^==\d+== Collected : (\d+)$", re.MULTILINE)


def collected(stderr: str) -> int:
    """The instructions callgrind counted, from what it wrote on exit."""
    found = COLLECTED.search(stderr)
    if found is None:
        raise RuntimeError(f"callgrind said no total:\n{stderr[-2000:]}")
    return int(found.group(1))


def per_raise(small: tuple[int, int], large: tuple[int, int]) -> float:
    """Instructions per raise between two runs of (raises, instructions)."""
    (n1, i1), (n2, i2) = small, large
    return (i2 - i1) / (n2 - n1)


def count(server: str, raises: int, code: str | None, postgres: str | None = None) -> int:
    """One run's instructions; ``postgres``: the URL of a PostgreSQL to store in, each run in a
    schema of its own, dropped after it."""
    argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable]
    argv += ["-m", "bench.inprocess", "--raises", str(raises), "--warm", "50"]
    argv += ["--bare"] if server == "bare" else []
    schema = f"bench_instructions_{os.getpid()}_{raises}"
    argv += ["--database-url", postgres, "--database-schema", schema] if postgres and server != "bare" else []
    env = dict(os.environ) | ({"PYTHONPATH": code} if code else {})
    try:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    finally:
        if postgres and server != "bare":
            _drop_schema(postgres, schema)
    return collected(done.stderr)


def _drop_schema(url: str, schema: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.instructions", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--sizes", default="200,600", help="the two numbers of raises")
    parser.add_argument("--only", choices=("huying", "bare"), help="one server only")
    parser.add_argument("--code", help="a PYTHONPATH to take huying's code from (another worktree's src)")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--cache", default="var/bench-stores", help="where the benchmarks' own cluster is kept"
    )
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("bench.instructions needs valgrind: apt-get install -y valgrind")
    small, large = (int(n) for n in args.sizes.split(","))
    servers = [args.only] if args.only else ["huying", "bare"]
    runs = [(server, n) for server in servers for n in (small, large)]
    with ExitStack() as stack:
        postgres = None
        if args.backend == "postgresql":
            from bench import store

            given = os.environ.get("HUYING_DATABASE_URL") or None
            cluster = store.backend_named("postgresql", Path(args.cache).resolve(), given)
            postgres = stack.enter_context(cluster).url
        # On SQLite a count does not depend on what runs beside it; on PostgreSQL, one at a time.
        with ThreadPoolExecutor(max_workers=1 if postgres else 2) as pool:
            counted = pool.map(lambda run: count(*run, args.code, postgres), runs)
            counts = dict(zip(runs, counted, strict=True))
    found = {
        server: round(per_raise((small, counts[server, small]), (large, counts[server, large])))
        for server in servers
    }
    if len(found) == 2:
        found["bare_over_huying"] = round(found["bare"] / found["huying"], 3)
    print(
        json.dumps(
            {
                "instructions_per_raise": found,
                "sizes": [small, large],
                "code": args.code,
                "backend": args.backend,
            }
        )
    )


if __name__ == "__main__":
    main()
