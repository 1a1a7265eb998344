"""P6's three reads of a 50-event call — its history, the call as of a business time, the call at
a version — through the whole ASGI app in this process: CPU per read, or instructions per read
counted by valgrind's callgrind.

    python -m bench.past_reads                          # SQLite, 200 reads of each
    python -m bench.past_reads --backend postgresql     # the benchmarks' own cluster
    python -m bench.past_reads --instructions           # under callgrind: instructions a read
    python -m bench.past_reads --instructions --code <worktree>/src   # another commit's code

The call is made as ``bench.reads.long_call`` makes it (raised, taken on, called up, dispatched,
signed, then progress notes), each read is an auditor's, and the first reads of each kind are
warm-up. Under callgrind only the reads are counted: the counters are zeroed before each kind's
reads and dumped after them (``callgrind_control``), so start-up, imports and making the call
do not count. Reads of one call again and again, as P6's are: its events are vouched for and
decoded once (``audit.mapper.PastEvents``), and each read still fetches and checks every row.

Needs valgrind for ``--instructions`` (``apt-get install -y valgrind``); a count takes a minute
or two.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.types import ASGIApp

from bench.inprocess import _post, answered, api_services, scope_of, token_for

KINDS = ("history", "as_of", "version")
EVENTS = 50
# Set in the child run under callgrind: where its dumps go (``--callgrind-out-file``'s prefix).
_DUMPS = "HUYING_BENCH_CALLGRIND"


async def _get(app: ASGIApp, path: str, query: str, token: str) -> bytes:
    """One GET through the app; its body (any answer but 200 stops the run)."""
    headers = [(b"host", b"127.0.0.1:8000"), (b"authorization", f"Bearer {token}".encode())]
    status, body = await answered(app, scope_of("GET", path, headers, query))
    if status != 200:
        raise RuntimeError(f"GET {path}?{query} was answered {status}: {body[:300]!r}")
    return body


async def _long_call(app: ASGIApp, tokens: dict[str, str]) -> str:
    """``bench.reads.long_call``'s call, through the app: its path."""
    step = 0

    async def post(path: str, who: str, body: dict[str, Any]) -> dict[str, Any]:
        nonlocal step
        step += 1
        await _post(app, "/api/v1/_clock", _headers(tokens["admin"]), b'{"advance_seconds": 1}')
        headers = [*_headers(tokens[who]), (b"idempotency-key", f"past-reads-{step}".encode())]
        sent = json.dumps(body, ensure_ascii=False).encode()
        headers.append((b"content-length", str(len(sent)).encode()))
        status, answer = await answered(app, scope_of("POST", path, headers), sent)
        if status not in (200, 201):
            raise RuntimeError(f"POST {path} was answered {status}: {answer[:300]!r}")
        found: dict[str, Any] = json.loads(answer)
        return found

    raised = await post(
        "/api/v1/calls",
        "grid_worker",
        {
            "item_code": "C01-01",
            "grid_code": "LW-LN-01-G01",
            "title": "楼道垃圾",
            "description": "堆积多日",
            "channel": "grid_worker",
        },
    )
    call = f"/api/v1/calls/{raised['id']}"
    await post(f"{call}/acknowledge", "community", {})
    await post(f"{call}/escalate", "community", {"reason": "需街道统筹"})
    await post(f"{call}/acknowledge", "street", {})
    await post(f"{call}/dispatch", "street", {"lead_department": "CG", "instructions": "清运"})
    order = f"/api/v1/work-orders/{raised['id']}-w1"
    await post(f"{order}/sign", "department", {})
    version = 6
    while version < EVENTS:
        version = (await post(f"{order}/progress", "department", {"note": "进展顺利"}))["version"]
    return call


def _headers(token: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"host", b"127.0.0.1:8000"),
        (b"authorization", f"Bearer {token}".encode()),
        (b"content-type", b"application/json"),
    ]


async def _reads(app: Any, tokens: dict[str, str], args: argparse.Namespace) -> dict[str, Any]:
    dumps = os.environ.get(_DUMPS)
    async with app.router.lifespan_context(app):
        call = await _long_call(app, tokens)
        auditor = tokens["auditor"]
        history = json.loads(await _get(app, f"{call}/history", "", auditor))
        middle = history["data"][len(history["data"]) // 2]["at"]
        reads = {
            "history": (f"{call}/history", ""),
            "as_of": (call, urlencode({"as_of": middle})),
            "version": (call, f"version={EVENTS // 2}"),
        }
        found: dict[str, Any] = {}
        for kind in KINDS:
            path, query = reads[kind]
            for _ in range(args.warm):
                await _get(app, path, query, auditor)
            if dumps:
                _callgrind("-z")
            cpu = time.process_time()
            for _ in range(args.reads):
                await _get(app, path, query, auditor)
            cpu = time.process_time() - cpu
            found[kind] = {"cpu_ms_per_read": round(cpu * 1e3 / args.reads, 3)}
            if dumps:
                found[kind]["instructions_per_read"] = round(_dumped(dumps) / args.reads)
    return {"reads": args.reads, "events": EVENTS} | found


def _callgrind(flag: str) -> None:
    subprocess.run(["callgrind_control", flag, str(os.getpid())], check=True, capture_output=True)


def _dumped(prefix: str) -> int:
    """Dump callgrind's counters now: the instructions since they were zeroed."""
    before = set(Path(prefix).parent.glob(f"{Path(prefix).name}*"))
    _callgrind("-d")
    (dump,) = set(Path(prefix).parent.glob(f"{Path(prefix).name}*")) - before
    for line in dump.read_text().splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError(f"callgrind's dump {dump} has no totals")


def measure(directory: Path, args: argparse.Namespace) -> dict[str, Any]:
    from huying.api.app import create_app

    with api_services(directory, args) as services:
        district = services.app.org.district.code
        who = {
            "admin": ("admin", district),
            "auditor": ("auditor", district),
            "grid_worker": ("grid_worker", "LW-LN-01-G01"),
            "community": ("community", "LW-LN-01"),
            "street": ("street", "LW-LN"),
            "department": ("department", "CG"),
        }
        tokens = {name: token_for(services, role, unit) for name, (role, unit) in who.items()}
        return asyncio.run(_reads(create_app(services.settings, services), tokens, args))


def _under_callgrind(args: argparse.Namespace) -> dict[str, Any]:
    """This tool again, under callgrind, counting the reads alone."""
    if shutil.which("valgrind") is None:
        sys.exit("bench.past_reads --instructions needs valgrind: apt-get install -y valgrind")
    with tempfile.TemporaryDirectory(prefix="huying-past-reads-") as dumps:
        prefix = str(Path(dumps) / "callgrind")
        argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={prefix}.%p", sys.executable]
        argv += ["-m", "bench.past_reads", "--reads", str(args.reads), "--warm", str(args.warm)]
        if args.database_url:
            argv += ["--database-url", args.database_url, "--database-schema", args.database_schema]
        env = dict(os.environ) | {_DUMPS: prefix} | ({"PYTHONPATH": args.code} if args.code else {})
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.past_reads", description=__doc__.split("\n\n")[0])
    parser.add_argument("--reads", type=int, default=200, help="reads of each kind, measured")
    parser.add_argument("--warm", type=int, default=20, help="reads of each kind first, not measured")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--cache", default="var/bench-stores", help="where the benchmarks' own cluster is kept"
    )
    parser.add_argument("--instructions", action="store_true", help="count instructions under callgrind")
    parser.add_argument("--code", help="with --instructions: a PYTHONPATH to take huying's code from")
    parser.add_argument("--database-url", help=argparse.SUPPRESS)  # the run under callgrind's
    parser.add_argument("--database-schema", help=argparse.SUPPRESS)
    args = parser.parse_args()
    with ExitStack() as stack:
        if args.backend == "postgresql" and not args.database_url:
            from bench import store

            given = os.environ.get("HUYING_DATABASE_URL") or None
            cluster = store.backend_named("postgresql", Path(args.cache).resolve(), given)
            args.database_url = stack.enter_context(cluster).url
            args.database_schema = f"bench_past_reads_{os.getpid()}"
        try:
            if args.instructions:
                found = _under_callgrind(args)
            else:
                with tempfile.TemporaryDirectory(prefix="huying-past-reads-") as work:
                    found = measure(Path(work), args)
        finally:
            if args.backend == "postgresql" and args.database_schema and not os.environ.get(_DUMPS):
                from bench.instructions import _drop_schema

                _drop_schema(args.database_url, args.database_schema)
    print(json.dumps(found | {"backend": args.backend, "code": args.code}))


if __name__ == "__main__":
    main()
