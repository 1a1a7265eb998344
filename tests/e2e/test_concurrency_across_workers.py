"""Concurrency across the processes of `huying serve --workers 4` (one process on SQLite): each
client has a connection of its own, so the kernel hands them to different workers, which share
nothing but the database.

- The same Idempotency-Key 20 times at once makes one call, and every answer is that call;
  the same for an action: one event, 20 equal answers.
- 20 conflicting actions at once (each its own key; half of them naming the version they saw):
  exactly one succeeds, the rest get 412 (stale If-Match) or 409 (already acknowledged), and
  the call's history has exactly that one event more.
Afterwards the read models equal a replay of the log: nothing was half-applied.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from backends import Backend
from huying.bootstrap import Services

from .processes import CALLS, COMMUNITY, DISTRICT, GRID, RAISE, check_read_models_equal_a_rebuild
from .server import Server

pytestmark = pytest.mark.slow

AT_ONCE = 20


def at_once(server: Server, send: Callable[[httpx.Client, int], httpx.Response]) -> list[httpx.Response]:
    """``send`` from AT_ONCE clients, each on its own connection, released together."""
    clients = [server.client() for _ in range(AT_ONCE)]
    for http in clients:  # connected before the start: the requests race, not the handshakes
        assert http.get("/healthz").status_code == 200
    start = threading.Barrier(AT_ONCE)
    answers: list[httpx.Response | None] = [None] * AT_ONCE

    def one(i: int) -> None:
        start.wait()
        answers[i] = send(clients[i], i)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(AT_ONCE)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for http in clients:
        http.close()
    assert all(a is not None for a in answers), "a request got no answer in 60 s"
    return [a for a in answers if a is not None]


def history(server: Server, call: str, reader: dict[str, str]) -> list[dict[str, Any]]:
    with server.client() as http:
        events: list[dict[str, Any]] = http.get(f"{CALLS}/{call}/history", headers=reader).json()["data"]
    return events


def test_twenty_at_once_across_workers_one_key_one_write_conflicts_one_winner(
    server: Server, services: Services, tokens: Any, backend: Backend
) -> None:
    """One server start for both (several workers take seconds to start)."""
    server.start(workers=4 if backend.name == "postgres" else 1)
    one_key_twenty_times(server, tokens)
    conflicting_actions(server, tokens)
    check_read_models_equal_a_rebuild(services, server.log)


def one_key_twenty_times(server: Server, tokens: Any) -> None:
    grid = tokens.headers("grid_worker", GRID, key="same-raise")
    raises = at_once(server, lambda http, _: http.post(CALLS, headers=grid, json=RAISE))
    assert Counter(r.status_code for r in raises) == {201: AT_ONCE}, [r.text for r in raises]
    assert len({r.json()["id"] for r in raises}) == 1
    assert len({r.text for r in raises}) == 1, "the repeats were not answered as the first"
    call = raises[0].json()["id"]
    assert server.stored() == (1, 1)

    community = tokens.headers("community", COMMUNITY, key="same-ack")
    acks = at_once(server, lambda http, _: http.post(f"{CALLS}/{call}/acknowledge", headers=community))
    assert Counter(r.status_code for r in acks) == {200: AT_ONCE}, [r.text for r in acks]
    assert len({r.text for r in acks}) == 1
    reader = tokens.headers("supervisor", DISTRICT)
    assert [e["type"] for e in history(server, call, reader)] == ["Raised", "Acknowledged"]
    assert server.stored() == (1, 2)


def conflicting_actions(server: Server, tokens: Any) -> None:
    with server.client() as http:
        raised = http.post(CALLS, headers=tokens.headers("grid_worker", GRID), json=RAISE).json()
    call, version = raised["id"], raised["version"]
    community = tokens.headers("community", COMMUNITY)

    def act(http: httpx.Client, i: int) -> httpx.Response:
        # Each its own request (its own key); every other one names the version it saw.
        headers = {**community, "Idempotency-Key": f"conflict-{i}"}
        if i % 2:
            headers["If-Match"] = f'"{version}"'
        return http.post(f"{CALLS}/{call}/acknowledge", headers=headers, json={"note": f"#{i}"})

    answers = at_once(server, act)
    assert [r.status_code for r in answers].count(200) == 1, [r.text for r in answers]
    for i, refused in enumerate(answers):
        if refused.status_code != 200:  # lost to the winner: stale version, or no longer allowed
            assert refused.status_code == (412 if i % 2 else 409), refused.text
            assert refused.headers["content-type"] == "application/problem+json"
    won = next(r for r in answers if r.status_code == 200).json()
    events = history(server, call, tokens.headers("supervisor", DISTRICT))
    assert len(events) == 2 and events[1]["version"] == version + 1 == won["version"]
    assert server.stored() == (2, 4)
