"""The API process's CPU per raise, through the whole ASGI app in this process: what P1's one
server process spends on each ``POST /api/v1/calls``, without HTTP parsing, wrk or the duties
(no projector, watchdog, chain keeper or webhooks run).

    python -m bench.inprocess                        # 3,000 raises, 16 at a time, SQLite
    python -m bench.inprocess --raises 6000 --concurrency 32
    python -m bench.inprocess --bare                 # the same load on P1's bare endpoint
    python -m bench.inprocess --database-url postgresql://… --database-schema bench_x
                                                     # one API worker's, on PostgreSQL

Each raise is P1's: a supervisor's hotline raise of a random item in a random grid, with a
caller's contact and an Idempotency-Key of its own, answered 201. After ``--warm`` raises, the
process's CPU time (``time.process_time``, every thread) is divided by the raises.

On SQLite the server is one process, and this is the cost that bounds P1 (see
docs/benchmarks.md). Compare two versions of the code by running them in turn
(``PYTHONPATH=<worktree>/src python -m bench.inprocess``), not a figure with one written down.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Message, Scope

from huying.api.gate import replay

if TYPE_CHECKING:
    from huying.bootstrap import Services


async def _staying() -> Message:
    """The client, once its body is sent: it never goes away."""
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


def scope_of(method: str, path: str, headers: list[tuple[bytes, bytes]], query: str = "") -> Scope:
    """An HTTP request's ASGI scope, as uvicorn would hand it to the app."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }


async def answered(app: ASGIApp, scope: Scope, body: bytes = b"") -> tuple[int, bytes]:
    """One request through the app: its status and body."""
    status: list[int] = []
    parts: list[bytes] = []

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])
        elif message["type"] == "http.response.body":
            parts.append(message.get("body", b""))

    await app(scope, replay(body, _staying), send)
    return status[0], b"".join(parts)


async def _post(app: ASGIApp, path: str, headers: list[tuple[bytes, bytes]], body: bytes) -> int:
    """One request through the app; its status."""
    scope = scope_of("POST", path, [*headers, (b"content-length", str(len(body)).encode())])
    status, _ = await answered(app, scope, body)
    return status


async def _load(
    app: Any, token: str, items: list[str], grids: list[str], args: argparse.Namespace
) -> dict[str, Any]:
    rng = random.Random(args.seed)
    run = f"{rng.getrandbits(48):012x}"

    def request(i: int) -> tuple[list[tuple[bytes, bytes]], bytes]:
        body = {
            "item_code": rng.choice(items),
            "grid_code": rng.choice(grids),
            "title": "市民来电反映问题",
            "description": "市民来电反映：现场情况需尽快核实处理。",
            "channel": "hotline",
            "urgency": "normal",
            "location": {"address": f"多宝路{rng.randint(1, 400)}号"},
            "reporter": {"name": "陈先生", "phone": f"139{rng.randint(0, 99_999_999):08d}"},
        }
        headers = [
            (b"host", b"127.0.0.1:8000"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", b"application/json"),
            (b"idempotency-key", f"inprocess-{run}-{i}".encode()),
        ]
        return headers, json.dumps(body, ensure_ascii=False).encode()

    async def raises(numbers: range) -> None:
        queue = list(numbers)

        async def worker() -> None:
            while queue:
                status = await _post(app, "/api/v1/calls", *request(queue.pop()))
                if status != 201:
                    raise RuntimeError(f"a raise was answered {status}")

        await asyncio.gather(*(worker() for _ in range(args.concurrency)))

    async with app.router.lifespan_context(app):
        await raises(range(args.warm))
        cpu, wall = time.process_time(), time.perf_counter()
        await raises(range(args.warm, args.warm + args.raises))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {
        "raises": args.raises,
        "concurrency": args.concurrency,
        "cpu_ms_per_raise": round(cpu * 1e3 / args.raises, 3),
        "wall_ms_per_raise": round(wall * 1e3 / args.raises, 3),
    }


@contextmanager
def api_services(directory: Path, args: argparse.Namespace) -> Iterator[Services]:
    """One API process's services on a new demo district in ``directory`` (or in PostgreSQL's
    ``args.database_url`` and ``args.database_schema``), the fake clock on and no duties
    running beside: the app is ``create_app(services.settings, services)``."""
    from huying.bootstrap import build_services
    from huying.migrate import upgrade
    from huying.settings import Settings

    settings = Settings(
        data_dir=directory,
        database_url=getattr(args, "database_url", None) or "",
        database_schema=getattr(args, "database_schema", None) or "",
        demo=True,
        fake_clock=True,
        run_projector=False,
        run_watchdog=False,
        run_chain=False,
        run_webhooks=False,
    )
    upgrade(settings)
    services = build_services(settings)
    try:
        yield services
    finally:
        services.close()


def token_for(services: Services, role: str, unit: str) -> str:
    from huying.demo import principal_for_token

    _, token = services.tokens.create(principal_for_token(services.app.org, role, unit), "bench")
    return token


def measure(directory: Path, args: argparse.Namespace) -> dict[str, Any]:
    from huying.api.app import create_app
    from huying.domain.org import UnitKind

    with api_services(directory, args) as services:
        org = services.app.org
        token = token_for(services, "supervisor", org.district.code)
        grids = [u.code for u in org.of_kind(UnitKind.GRID)]
        items = sorted(services.app.catalog.items)
        return asyncio.run(_load(create_app(services.settings, services), token, items, grids, args))


def measure_bare(args: argparse.Namespace) -> dict[str, Any]:
    """The same load on P1's baseline, the bare endpoint (``bench.baselines.bare``)."""
    from bench.baselines.bare import app
    from huying.reference import load_catalog, load_org

    org = load_org()
    grids = [code for code, unit in org.units.items() if unit.kind == "grid"]
    return asyncio.run(_load(app, "none", sorted(load_catalog(org).items), grids, args))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.inprocess", description=__doc__.split("\n\n")[0])
    parser.add_argument("--raises", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight at once")
    parser.add_argument("--warm", type=int, default=200, help="raises first, not measured")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--bare", action="store_true", help="P1's baseline, the bare endpoint, instead")
    parser.add_argument("--database-url", help="a PostgreSQL to store in (default: SQLite files)")
    parser.add_argument("--database-schema", help="the schema there, made if missing")
    args = parser.parse_args()
    if args.bare:
        print(json.dumps(measure_bare(args)))
        return
    with tempfile.TemporaryDirectory(prefix="huying-inprocess-") as work:
        print(json.dumps(measure(Path(work), args)))


if __name__ == "__main__":
    main()
