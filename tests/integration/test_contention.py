"""A busy call loses no valid action (issue 10): 30 concurrent supervisions of one call gave a
409 concurrent-modification. Actions that do not conflict with each other all succeed however
many arrive at once — within one process they take turns on the call, across processes they
retry with jittered backoff — while conflicting ones still give exactly one success
(test_restart_and_idempotency.py)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx

from e2e.driver import Driver
from huying.api.app import create_app
from huying.bootstrap import Services
from huying.clock import FakeClock

from .together import processes, released, saves_meet

SUPERVISOR = ("supervisor", "LW")


def a_call(client: httpx.Client, tokens: Any, clock: FakeClock) -> str:
    return Driver(client, tokens, clock).raise_call().id


def supervisions(client: httpx.Client, tokens: Any, call_id: str) -> int:
    history = client.get(f"/api/v1/calls/{call_id}/history", headers=tokens.headers(*SUPERVISOR))
    return sum(1 for e in history.json()["data"] if e["type"] == "Supervised")


def supervise(tokens: Any, call_id: str) -> Any:
    """A supervision of the call, its token made before any request is released."""
    headers = tokens.headers(*SUPERVISOR)

    def request(c: httpx.Client) -> httpx.Response:
        return c.post(
            f"/api/v1/calls/{call_id}/supervise",
            headers=headers,
            json={"reason": "群众多次反映，请加快办理"},
        )

    return request


def test_thirty_concurrent_supervisions_of_one_call_all_succeed(
    client: httpx.Client, services: Services, tokens: Any, clock: FakeClock
) -> None:
    """In lockstep: no save before all thirty are inside the application. Without turns, each
    round all those left would read one version and race, one winning per round, until their
    attempts ran out (on main: 409 concurrent-modification for most of them)."""
    call_id = a_call(client, tokens, clock)

    with saves_meet([services], 30) as counted:
        answers = released(counted(supervise(tokens, call_id)), [client.app] * 30)

    statuses = Counter(a.status_code for a in answers)
    assert statuses == {200: 30}, (statuses, {a.text[:200] for a in answers if a.status_code != 200})
    assert sorted(a.json()["version"] for a in answers) == list(range(2, 32))
    assert supervisions(client, tokens, call_id) == 30


def test_supervisions_from_three_processes_at_once_all_succeed(
    client: httpx.Client, services: Services, tokens: Any, clock: FakeClock
) -> None:
    """Three processes on the same files, ten supervisions each, all released together: each
    process takes its own turns, and what the processes race for in the store is retried."""
    call_id = a_call(client, tokens, clock)
    with processes(services, 3) as three:
        apps = [create_app(services=one) for one in three]
        answers = released(supervise(tokens, call_id), [apps[i % 3] for i in range(30)])

    statuses = Counter(a.status_code for a in answers)
    assert statuses == {200: 30}, (statuses, {a.text[:200] for a in answers if a.status_code != 200})
    assert supervisions(client, tokens, call_id) == 30


def test_an_app_is_whole_before_its_first_request(services: Services) -> None:
    """Its middleware is built by create_app, not by whichever first requests come at once: two
    threads building it both registered the HTTP metrics (DuplicateTimeseries, a 500 here)."""
    assert create_app(services=services).middleware_stack is not None
