"""How long the console's pages take on a stored district: each page asked ``--rounds`` times by
its principal, in-process over ASGI (a TestClient: the server's own time plus a millisecond or
so of client), median and p95 per page.

    huying seed --synthetic 20000          # (HUYING_DATA_DIR=…, once)
    python -m bench.console_pages --rounds 30
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient

from huying.api.app import create_app
from huying.bootstrap import Services, build_services
from huying.domain.principal import Principal, Role
from huying.settings import Settings

PAGES: list[tuple[Role, str, list[str]]] = [
    (Role.GRID_WORKER, "LW-LN-01-G01", ["/console/raise", "/console/mine"]),
    (Role.COMMUNITY, "LW-LN-01", ["/console/work", "{call}"]),
    (Role.STREET, "LW-LN", ["/console/work", "{call}"]),
    (Role.DEPARTMENT, "CG", ["/console/queue/CG"]),
    (Role.SUPERVISOR, "LW", ["/console/overview", "/console/overview?granularity=month", "{call}"]),
    (Role.AUDITOR, "LW", ["/console/audit"]),
    (Role.ADMIN, "LW", ["/console/admin"]),
]


@contextmanager
def signed_in(client: TestClient, services: Services, role: Role, unit: str) -> Iterator[None]:
    _, token = services.tokens.create(Principal(role, unit), label="bench")
    client.cookies.clear()
    form = client.get("/console/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf is not None
    client.post("/console/login", data={"token": token, "csrf": csrf.group(1)}, follow_redirects=False)
    yield


def a_call_of(client: TestClient, services: Services, unit: str) -> str:
    _, token = services.tokens.create(Principal(Role.COMMUNITY, unit), label="bench")
    found = client.get("/api/v1/calls", params={"limit": 1}, headers={"Authorization": f"Bearer {token}"})
    return f"/console/calls/{found.json()['data'][0]['id']}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    rounds = parser.parse_args().rounds
    services = build_services(Settings(run_projector=False, run_chain=False, run_watchdog=False))
    with TestClient(create_app(services=services)) as client:
        call = a_call_of(client, services, "LW-LN-01")
        print(f"{'page':48} {'who':22} {'median ms':>9} {'p95 ms':>8}")
        for role, unit, paths in PAGES:
            with signed_in(client, services, role, unit):
                for path in (p.format(call=call) for p in paths):
                    took = []
                    for _ in range(rounds):
                        start = time.perf_counter()
                        answer = client.get(path)
                        took.append((time.perf_counter() - start) * 1000)
                        assert answer.status_code == 200, (path, answer.status_code)
                    p95 = statistics.quantiles(took, n=20)[18]
                    shown = path if len(path) < 48 else path[:45] + "…"
                    print(
                        f"{shown:48} {role.value + ' ' + unit:22} {statistics.median(took):9.1f} {p95:8.1f}"
                    )


if __name__ == "__main__":
    main()
