"""Requests released at the same moment, each from a thread and client of its own — against one
app, or against several processes' worth of apps on the same files."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from fastapi.testclient import TestClient

from huying.api.app import create_app
from huying.bootstrap import Services, build_services

Request = Callable[[TestClient], httpx.Response]


def released(request: Request, apps: list[Any]) -> list[httpx.Response]:
    """One thread per app in ``apps`` (repeat an app for several requests to it), each with its
    own client, all released at the same moment; their answers, in order."""
    start = threading.Barrier(len(apps))
    results: list[httpx.Response | BaseException | None] = [None] * len(apps)

    def worker(i: int) -> None:
        try:
            c = TestClient(apps[i])
            start.wait(timeout=30)
            results[i] = request(c)
        except BaseException as e:  # reported below, in the test's thread
            results[i] = e

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(apps))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a request hung"
    errors = [r for r in results if not isinstance(r, httpx.Response)]
    assert not errors, errors
    return [r for r in results if isinstance(r, httpx.Response)]


@contextmanager
def processes(services: Services, n: int) -> Iterator[list[Services]]:
    """n sets of services on the same files and clock, as n server processes would have:
    each with its own application, so nothing in one process orders another's writes."""
    built = [build_services(services.settings, services.clock) for _ in range(n)]
    try:
        yield built
    finally:
        for other in built:
            other.close()


@contextmanager
def saves_meet(everyone: list[Services], n: int) -> Iterator[Callable[[Request], Request]]:
    """Lockstep for the next ``n`` requests (those passed through the function it gives): saves
    go in rounds. A round starts once every one of the requests is at a save, waiting for its
    turn on the call, or answered, and lets all those at a save go at once. Where nothing
    orders the requests, each round is a race from one version, all of them in it; where the
    call's turns order them, each round holds the one request whose turn it is."""
    gate = threading.Condition()
    at_save = 0
    answered = 0
    round_ = 0

    def counted(request: Request) -> Request:
        def answer(c: TestClient) -> httpx.Response:
            nonlocal answered
            try:
                return request(c)
            finally:
                with gate:
                    answered += 1
                    gate.notify_all()

        return answer

    def wait_for_the_round() -> None:
        nonlocal at_save, round_
        deadline = time.monotonic() + 30
        with gate:
            at_save += 1
            mine = round_
            while round_ == mine:
                if at_save + answered + sum(one.app.turns.waiting for one in everyone) >= n:
                    round_, at_save = round_ + 1, 0
                    gate.notify_all()
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"round {mine}: not all {n} requests came to a save")
                gate.wait(0.005)  # the turns' waiters are counted, not notified: look again

    for one in everyone:
        real_save = one.app.save

        def save(*args: Any, _real: Any = real_save, **kwargs: Any) -> Any:
            wait_for_the_round()
            return _real(*args, **kwargs)

        one.app.save = save  # type: ignore[method-assign]
    try:
        yield counted
    finally:
        for one in everyone:
            del one.app.save  # the class's own save again


def run_together(
    n: int, request: Request, services: Services, app: Any, lockstep: bool
) -> list[httpx.Response]:
    """n requests released together: to the one app, or in lockstep from n processes."""
    if not lockstep:
        return released(request, [app] * n)
    with processes(services, n) as everyone, saves_meet(everyone, n) as counted:
        return released(counted(request), [create_app(services=one) for one in everyone])
