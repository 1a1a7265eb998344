"""No single client can stall the server (issue 10): waiting for the read models holds no thread,
each principal has only a few waiters and expensive reads at once, and a position beyond the
log's head is refused at once.

huying is served by uvicorn over TCP in a thread of this process, as `huying serve` serves it;
nothing projects here, as when `huying project` runs in another process: the read models move
only when the test lets "the other process" (a second set of services on the same files) catch
up. Every test asserts the order of events — who is answered while whom is still waiting — not
how long anything took.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from PIL import Image

from huying.api.app import create_app
from huying.api.gate import Gate
from huying.bootstrap import Services, build_services
from huying.clock import FakeClock
from huying.domain.principal import Principal, Role
from huying.settings import Settings

from .driver import Driver
from .inprocess import Pending, Served, serve_in_thread, until

GRID = "LW-LN-01-G01"
COMMUNITY = "LW-LN-01"
STREET = "LW-LN"
DISTRICT = "LW"


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """Nothing projects in the serving process; a test may change other settings too
    (``parametrize("settings", [{...}], indirect=True)``)."""
    return settings.model_copy(update={"run_projector": False, **getattr(request, "param", {})})


@pytest.fixture
def served(services: Services, settings: Settings, request: pytest.FixtureRequest) -> Served:
    return serve_in_thread(create_app(services=services), settings, request)


@pytest.fixture
def base_url(served: Served) -> str:
    return served.base_url


@pytest.fixture
def http(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=30.0) as c:
        yield c


@pytest.fixture
def elsewhere(settings: Settings, clock: FakeClock) -> Iterator[Services]:
    """Another process on the same files: its projector is the one that projects."""
    other = build_services(settings, clock)
    yield other
    other.close()


@pytest.fixture
def driver(http: httpx.Client, tokens: Any, clock: FakeClock) -> Driver:
    return Driver(http, tokens, clock)  # type: ignore[arg-type]  # an httpx.Client, as httpx.Client is


def in_flight(served: Served, n: int) -> None:
    until(lambda: served.in_flight() == n, f"{n} requests inside the server, unanswered")


def waiting(served: Served, n: int) -> None:
    """Until ``n`` requests wait for the read models (each past its admission and its waiter
    slot: what the test does next can count on it)."""
    progress = served.app.state.services.projector.progress
    until(lambda: progress.waiting == n, f"{n} requests waiting for the read models")


def problem_of(answer: tuple[int, dict[str, str], Any], status: int, kind: str) -> dict[str, Any]:
    got, headers, body = answer
    assert got == status, body
    assert headers["content-type"].startswith("application/problem+json")
    assert body["type"] == f"/problems/{kind}"
    return dict(body)


@pytest.mark.parametrize("settings", [{"principal_waiters": 100}], indirect=True)
def test_sixty_waiting_reads_hold_no_thread_and_the_rest_of_the_server_answers_meanwhile(
    http: httpx.Client, base_url: str, served: Served, elsewhere: Services, tokens: Any, driver: Driver
) -> None:
    """60 read-your-writes waits from one token (the attack of issue 10, allowed here by a high
    cap): /healthz, reads of the same token and of others are all answered while every one of
    the 60 still waits; when the other process has projected, all 60 are answered."""
    call = driver.raise_call().call
    grid = tokens.headers("grid_worker", GRID)
    path = f"/api/v1/calls/{call['id']}/possible-duplicates?min_position={call['position']}"
    waits = [Pending(base_url, path, grid) for _ in range(60)]
    in_flight(served, 60)

    assert http.get("/healthz").status_code == 200
    assert http.get(f"/api/v1/calls/{call['id']}", headers=grid).status_code == 200
    assert http.get("/api/v1/ledger", headers=tokens.headers("street", STREET)).status_code == 200
    assert not any(w.answered() for w in waits), "a wait ended before the read models moved"

    elsewhere.projector.catch_up()
    for w in waits:
        status, _, body = w.answer()
        assert status == 200, body
        assert body["position"] >= call["position"]


def test_a_position_beyond_the_head_is_refused_at_once_naming_the_head(
    http: httpx.Client, tokens: Any, driver: Driver
) -> None:
    """No write was answered with it, so no wait can bring it: 422 now, not 503 after 5 s."""
    call = driver.raise_call().call
    head = call["position"]
    for path in (f"/api/v1/calls/{call['id']}/possible-duplicates", "/api/v1/ledger"):
        answer = http.get(path, params={"min_position": head + 1}, headers=tokens.headers("street", STREET))
        assert answer.status_code == 422, answer.text
        problem = answer.json()
        assert problem["type"] == "/problems/position-beyond-head"
        assert problem["errors"] == [{"field": "min_position", "message": problem["detail"]}]
        assert f"({head})" in problem["detail"]


@pytest.mark.parametrize("settings", [{"principal_waiters": 3}], indirect=True)
def test_a_principal_beyond_its_waiters_is_answered_429_at_once(
    http: httpx.Client, base_url: str, served: Served, elsewhere: Services, tokens: Any, driver: Driver
) -> None:
    call = driver.raise_call().call
    grid = tokens.headers("grid_worker", GRID)
    path = f"/api/v1/calls/{call['id']}/possible-duplicates?min_position={call['position']}"
    waits = [Pending(base_url, path, grid) for _ in range(3)]
    waiting(served, 3)

    one_too_many = Pending(base_url, path, grid)
    problem = problem_of(one_too_many.answer(), 429, "too-many-requests")
    assert "at most 3" in problem["detail"]
    assert int(one_too_many.answer()[1]["retry-after"]) >= 1
    others = Pending(base_url, path, tokens.headers("community", COMMUNITY))  # another principal
    waiting(served, 4)
    assert not any(w.answered() for w in [*waits, others])

    elsewhere.projector.catch_up()
    assert [w.answer()[0] for w in [*waits, others]] == [200] * 4
    again = http.get(path, headers=grid)  # the cap is of waits at once, not a ration
    assert again.status_code == 200, again.text


@pytest.mark.parametrize("settings", [{"principal_waiters": 2}], indirect=True)
def test_long_polls_hold_no_thread_and_a_principal_has_only_a_few(
    http: httpx.Client, base_url: str, served: Served, elsewhere: Services, tokens: Any, driver: Driver
) -> None:
    """A department's long-polls wait in the event loop within the same cap, and are answered
    when the other process projects the dispatch that gives them work."""
    cg = tokens.headers("department", "CG")
    path = "/api/v1/departments/CG/work-orders?status=dispatched&wait=20"
    polls = [Pending(base_url, path, cg) for _ in range(2)]
    waiting(served, 2)
    problem_of(Pending(base_url, path, cg).answer(), 429, "too-many-requests")
    assert http.get("/healthz").status_code == 200

    dispatched = driver.drive("dispatched")  # CG leads
    assert not any(p.answered() for p in polls)

    elsewhere.projector.catch_up()
    for p in polls:
        status, _, page = p.answer()
        assert status == 200 and [o["call_id"] for o in page["data"]] == [dispatched.id]


@pytest.mark.parametrize("settings", [{"principal_expensive_reads": 2}], indirect=True)
def test_a_principal_has_only_a_few_expensive_reads_at_once(
    http: httpx.Client, base_url: str, served: Served, elsewhere: Services, tokens: Any, driver: Driver
) -> None:
    """Two score exports of one auditor are in flight (waiting for the read models); a third
    expensive read of theirs is 429 at once, while a cheap one, and anyone else's, are not."""
    call = driver.raise_call().call
    auditor = tokens.headers("auditor", DISTRICT)
    export = f"/api/v1/exports/scores?min_position={call['position']}"
    exports = [Pending(base_url, export, auditor) for _ in range(2)]
    waiting(served, 2)

    for path in ("/api/v1/events", "/api/v1/dashboards/sla", "/api/v1/calls", export):
        problem_of(Pending(base_url, path, auditor).answer(), 429, "too-many-requests")
    assert http.get("/api/v1/audit/checkpoints", headers=auditor).status_code == 200
    supervisor = http.get("/api/v1/dashboards/sla", headers=tokens.headers("supervisor", DISTRICT))
    assert supervisor.status_code == 200, supervisor.text
    assert not any(e.answered() for e in exports)

    elsewhere.projector.catch_up()
    assert [e.answer()[0] for e in exports] == [200, 200]
    assert http.get("/api/v1/events", headers=auditor).status_code == 200


# The grid worker's token is checked for each of its uploads at once (not yet remembered).
HELD_UPLOADS = {
    "principal_concurrency": 2,
    "principal_queue": 1,
    "client_token_checks": 8,
    "photo_decoders": 1,
    "photo_decode_wait_seconds": 30,
}


@pytest.mark.parametrize(
    ("settings", "running"),
    [
        pytest.param({**HELD_UPLOADS, "shared_concurrency": 0}, 2, id="nothing-to-lend"),
        pytest.param({**HELD_UPLOADS, "shared_concurrency": 4}, 2 + 4, id="lends-the-pool"),
    ],
    indirect=["settings"],
)
def test_a_lone_principal_runs_its_share_and_what_the_server_lends_the_rest_wait_their_turn(
    http: httpx.Client, base_url: str, served: Served, tokens: Any, driver: Driver, running: int
) -> None:
    """Uploads of one grid worker are held up (the only photo decoder is busy): it runs its own
    share (2) and every slot of the shared pool nobody else wants — not a fixed four — its next
    request waits its turn without a thread, the one after that is 429; another principal is
    served at once meanwhile, on its own share; once the decoder frees, all are answered."""
    call = driver.raise_call().call
    grid = tokens.headers("grid_worker", GRID)
    share, who = served.app.state.limits.share, Principal(Role.GRID_WORKER, GRID)
    with decoder_busy(served):
        photo = httpx.Request(
            "POST", f"{base_url}/api/v1/attachments", files={"file": ("a.png", png(), "image/png")}
        )
        headers = {**grid, "Content-Type": photo.headers["Content-Type"]}
        body = photo.read()
        uploads = [Pending(base_url, "/api/v1/attachments", headers, "POST", body) for _ in range(running)]
        until(lambda: share.held(who) == running, f"{running} uploads running, waiting for the decoder")
        its_turn = Pending(base_url, f"/api/v1/calls/{call['id']}", grid)
        until(lambda: share.queued(who) == 1, "the next request waiting its turn")
        problem_of(Pending(base_url, f"/api/v1/calls/{call['id']}", grid).answer(), 429, "too-many-requests")
        community = http.get(f"/api/v1/calls/{call['id']}", headers=tokens.headers("community", COMMUNITY))
        assert community.status_code == 200
        assert not any(p.answered() for p in [*uploads, its_turn])
    assert [u.answer()[0] for u in uploads] == [201] * running
    assert its_turn.answer()[0] == 200


@contextmanager
def decoder_busy(served: Served) -> Iterator[None]:
    """The only photo decoder busy with another photo until the block is left."""
    decoders = served.app.state.attachment_store.decoders
    busy_with, started = threading.Event(), threading.Event()

    def another_decode() -> None:
        started.set()
        busy_with.wait(30)

    other = threading.Thread(target=decoders.run, args=(another_decode,))
    other.start()
    try:
        assert started.wait(30)
        yield
    finally:
        busy_with.set()
        other.join(timeout=30)


def png() -> bytes:
    out = io.BytesIO()
    Image.linear_gradient("L").save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize("settings", [{"principal_concurrency": 1, "principal_queue": 0}], indirect=True)
def test_a_waiting_read_leaves_its_principal_share_to_its_other_requests(
    http: httpx.Client, base_url: str, served: Served, elsewhere: Services, tokens: Any, driver: Driver
) -> None:
    """A share of one request at a time, no queue: while one read waits for the read models,
    the same token's next request still runs, and the waiting read is answered afterwards."""
    call = driver.raise_call().call
    grid = tokens.headers("grid_worker", GRID)
    path = f"/api/v1/calls/{call['id']}/possible-duplicates?min_position={call['position']}"
    read = Pending(base_url, path, grid)
    waiting(served, 1)

    assert http.get(f"/api/v1/calls/{call['id']}", headers=grid).status_code == 200
    assert not read.answered()
    elsewhere.projector.catch_up()
    assert read.answer()[0] == 200


def test_requests_bearing_a_token_under_lookup_wait_for_that_lookup_rather_than_look_again(
    services: Services, settings: Settings, request: pytest.FixtureRequest, tokens: Any
) -> None:
    """Where live tokens are remembered a while: five requests of a token not yet remembered
    (a busy client's connections all miss when its token is due for a fresh look) make one
    lookup, held here until the other four wait for it; then all five are answered, and
    nothing was looked up again."""
    department = tokens.headers("department", "CG")
    looked_up: list[str] = []
    go = threading.Event()
    principal_for = services.tokens.principal_for

    def held_lookup(token: str) -> Principal | None:
        looked_up.append(token)
        assert go.wait(30)
        return principal_for(token)

    services.tokens.principal_for = held_lookup  # type: ignore[method-assign]
    remembering = settings.model_copy(update={"token_cache_seconds": 60.0})
    served = serve_in_thread(create_app(remembering, services), remembering, request)
    path = "/api/v1/departments/CG/work-orders?status=dispatched"
    requests = [Pending(served.base_url, path, department) for _ in range(5)]
    gate = gate_of(served)
    until(lambda: gate.sharing == 4, "four requests waiting for the first one's lookup")
    go.set()
    assert [r.answer()[0] for r in requests] == [200] * 5
    assert len(looked_up) == 1


def gate_of(served: Served) -> Gate:
    layer: Any = served.app.middleware_stack
    while not isinstance(layer, Gate):
        layer = layer.app
    return layer
