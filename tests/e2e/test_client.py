"""``huying.client`` against a real huying: uvicorn on a free port in a background thread,
serving the shared test services; calls driven over HTTP into a department's queue; the client
pulls the queue, 签收 and 办结 through real sockets.

Failures are made by transports wrapped around the real one: an answer the server gave but the
client never got (the server acted; the client sees a ConnectError), or a 503/429 made up in
front of the server. ``sleep`` is a recorder, so nothing here really sleeps for a backoff.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from huying.api.app import create_app
from huying.bootstrap import Services
from huying.client import CallState, DepartmentClient, HuyingProblem, WorkOrder
from huying.clock import FakeClock

from .driver import Driver
from .inprocess import HTTP_PATIENCE, free_port, serve_in_thread


@pytest.fixture
def base_url(services: Services, request: pytest.FixtureRequest) -> str:
    """huying served by uvicorn over TCP, in a thread of this process (so the fake clock and
    the tokens of the shared fixtures are the server's)."""
    return serve_in_thread(create_app(services=services), services.settings, request).base_url


@pytest.fixture
def http(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=HTTP_PATIENCE) as c:
        yield c


@pytest.fixture
def driver(http: httpx.Client, tokens: Any, clock: FakeClock) -> Driver:
    """Raises calls and drives them (community → street → 派单 to CG, ZJ assisting) over HTTP."""
    return Driver(http, tokens, clock)  # type: ignore[arg-type]  # an httpx.Client, as httpx.Client is


class Sleeps(list[float]):
    """Stands in for time.sleep: remembers every delay, sleeps none."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


class Forward(httpx.BaseTransport):
    """The real transport, remembering every request that went through it."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.requests: list[httpx.Request] = []
        self.sent = threading.Event()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.sent.set()
        return self.forward(request)

    def forward(self, request: httpx.Request) -> httpx.Response:
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()

    def posts(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == "POST"]

    def gets(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == "GET"]


class LoseAnswers(Forward):
    """For the first ``n`` matching requests with an Idempotency-Key not seen before: the
    request reaches the server and is acted on; its answer is read, kept in ``lost``, and
    replaced by a network error, as when a connection drops on the way back."""

    def __init__(self, n: int, match: Callable[[httpx.Request], bool], error: type[httpx.TransportError]):
        super().__init__()
        self.n, self.match, self.error = n, match, error
        self.lost: list[dict[str, Any]] = []
        self.keys: set[str | None] = set()

    def forward(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        key = request.headers.get("Idempotency-Key")
        if len(self.lost) < self.n and self.match(request) and key not in self.keys:
            self.keys.add(key)
            self.lost.append(json.loads(response.read()))
            response.close()
            raise self.error("connection dropped before the answer arrived", request=request)
        return response


class Refuse(Forward):
    """The first ``n`` matching requests are answered ``status`` (with ``headers``) in front of
    the server, which never sees them; later ones go through."""

    def __init__(
        self,
        n: int,
        status: int,
        headers: dict[str, str] | None = None,
        match: Callable[[httpx.Request], bool] = lambda r: True,
        problem: str | None = None,
    ) -> None:
        super().__init__()
        self.n, self.status, self.headers, self.match = n, status, headers or {}, match
        self.problem = problem  # the answer's problem type, or a plain-text "busy"
        self.refused = 0

    def forward(self, request: httpx.Request) -> httpx.Response:
        if self.refused < self.n and self.match(request):
            self.refused += 1
            if self.problem is None:
                return httpx.Response(self.status, headers=self.headers, text="busy", request=request)
            body = {"type": self.problem, "title": "Refused", "status": self.status, "detail": "made up"}
            headers = {**self.headers, "Content-Type": "application/problem+json"}
            return httpx.Response(self.status, headers=headers, json=body, request=request)
        return self.inner.handle_request(request)


MakeClient = Callable[..., DepartmentClient]


@pytest.fixture
def department(base_url: str, tokens: Any) -> Iterator[MakeClient]:
    """``department("CG", transport=..., sleep=...)``: a client with a CG department token;
    sleeps are recorded, never slept, unless a test passes its own ``sleep``."""
    made: list[DepartmentClient] = []

    def make(unit: str = "CG", *, token_unit: str | None = None, **kw: Any) -> DepartmentClient:
        kw.setdefault("sleep", Sleeps())
        kw.setdefault("timeout", HTTP_PATIENCE)
        token = tokens.token("department", token_unit or unit)
        client = DepartmentClient(base_url, token, unit, **kw)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def history(driver: Driver, call_id: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = driver.get(f"/api/v1/calls/{call_id}/history").json()["data"]
    return entries


def types(driver: Driver, call_id: str) -> list[str]:
    return [e["type"] for e in history(driver, call_id)]


def is_post(action: str) -> Callable[[httpx.Request], bool]:
    return lambda r: r.method == "POST" and r.url.path.endswith(f"/{action}")


# --- the queue -----------------------------------------------------------------------------


def test_the_department_pulls_its_queue_then_signs_and_completes(
    driver: Driver, department: MakeClient
) -> None:
    calls = [driver.drive("dispatched") for _ in range(3)]  # 派单: CG leads, ZJ assists
    transport = Forward()
    cg = department("CG", transport=transport)

    written = calls[-1].call["position"]  # the queue includes it before answering (read-your-writes)
    queue = cg.orders(status="dispatched", wait=0, page_size=2, stop_when_empty=True, min_position=written)
    got = list(queue)
    assert [o.id for o in got] == [c.order_id(1) for c in calls], "every CG order, oldest first, once"
    first = got[0]
    assert isinstance(first, WorkOrder)
    assert (first.call_id, first.department_code, first.role, first.status) == (
        calls[0].id,
        "CG",
        "lead",
        "dispatched",
    )
    assert first.deadline.utcoffset() is not None and first.deadline > first.dispatched_at
    assert first.title == calls[0].call["title"] and first.signed_at is None and not first.overdue
    assert [o.cursor for o in got] == sorted({o.cursor for o in got})
    assert queue.cursor == got[-1].cursor and queue.delivered == 3
    assert len(transport.gets()) == 3, "two full pages of two and one, then the empty one ends it"
    assert [r.url.params.get("min_position") for r in transport.gets()] == [str(written), None, None]
    for r in transport.requests:
        assert r.headers["Authorization"].startswith("Bearer ")
        assert r.headers["User-Agent"].startswith("huying-client/")

    last = written
    for order in got:
        signed = cg.sign(order.id, note="已签收，安排清运")
        assert isinstance(signed, CallState) and signed.id == order.call_id
        assert signed.order_status(order.id) == "signed"
        done = cg.complete(order.id, result="已清运完毕并冲洗消杀")
        assert done.order_status(order.id) == "completed" and done.version == signed.version + 1
        assert done.order(order.id)["result"] == "已清运完毕并冲洗消杀"
        last = done.position
    for c in calls:
        kinds = types(driver, c.id)
        assert (kinds.count("WorkOrderSigned"), kinds.count("WorkOrderCompleted")) == (1, 1)

    # Resumed from the saved cursor: each order's latest change, once; no new 派单.
    everything = cg.orders(after=queue.cursor, wait=0, stop_when_empty=True, min_position=last)
    assert [(o.id, o.status) for o in everything] == [(c.order_id(1), "completed") for c in calls]
    assert list(cg.orders(after=queue.cursor, status="dispatched", wait=0, stop_when_empty=True)) == []

    # ZJ's queue holds its assisting orders only.
    zj = department("ZJ")
    assert [(o.id, o.role) for o in zj.orders(wait=0, max_orders=3)] == [
        (c.order_id(2), "assist") for c in calls
    ]


def test_the_long_poll_answers_as_soon_as_an_order_is_dispatched(
    base_url: str, tokens: Any, clock: FakeClock, driver: Driver, department: MakeClient
) -> None:
    waiting = driver.drive("street_in_progress")  # the street holds it; CG's queue is empty
    transport = Forward()
    cg = department("CG", transport=transport)
    queue = cg.orders(status="dispatched", wait=20)
    dispatching: list[float] = []
    failures: list[BaseException] = []

    def street_dispatches() -> None:
        try:
            assert transport.sent.wait(10), "the client never asked"
            time.sleep(0.3)  # the server has found nothing and is holding the request
            with httpx.Client(base_url=base_url, timeout=HTTP_PATIENCE) as own:
                dispatching.append(time.monotonic())
                Driver(own, tokens, clock).dispatch(waiting)  # type: ignore[arg-type]
        except BaseException as e:
            failures.append(e)

    street = threading.Thread(target=street_dispatches)
    street.start()
    started = time.monotonic()
    order = next(queue)
    answered = time.monotonic()
    street.join(timeout=10)
    assert not failures, failures
    assert order.id == waiting.order_id(1) and order.status == "dispatched"
    assert answered - started < 10, "answered by the dispatch, not by the 20 s wait running out"
    assert started < dispatching[0] < answered, "the answer came after the dispatch, in one request"
    assert len(transport.gets()) == 1, "one request held open, not the client polling"
    assert transport.gets()[0].url.params["wait"] == "20"


def test_stop_ends_the_stream_after_the_wait_in_progress(department: MakeClient) -> None:
    cg = department("CG")
    queue = cg.orders(wait=1)
    stopper = threading.Timer(0.2, cg.stop)
    stopper.start()
    started = time.monotonic()
    assert list(queue) == []
    assert time.monotonic() - started < 5
    assert queue.cursor == 0
    stopper.join()


# --- idempotency and retries -----------------------------------------------------------------


@pytest.mark.parametrize("error", [httpx.ConnectError, httpx.ReadTimeout])
def test_a_retry_after_a_lost_answer_signs_once_and_returns_the_original_answer(
    driver: Driver, department: MakeClient, error: type[httpx.TransportError]
) -> None:
    c = driver.drive("dispatched")
    transport = LoseAnswers(1, is_post("sign"), error)
    sleeps = Sleeps()
    cg = department("CG", transport=transport, sleep=sleeps)

    state = cg.sign(c.order_id(1), note="已签收")

    assert len(transport.lost) == 1, "the server acted on the first attempt; its answer was lost"
    assert state.raw == transport.lost[0], "the retry got the original answer"
    assert state.order_status(c.order_id(1)) == "signed"
    first, retry = transport.posts()
    key = first.headers["Idempotency-Key"]
    assert key and retry.headers["Idempotency-Key"] == key and retry.content == first.content
    assert len(sleeps) == 1
    signed = [e for e in history(driver, c.id) if e["type"] == "WorkOrderSigned"]
    assert len(signed) == 1 and signed[0]["idempotency_key"] == key
    assert signed[0]["position"] == state.position

    # A new logical 签收 has a new key: the server refuses it (409), nothing is retried.
    with pytest.raises(HuyingProblem) as refused:
        cg.sign(c.order_id(1))
    assert refused.value.status == 409
    assert transport.posts()[-1].headers["Idempotency-Key"] != key
    assert len(sleeps) == 1


def test_every_action_keeps_its_key_across_retries(driver: Driver, department: MakeClient) -> None:
    c = driver.drive("dispatched")
    order = c.order_id(1)
    transport = LoseAnswers(5, lambda r: r.method == "POST", httpx.ConnectError)
    cg = department("CG", transport=transport)
    deadline = driver.clock.now() + timedelta(days=5)

    cg.sign(order)
    cg.progress(order, "已联系物业，明早清运")
    cg.request_extension(order, deadline, "需协调物业")
    cg.complete(order, "已清运")

    posts = transport.posts()
    assert len(posts) == 8, "each of the four actions: one lost answer, one retry"
    for lost, retry in zip(posts[::2], posts[1::2], strict=True):
        assert lost.url.path == retry.url.path
        assert lost.headers["Idempotency-Key"] == retry.headers["Idempotency-Key"]
    assert len({p.headers["Idempotency-Key"] for p in posts}) == 4
    kinds = types(driver, c.id)
    for kind in ("WorkOrderSigned", "ProgressNoted", "ExtensionRequested", "WorkOrderCompleted"):
        assert kinds.count(kind) == 1, kinds


def test_a_key_of_your_own_makes_a_redelivered_order_harmless(driver: Driver, department: MakeClient) -> None:
    """The README's loop: 签收 under a key derived from the order, so the order delivered again
    after a crash (at-least-once) gets the original answer instead of a 409."""
    c = driver.drive("dispatched")
    cg = department("CG")
    first = cg.sign(c.order_id(1), note="已签收", idempotency_key=f"sign:{c.order_id(1)}")
    again = cg.sign(c.order_id(1), note="已签收", idempotency_key=f"sign:{c.order_id(1)}")
    assert again.raw == first.raw
    assert types(driver, c.id).count("WorkOrderSigned") == 1


def test_return_order(driver: Driver, department: MakeClient) -> None:
    c = driver.drive("dispatched")
    state = department("CG").return_order(c.order_id(1), "不属本部门职责，请派城管执法")
    assert state.status == "returned" and state.order_status(c.order_id(1)) == "returned"
    assert types(driver, c.id).count("WorkOrderReturned") == 1


def test_backoff_delays_grow_and_stay_capped(department: MakeClient) -> None:
    transport = Refuse(6, 503)
    sleeps = Sleeps()
    cg = department("CG", transport=transport, sleep=sleeps, retries=6, backoff=0.5, max_backoff=8)

    page = cg.queue_page()

    assert page.orders == () and page.next is None
    assert transport.refused == 6 and len(transport.requests) == 7
    assert len(sleeps) == 6
    for n, delay in enumerate(sleeps):
        full = min(8.0, 0.5 * 2**n)
        assert full / 2 <= delay <= full, (n, delay)
    assert all(a < b for a, b in itertools.pairwise(sleeps[:5])), sleeps  # growing up to the cap
    assert max(sleeps) <= 8


def test_retry_after_is_honoured(driver: Driver, department: MakeClient) -> None:
    c = driver.drive("dispatched")
    transport = Refuse(1, 429, {"Retry-After": "7"}, match=is_post("sign"))
    sleeps = Sleeps()
    state = department("CG", transport=transport, sleep=sleeps).sign(c.order_id(1))
    assert sleeps == [7.0]
    assert state.order_status(c.order_id(1)) == "signed"
    first, retry = transport.posts()
    assert first.headers["Idempotency-Key"] == retry.headers["Idempotency-Key"]


def test_a_409_concurrent_modification_is_retried_not_taken_for_already_done(
    driver: Driver, department: MakeClient
) -> None:
    """The call was busy and nothing was done (issue 10): the same request again, same key."""
    c = driver.drive("dispatched")
    busy = "/problems/concurrent-modification"
    transport = Refuse(2, 409, match=is_post("sign"), problem=busy)
    sleeps = Sleeps()
    state = department("CG", transport=transport, sleep=sleeps).sign(c.order_id(1))
    assert state.order_status(c.order_id(1)) == "signed"
    assert len(sleeps) == 2
    keys = {r.headers["Idempotency-Key"] for r in transport.posts()}
    assert len(transport.posts()) == 3 and len(keys) == 1
    assert types(driver, c.id).count("WorkOrderSigned") == 1


def test_retries_run_out(base_url: str, department: MakeClient) -> None:
    transport = Refuse(10, 502)
    sleeps = Sleeps()
    with pytest.raises(HuyingProblem) as busy:
        department("CG", transport=transport, sleep=sleeps, retries=2).queue_page()
    assert busy.value.status == 502 and busy.value.type == "about:blank" and busy.value.detail == "busy"
    assert len(transport.requests) == 3 and len(sleeps) == 2

    # Nobody listening: the network error itself, after the retries.
    sleeps = Sleeps()
    nowhere = DepartmentClient(f"http://127.0.0.1:{free_port()}", "t", "CG", retries=3, sleep=sleeps)
    with nowhere, pytest.raises(httpx.ConnectError):
        nowhere.sign("x-w1")
    assert len(sleeps) == 3


def test_the_stream_keeps_trying_through_an_outage(driver: Driver, department: MakeClient) -> None:
    c = driver.drive("dispatched")
    transport = Refuse(12, 503)
    sleeps = Sleeps()
    cg = department("CG", transport=transport, sleep=sleeps, retries=2, max_backoff=4)
    order = next(cg.orders(wait=0, min_position=c.call["position"]))
    assert order.id == c.order_id(1)
    assert len(sleeps) == 12 and max(sleeps) <= 4, "well past `retries`, each wait capped"


# --- refusals ----------------------------------------------------------------------------------


def test_refusals_are_problems_and_never_retried(
    base_url: str, driver: Driver, department: MakeClient
) -> None:
    c = driver.drive("signed")
    order = c.order_id(1)
    transport = Forward()
    sleeps = Sleeps()
    cg = department("CG", transport=transport, sleep=sleeps)

    with pytest.raises(HuyingProblem) as again:
        cg.sign(order)
    assert again.value.status == 409 and again.value.type == "/problems/transition-not-allowed"
    assert again.value.title and again.value.detail and again.value.body["status"] == 409

    with pytest.raises(HuyingProblem) as assist:
        department("ZJ", sleep=sleeps).sign(order)  # ZJ sees the call (it assists), not its order
    assert assist.value.status == 403 and assist.value.type == "/problems/not-permitted"

    with pytest.raises(HuyingProblem) as empty:
        cg.complete(order, result="   ")
    assert empty.value.status == 422 and [e["field"] for e in empty.value.errors] == ["result"]

    with pytest.raises(HuyingProblem) as stale:
        cg.complete(order, result="已清运", if_match=1)
    assert stale.value.status == 412

    with (
        DepartmentClient(base_url, "not-a-token", "CG", sleep=sleeps) as nobody,
        pytest.raises(HuyingProblem) as unknown,
    ):
        nobody.queue_page()
    assert unknown.value.status == 401 and unknown.value.type == "/problems/unauthorized"

    assert len(transport.posts()) == 3, "one request per refusal"
    assert sleeps == []
    assert types(driver, c.id).count("WorkOrderCompleted") == 0
    assert "409 Transition not allowed" in str(again.value)


def test_a_department_never_sees_another_departments_orders(driver: Driver, department: MakeClient) -> None:
    c = driver.drive("dispatched")  # CG leads, ZJ assists, SW has nothing to do with it

    sw = department("SW")
    assert list(sw.orders(wait=0, stop_when_empty=True)) == []
    with pytest.raises(HuyingProblem) as queue:
        next(department("CG", token_unit="SW").orders(wait=0))
    assert queue.value.status == 404 and queue.value.type == "/problems/not-found"
    for attempt in (lambda: sw.sign(c.order_id(1)), lambda: sw.work_order(c.order_id(1))):
        with pytest.raises(HuyingProblem) as hidden:
            attempt()
        assert hidden.value.status == 404 and hidden.value.type == "/problems/not-found"
    assert types(driver, c.id).count("WorkOrderSigned") == 0


# --- the cursor contract, with canned pages -----------------------------------------------------


def queue_item(order_id: str, cursor: int) -> dict[str, Any]:
    return {
        "id": order_id,
        "call_id": order_id.rsplit("-", 1)[0],
        "department_code": "CG",
        "role": "lead",
        "status": "dispatched",
        "deadline": "2026-11-26T09:00:00+08:00",
        "instructions": "三日内清运",
        "dispatched_at": "2026-11-23T09:00:00+08:00",
        "signed_at": None,
        "completed_at": None,
        "extension_until": None,
        "result": None,
        "round": 1,
        "cursor": cursor,
        "item_code": "C01-01",
        "title": "垃圾堆积",
        "street_code": "LW-LN",
        "call_status": "dispatched",
        "overdue": False,
        "added_later": "a field this client does not know",
    }


def test_the_cursor_never_passes_an_order_not_yet_handed_out() -> None:
    pages = {
        0: [queue_item("a-w1", 5), queue_item("b-w1", 7), queue_item("b-w2", 7)],
        7: [queue_item("c-w1", 9)],
    }
    asked: list[int] = []

    def answer(request: httpx.Request) -> httpx.Response:
        after = int(request.url.params["after"])
        asked.append(after)
        if asked == [0, 7]:  # the first stream's second pull: a network error, once
            raise httpx.ConnectError("flaky", request=request)
        items = pages.get(after, [])
        return httpx.Response(
            200, json={"data": items, "next": items[-1]["cursor"] if items else None, "position": 9}
        )

    sleeps = Sleeps()
    client = DepartmentClient(
        "http://huying.test", "t", "CG", transport=httpx.MockTransport(answer), sleep=sleeps
    )
    queue = client.orders(wait=0, stop_when_empty=True)
    seen = []
    for order in queue:
        seen.append((order.id, queue.cursor))
    assert seen == [("a-w1", 5), ("b-w1", 5), ("b-w2", 7), ("c-w1", 9)], "b-w1 and b-w2 move it together"
    assert asked == [0, 7, 7, 9] and len(sleeps) == 1
    assert queue.delivered == 4

    # Stopped in the middle of the tie: resuming from the cursor gives b-w1 again, loses nothing.
    asked.clear()
    two = client.orders(wait=0, max_orders=2)
    assert [o.id for o in two] == ["a-w1", "b-w1"] and two.cursor == 5
    assert asked == [0]

    # wait=0 and nothing new: it pulls once a second rather than spinning.
    pauses: list[float] = []

    def pause(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 3:
            idle.stop()

    quiet = DepartmentClient(
        "http://huying.test", "t", "CG", transport=httpx.MockTransport(answer), sleep=pause
    )
    idle = quiet.orders(after=9, wait=0)
    assert list(idle) == [] and pauses == [1.0, 1.0, 1.0] and idle.cursor == 9
    assert WorkOrder.from_json(queue_item("x-w1", 1)).raw["added_later"]
