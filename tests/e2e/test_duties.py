"""The duties as processes of their own: `huying chain` and `huying watch` started twice each
beside `huying serve` (which runs neither): one of each holds the duty, the other stands by and
takes over when the holder is killed. The settable clock, moved through one API worker, is one
clock for every process, and the watchdog of another process acts on it.

On PostgreSQL the watchdog sweeps only when told (its interval is five minutes here): the clock
move reaches it by NOTIFY. SQLite has no NOTIFY; its watchdog looks every half second and reads
the moved clock from the shared file. Also: a commit wakes the projector of another process at
once, and SQLite refuses several workers in one line.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from backends import Backend
from huying.bootstrap import Services

from .processes import CALLS, DISTRICT, GRID, RAISE, holds, until
from .server import Child, Server, chain_processes, duty_processes

pytestmark = pytest.mark.slow

MONDAY_NINE = "2026-11-23T09:00:00+08:00"
WAIT = 60.0
WOKEN = 2.0  # seconds: write → readable in another process, at most (its poll is 300 s)


def holder(pair: list[Child], duty: str) -> tuple[Child, Child]:
    """(the one that holds ``duty``, the one standing by), once that is so."""

    def settled() -> tuple[Child, Child] | None:
        held = [c for c in pair if holds(c.log(), duty)]
        waiting = [c for c in pair if "standing by" in c.log()]
        return (held[0], waiting[0]) if len(held) == 1 and len(waiting) == 1 else None

    found: tuple[Child, Child] = until(
        f"one {duty} holder and one standby", settled, WAIT, *(c.log for c in pair)
    )
    return found


def system_steps(server: Server, call: str, reader: dict[str, str]) -> list[str]:
    with server.client() as http:
        history = http.get(f"{CALLS}/{call}/history", headers=reader).json()["data"]
    return [e["type"] for e in history if e["actor"]["role"] == "system"]


def test_chain_and_watchdog_apart_one_holder_each_standby_takes_over_one_clock(
    server: Server, services: Services, tokens: Any, backend: Backend
) -> None:
    on_postgres = backend.name == "postgres"
    duties = {"HUYING_DUTY_RETRY_SECONDS": "0.2", "HUYING_WATCHDOG_SECONDS": "300" if on_postgres else "0.5"}
    server.start(workers=2 if on_postgres else 1, HUYING_RUN_CHAIN="0", HUYING_RUN_WATCHDOG="0")
    chains = [server.spawn("chain", **duties) for _ in range(2)]
    holding, standby = holder(chains, "chain")
    watches = [server.spawn("watch", **duties) for _ in range(2)]
    watching, spare = holder(watches, "watchdog")
    assert "holds the chain duty" not in server.log() and "holds the watchdog duty" not in server.log()

    admin, reader = tokens.headers("admin", DISTRICT), tokens.headers("supervisor", DISTRICT)
    with server.client() as http:
        assert http.post("/api/v1/_clock", headers=admin, json={"now": MONDAY_NINE}).status_code == 200
        call = http.post(CALLS, headers=tokens.headers("grid_worker", GRID), json=RAISE).json()["id"]
        # The community had two working hours to respond; a day later the watchdog calls the street.
        moved = http.post("/api/v1/_clock", headers=admin, json={"advance_seconds": 86400})
        assert moved.status_code == 200
    with_every_worker_seeing(server, admin, moved.json()["now"])
    until("the watchdog apart escalated", lambda: system_steps(server, call, reader), WAIT, watching.log)
    assert system_steps(server, call, reader) == ["Escalated"]

    watching.kill()
    until("the standby watchdog took over", lambda: holds(spare.log(), "watchdog"), WAIT, spare.log)
    with server.client() as http:  # the street did not answer either: 督办
        http.post("/api/v1/_clock", headers=admin, json={"advance_seconds": 2 * 86400})
    until("the new watchdog supervised", lambda: len(system_steps(server, call, reader)) > 1, WAIT, spare.log)
    assert set(system_steps(server, call, reader)[1:]) == {"Supervised"}

    holding.kill()
    until("the standby chain keeper took over", lambda: holds(standby.log(), "chain"), WAIT, standby.log)
    head = services.app.recorder.max_notification_id()
    until("the chain covers the log", lambda: services.chain.tracked_position() == head, WAIT, standby.log)


def with_every_worker_seeing(server: Server, admin: dict[str, str], now: str) -> None:
    """Every worker (each request on a new connection) reads the clock as moved."""
    for _ in range(8):
        with server.client() as http:
            assert http.get("/api/v1/_clock", headers=admin).json()["now"] == now


def test_a_commit_wakes_the_projector_of_another_process_at_once(
    server: Server, tokens: Any, backend: Backend
) -> None:
    """The projector apart looks at the log every five minutes unless woken: every write is
    readable at its position, well within a second or two, only because the commit wakes it
    (PostgreSQL: NOTIFY; SQLite: the listener sees the event store's data_version move)."""
    server.start(workers=2 if backend.name == "postgres" else 1, HUYING_RUN_PROJECTOR="0")
    projector = server.spawn("project", "--no-chain", HUYING_POLL_SECONDS="300")
    until("the projector apart holds its duty", lambda: holds(projector.log(), "projector"), WAIT)
    grid, reader = tokens.headers("grid_worker", GRID), tokens.headers("supervisor", DISTRICT)
    lags = []
    with server.client() as http:
        for i in range(20):
            raised = http.post(CALLS, headers=grid, json={**RAISE, "title": f"#{i}"})
            written = time.monotonic()
            found = http.get(CALLS, headers=reader, params={"min_position": raised.json()["position"]})
            lags.append(time.monotonic() - written)
            assert found.status_code == 200, found.text
            assert raised.json()["id"] in {c["id"] for c in found.json()["data"]}
    lags.sort()
    assert lags[-1] < WOKEN, f"a write took {lags[-1]:.2f} s to be readable: was the projector woken?"
    print(
        f"write → readable in another process's read models: median {lags[10] * 1000:.0f} ms, "
        f"max {lags[-1] * 1000:.0f} ms"
    )


def readable_after(server: Server, tokens: Any) -> float:
    """Seconds from a raise's answer to a read at its position answered."""
    grid, reader = tokens.headers("grid_worker", GRID), tokens.headers("supervisor", DISTRICT)
    with server.client() as http:
        raised = http.post(CALLS, headers=grid, json=RAISE)
        written = time.monotonic()
        found = http.get(CALLS, headers=reader, params={"min_position": raised.json()["position"]})
        assert found.status_code == 200, found.text
        return time.monotonic() - written


def projecting(server: Server) -> list[int]:
    """The pids that said they took the projector duty, in order."""
    return taking(server, "projector")


def taking(server: Server, duty: str) -> list[int]:
    """The pids that said they took ``duty``, in order."""
    return [int(pid) for pid in re.findall(rf"pid (\d+) holds the {duty} duty", server.log())]


def ended(pid: int) -> bool:
    """The process is gone (or a zombie: it ran its last instruction)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rpartition(")")[2].split()[0] in ("Z", "X")


def test_serve_projects_in_a_child_that_is_replaced_when_killed_and_ends_with_it(
    server: Server, tokens: Any
) -> None:
    server.start(HUYING_DUTIES_APART="1", HUYING_POLL_SECONDS="300")
    child = until("a duties' process", lambda: duty_processes(server), WAIT, server.log)[-1]
    until("the child projects", lambda: projecting(server) == [child], WAIT, server.log)
    # The chain keeper in a child of its own: its GIL is not the projector's.
    (keeper,) = until("a chain keeper's process", lambda: chain_processes(server), WAIT, server.log)
    until("the keeper chains", lambda: taking(server, "chain") == [keeper], WAIT, server.log)
    until("the child delivers", lambda: taking(server, "webhooks") == [child], WAIT, server.log)
    assert server.proc is not None and len({server.proc.pid, child, keeper}) == 3  # three processes
    assert readable_after(server, tokens) < WOKEN  # woken across processes, read here

    os.kill(child, signal.SIGKILL)
    until("another duties' process", lambda: len(duty_processes(server)) == 2, WAIT, server.log)
    child = duty_processes(server)[-1]
    until("the new child projects", lambda: projecting(server)[-1:] == [child], WAIT, server.log)
    assert readable_after(server, tokens) < WOKEN
    assert chain_processes(server) == [keeper] and not ended(keeper)  # the keeper went on

    server.kill()  # kill -9 of the server: the children stop by themselves
    until("the orphaned children ended", lambda: ended(child) and ended(keeper), WAIT, server.log)

    server.start(HUYING_DUTIES_APART="1")
    child = until("a duties' process", lambda: duty_processes(server), WAIT, server.log)[-1]
    keeper = until("a chain keeper's process", lambda: chain_processes(server), WAIT, server.log)[-1]
    until("the child projects", lambda: projecting(server) == [child], WAIT, server.log)
    server.terminate()  # SIGTERM: all stop, in order
    assert ended(child) and ended(keeper)


VISIBLE_COUNT = re.compile(r"^huying_projection_visible_seconds_count\{pid=\"\d+\"\} (\S+)$", re.M)


def visible_count(server: Server) -> int:
    """Saves of the server's process whose lag (save → visible there) it has measured (P5)."""
    with server.client() as http:
        found = VISIBLE_COUNT.search(http.get("/metrics").text)
    assert found is not None, "the histogram is on /metrics"
    return int(float(found.group(1)))


def test_the_server_measures_its_saves_lag_when_another_process_projects(
    server: Server, tokens: Any, backend: Backend
) -> None:
    """P5 in the process that serves the read: from its save's commit to the news that the
    projector apart made it visible (SQLite: `huying serve`'s own child; PostgreSQL: a
    `huying project` beside it)."""
    if backend.name == "postgres":
        server.start(HUYING_RUN_PROJECTOR="0")
        projector = server.spawn("project", "--no-chain")
        until(
            "the projector apart projects", lambda: holds(projector.log(), "projector"), WAIT, projector.log
        )
    else:
        server.start(HUYING_DUTIES_APART="1")
        until("the child projects", lambda: projecting(server), WAIT, server.log)
        assert server.proc is not None and server.proc.pid not in projecting(server)
    before = visible_count(server)
    for _ in range(3):
        readable_after(server, tokens)
    until("the three saves measured", lambda: visible_count(server) == before + 3, WAIT, server.log)


@pytest.mark.sqlite_only(reason="PostgreSQL serves several workers: test_concurrency_across_workers")
def test_sqlite_refuses_several_workers_in_one_line(server: Server) -> None:
    refused = subprocess.run(
        [sys.executable, "-m", "huying.cli", "serve", "--workers", "2"],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 2
    assert (
        refused.stderr.startswith("error: SQLite means one server process")
        and refused.stderr.count("\n") == 1
    )
