"""huying.client — the Python client for department systems (区属部门对接系统).

A district department (区属部门) receives work orders (工单) when a street dispatches a call
(派单). Its own system pulls the department's queue, and answers each order over HTTP:
签收 (sign: accept it), 退单 (return: send it back, saying why), 申请延期 (ask for a later
deadline), 进展 (a progress note) and 办结 (complete: the work is done). This module does that
with httpx::

    from huying.client import DepartmentClient

    with DepartmentClient("https://huying.example", token, "CG") as huying:
        queue = huying.orders(after=load_cursor(), status="dispatched")
        for order in queue:
            huying.sign(order.id, note="已签收")
            save_cursor(queue.cursor)  # resume here after a restart

What it takes care of:

* **Authentication** — ``Authorization: Bearer <token>`` on every request (a ``department``
  token of that department: ``huying token create --role department --unit CG``), and a
  ``User-Agent`` naming the client, its version and the department.
* **The queue** — :meth:`DepartmentClient.orders` follows the cursor and long-polls
  (``wait=``), forever or until :meth:`OrderStream.stop` / a maximum count. The queue is a feed
  of *changes*: an order comes again each time it changes (signed, extended, cancelled …), and
  filtering by ``status`` picks which changes you see. :attr:`OrderStream.cursor` is what to
  persist: resuming from it delivers every order not yet handed to you (at least once).
* **Idempotency** — every action sends an ``Idempotency-Key`` (a uuid4 made once per logical
  call, or your own), reused on every retry: when the answer to a 签收 is lost on the way back,
  the retry gets the original answer and nothing is done twice.
* **Retries** — network errors (:class:`httpx.TransportError`), 502/503/504 and 429 are retried
  with exponential backoff and jitter; ``Retry-After`` is honoured. Any other error answer —
  401, 403, 404, 409, 412, 422 … — is raised at once as :class:`HuyingProblem` (the server's
  RFC 9457 problem: ``status``, ``type``, ``title``, ``detail``, ``errors``).
* **Webhooks** — instead of polling, a department can be told (``POST /api/v1/webhooks``):
  :func:`verify_webhook` checks a delivery's Standard Webhooks signature (constant-time) and
  timestamp, and returns its ``webhook-id`` — the key to handle each delivery once::

      webhook_id = verify_webhook(secret, request.headers, raw_body)  # WebhookVerificationError

Only the standard library and httpx are needed; the client never imports the server.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from huying import __version__
from huying.webhooks.signing import WebhookVerificationError, verify_webhook

__all__ = [
    "CallState",
    "DepartmentClient",
    "HuyingProblem",
    "OrderStream",
    "QueuePage",
    "WebhookVerificationError",
    "WorkOrder",
    "verify_webhook",
]

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 502, 503, 504})
"""Answers that mean "not now": retried with backoff (and ``Retry-After`` when given)."""

_IDLE_PAUSE = 1.0  # seconds between pulls of an empty queue when the stream does not long-poll
_MAX_EXPONENT = 32  # 2**32 × backoff is far beyond any max_backoff; keeps the float finite


# --- what the server answers -----------------------------------------------------------------


class HuyingProblem(Exception):
    """An error answer from huying: its RFC 9457 problem (``application/problem+json``).

    ``status`` is the HTTP status; ``type`` the stable kind (``/problems/transition-not-allowed``,
    ``/problems/not-permitted``, ``/problems/not-found`` …); ``title`` and ``detail`` say what
    went wrong in words (``detail`` names the rule); ``errors`` lists ``{"field", "message"}``
    for 422. An answer that is not problem+json (say a proxy's 502 page) gets
    ``type="about:blank"`` and the reason phrase as title.

    By status: 401 bad token · 404 no such order *or not yours* (existence does not leak) ·
    403 visible but not yours to act on · 412 stale ``If-Match`` · 409 the order's state
    forbids it (签收 of an order already signed, 办结 before 签收 …) · 422 a bad body, or an
    ``Idempotency-Key`` reused with another body.
    """

    def __init__(
        self,
        status: int,
        type: str = "about:blank",
        title: str = "",
        detail: str = "",
        errors: Iterable[Mapping[str, str]] = (),
        body: Mapping[str, Any] | None = None,
    ) -> None:
        self.status = status
        self.type = type
        self.title = title
        self.detail = detail
        self.errors: list[dict[str, str]] = [dict(e) for e in errors]
        self.body: dict[str, Any] = dict(body or {})
        super().__init__(str(self))

    def __str__(self) -> str:
        words = f"{self.status} {self.title}".strip()
        return f"{words}: {self.detail} ({self.type})" if self.detail else f"{words} ({self.type})"

    @classmethod
    def from_response(cls, response: httpx.Response) -> HuyingProblem:
        """The problem in an error response; tolerant of bodies that are not problem+json."""
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            text = response.text.strip()[:500]
            return cls(response.status_code, "about:blank", response.reason_phrase, text)
        errors = body.get("errors")
        return cls(
            status=response.status_code,
            type=str(body.get("type") or "about:blank"),
            title=str(body.get("title") or response.reason_phrase),
            detail=str(body.get("detail") or ""),
            errors=[e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else (),
            body=body,
        )


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


@dataclass(frozen=True)
class WorkOrder:
    """A work order (工单) as the department queue shows it: one entry per change.

    ``status`` is the order's: ``dispatched`` (派单, waiting for 签收), ``signed`` (签收),
    ``returned`` (退单), ``completed`` (办结), ``cancelled``. ``role`` is ``lead`` (主办) or
    ``assist`` (协办). ``call_status`` is the call's status. ``cursor`` is the log position of
    this change: the queue's cursor after this entry. ``overdue`` says whether an open order is
    past its ``deadline`` (限期) now. ``raw`` keeps the whole JSON item, including any field
    added to the API after this client was written.
    """

    id: str
    call_id: str
    department_code: str
    role: str
    status: str
    deadline: datetime
    instructions: str
    dispatched_at: datetime
    signed_at: datetime | None
    completed_at: datetime | None
    extension_until: datetime | None
    result: str | None
    round: int
    cursor: int
    item_code: str
    title: str
    street_code: str
    call_status: str
    overdue: bool
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> WorkOrder:
        deadline = _time(item["deadline"])
        dispatched_at = _time(item["dispatched_at"])
        assert deadline is not None and dispatched_at is not None, "the queue always carries both"
        return cls(
            id=str(item["id"]),
            call_id=str(item["call_id"]),
            department_code=str(item["department_code"]),
            role=str(item["role"]),
            status=str(item["status"]),
            deadline=deadline,
            instructions=str(item.get("instructions") or ""),
            dispatched_at=dispatched_at,
            signed_at=_time(item.get("signed_at")),
            completed_at=_time(item.get("completed_at")),
            extension_until=_time(item.get("extension_until")),
            result=item.get("result"),
            round=int(item.get("round") or 1),
            cursor=int(item["cursor"]),
            item_code=str(item.get("item_code") or ""),
            title=str(item.get("title") or ""),
            street_code=str(item.get("street_code") or ""),
            call_status=str(item.get("call_status") or ""),
            overdue=bool(item.get("overdue")),
            raw=dict(item),
        )


@dataclass(frozen=True)
class QueuePage:
    """One answer of ``GET /departments/{code}/work-orders``: the orders changed after the
    cursor (oldest change first); ``next`` is the cursor to continue from (``None`` when the
    page was empty: keep the cursor you had); ``position`` is how far the read models were."""

    orders: tuple[WorkOrder, ...]
    next: int | None
    position: int


@dataclass(frozen=True)
class CallState:
    """The call after an action: the server's ``Call`` answer (``raw`` is the whole body).

    ``position`` is the log position of the action's last event; ``version`` the call's
    version (send it as ``if_match=`` to act only if nobody acted in between).
    """

    id: str
    version: int
    position: int
    status: str
    level: str
    holder: str
    round: int
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> CallState:
        return cls(
            id=str(body["id"]),
            version=int(body["version"]),
            position=int(body["position"]),
            status=str(body["status"]),
            level=str(body.get("level") or ""),
            holder=str(body.get("holder") or ""),
            round=int(body.get("round") or 1),
            raw=body,
        )

    def order(self, order_id: str) -> Mapping[str, Any]:
        """One of the call's work orders, as JSON (``status``, ``deadline``, ``extension`` …)."""
        for o in self.raw.get("work_orders") or ():
            if o.get("id") == order_id:
                found: Mapping[str, Any] = o
                return found
        raise KeyError(order_id)

    def order_status(self, order_id: str) -> str:
        return str(self.order(order_id)["status"])


# --- the client --------------------------------------------------------------------------------


class _Stopped(Exception):
    """Raised inside a retry loop when the stream it serves was stopped."""


class DepartmentClient:
    """A department system's connection to huying (sync, on httpx; thread-safe for requests).

    ``base_url`` is the server (``https://huying.example``, or with a path prefix behind a
    proxy); ``token`` a bearer token of role ``department`` for ``department`` (its unit code,
    e.g. ``CG``). ``timeout`` is seconds per request (long-polls get ``wait`` on top).
    Retryable failures are tried ``retries`` more times, waiting about ``backoff`` × 2ⁿ seconds
    (jittered between half and all of it, at most ``max_backoff``) unless the server says
    ``Retry-After``. ``transport`` (an :class:`httpx.BaseTransport`) and ``sleep`` are there
    for tests. Use it as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        department: str,
        *,
        timeout: float = 10.0,
        retries: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        user_agent: str | None = None,
    ) -> None:
        if retries < 0 or backoff < 0 or max_backoff < 0 or timeout <= 0:
            raise ValueError("retries, backoff and max_backoff are ≥ 0, timeout > 0")
        self.department = department
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self._sleep = sleep
        self._random = random.Random()
        self._stopped = threading.Event()
        agent = user_agent or (
            f"huying-client/{__version__} (department {department}) python-httpx/{httpx.__version__}"
        )
        self._http = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}", "User-Agent": agent, "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"DepartmentClient({str(self._http.base_url)!r}, department={self.department!r})"

    def __enter__(self) -> DepartmentClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop every queue stream and close the connections."""
        self.stop()
        self._http.close()

    def stop(self) -> None:
        """Stop every :class:`OrderStream` of this client (safe from another thread or a signal
        handler). Each ends after its request or backoff sleep in progress, at most ``wait`` s."""
        self._stopped.set()

    # --- the queue ---------------------------------------------------------------------------

    def queue_page(
        self,
        after: int = 0,
        status: str | Iterable[str] | None = None,
        wait: float = 0,
        limit: int = 100,
        *,
        min_position: int | None = None,
        keep_trying: bool = False,
    ) -> QueuePage:
        """One pull of the department's queue: orders changed after ``after`` (a cursor),
        optionally only in the given ``status``\\ es; with ``wait`` the server holds an empty
        answer until new work arrives or ``wait`` seconds pass (it caps the wait itself).
        ``min_position`` (read-your-writes): answer only once the queue includes everything up
        to that log position — e.g. the ``position`` of an action just taken."""
        return self._queue_page(after, status, wait, limit, min_position, keep_trying, None)

    def _queue_page(
        self,
        after: int,
        status: str | Iterable[str] | None,
        wait: float,
        limit: int,
        min_position: int | None,
        keep_trying: bool,
        stopped: Callable[[], bool] | None,
    ) -> QueuePage:
        params: dict[str, str | int | float] = {"after": after, "limit": limit}
        if status is not None:
            params["status"] = status if isinstance(status, str) else ",".join(status)
        if wait > 0:
            params["wait"] = wait
        if min_position is not None:
            params["min_position"] = min_position
        response = self._request(
            "GET",
            f"/api/v1/departments/{quote(self.department, safe='')}/work-orders",
            params=params,
            timeout=httpx.Timeout(self.timeout, read=self.timeout + wait),
            keep_trying=keep_trying,
            stopped=stopped,
        )
        body = response.json()
        return QueuePage(
            orders=tuple(WorkOrder.from_json(item) for item in body["data"]),
            next=body.get("next"),
            position=int(body.get("position") or 0),
        )

    def orders(
        self,
        after: int = 0,
        status: str | Iterable[str] | None = None,
        wait: float = 25,
        *,
        page_size: int = 100,
        max_orders: int | None = None,
        stop_when_empty: bool = False,
        min_position: int | None = None,
        keep_trying: bool = True,
    ) -> OrderStream:
        """Iterate the department's queue from the cursor ``after`` (0: from the beginning),
        forever: following the cursor page by page and long-polling ``wait`` seconds when there
        is nothing new, yielding :class:`WorkOrder`\\ s.

        It ends when :meth:`OrderStream.stop` (or :meth:`stop`) is called, after ``max_orders``
        orders, or — with ``stop_when_empty`` — at the first empty answer (with ``wait=0``:
        "drain what is there"; ``wait=0`` without it pulls once a second). With ``keep_trying``
        (the default) network errors and 5xx/429 are retried for as long as it takes, so a
        server restart does not end the loop; other errors (a revoked token: 401) raise
        :class:`HuyingProblem`.

        ``status``: ``"dispatched"`` for new orders waiting for 签收 (派单 to you); leave it out
        to see every change (签收, 延期 granted, cancelled …). Persist
        :attr:`OrderStream.cursor` after handling each order, and pass it back as ``after``.
        ``min_position`` makes the first pull wait until the queue has caught up with that log
        position (read-your-writes, see :meth:`queue_page`).
        """
        return OrderStream(
            self, after, status, wait, page_size, max_orders, stop_when_empty, min_position, keep_trying
        )

    # --- actions on a work order ---------------------------------------------------------------

    def sign(
        self,
        order_id: str,
        note: str | None = None,
        *,
        idempotency_key: str | None = None,
        if_match: int | None = None,
    ) -> CallState:
        """签收: accept the work order; the department now owes its 办结 by the deadline.
        409 if it was already signed (or returned, completed, cancelled)."""
        body = {} if note is None else {"note": note}
        return self._act(order_id, "sign", body, idempotency_key, if_match)

    def return_order(
        self, order_id: str, reason: str, *, idempotency_key: str | None = None, if_match: int | None = None
    ) -> CallState:
        """退单: send the order back to the street, saying why (not this department's duty …).
        Counts in the department's 退单率."""
        return self._act(order_id, "return", {"reason": reason}, idempotency_key, if_match)

    def request_extension(
        self,
        order_id: str,
        until: datetime | str,
        reason: str,
        *,
        idempotency_key: str | None = None,
        if_match: int | None = None,
    ) -> CallState:
        """申请延期: ask the holder street for a later deadline ``until`` (an aware datetime or
        an RFC 3339 string); the street grants or denies it."""
        if isinstance(until, datetime):
            if until.tzinfo is None:
                raise ValueError("until must carry a time zone (e.g. datetime(..., tzinfo=UTC))")
            until = until.isoformat()
        return self._act(
            order_id, "request-extension", {"until": until, "reason": reason}, idempotency_key, if_match
        )

    def progress(
        self, order_id: str, note: str, *, idempotency_key: str | None = None, if_match: int | None = None
    ) -> CallState:
        """进展: a progress note on a signed order."""
        return self._act(order_id, "progress", {"note": note}, idempotency_key, if_match)

    def complete(
        self, order_id: str, result: str, *, idempotency_key: str | None = None, if_match: int | None = None
    ) -> CallState:
        """办结 (部门办结): the work is done; ``result`` says what was done. The street then
        resolves the call and the community runs the 回访 follow-up."""
        return self._act(order_id, "complete", {"result": result}, idempotency_key, if_match)

    def work_order(self, order_id: str) -> dict[str, Any]:
        """The work order as it is now (``GET /work-orders/{id}``), with ``call_version``."""
        body: dict[str, Any] = self._request("GET", f"/api/v1/work-orders/{quote(order_id, safe='')}").json()
        return body

    def _act(
        self,
        order_id: str,
        action: str,
        body: dict[str, Any],
        idempotency_key: str | None,
        if_match: int | None,
    ) -> CallState:
        # One key per logical call, made here and reused by every retry inside _request.
        headers = {"Idempotency-Key": idempotency_key or str(uuid.uuid4())}
        if if_match is not None:
            headers["If-Match"] = f'"{if_match}"'
        response = self._request(
            "POST", f"/api/v1/work-orders/{quote(order_id, safe='')}/{action}", json=body, headers=headers
        )
        return CallState.from_json(response.json())

    # --- transport: retries, backoff ---------------------------------------------------------

    def delay(self, attempt: int) -> float:
        """The backoff before retry ``attempt`` (0-based): between half and all of
        ``backoff`` × 2^attempt, capped at ``max_backoff``. Each range starts where the one
        before ends, so successive delays grow until the cap."""
        base = min(self.max_backoff, self.backoff * (1 << min(attempt, _MAX_EXPONENT)))
        return base / 2 + self._random.random() * base / 2

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str | int | float] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: httpx.Timeout | None = None,
        keep_trying: bool = False,
        stopped: Callable[[], bool] | None = None,
    ) -> httpx.Response:
        """Send until a final answer: 2xx returned, other answers raised as HuyingProblem;
        network errors and RETRY_STATUSES retried (``retries`` times, or forever with
        ``keep_trying``). The request — and so its Idempotency-Key — is the same every time."""
        attempt = 0
        while True:
            try:
                response = self._http.request(
                    method,
                    path,
                    json=json,
                    params=params,
                    headers=headers,
                    timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
                )
            except httpx.UnsupportedProtocol:
                raise  # a wrong base_url: no retry will help
            except httpx.TransportError as e:
                if not (keep_trying or attempt < self.retries):
                    raise
                wait = self.delay(attempt)
                log.warning("huying %s %s: %r; retry %d in %.2f s", method, path, e, attempt + 1, wait)
            else:
                if response.is_success:
                    return response
                if response.status_code not in RETRY_STATUSES or not (keep_trying or attempt < self.retries):
                    raise HuyingProblem.from_response(response)
                told = _retry_after(response)
                wait = self.delay(attempt) if told is None else told
                log.warning(
                    "huying %s %s: %d; retry %d in %.2f s",
                    method,
                    path,
                    response.status_code,
                    attempt + 1,
                    wait,
                )
            if stopped is not None and stopped():
                raise _Stopped
            self._sleep(wait)
            if stopped is not None and stopped():
                raise _Stopped
            attempt += 1


def _retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or an HTTP-date), or None."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when: datetime = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds: float = (when - datetime.now(UTC)).total_seconds()
    return max(0.0, seconds)


class OrderStream(Iterator[WorkOrder]):
    """The department's queue as an endless iterator (see :meth:`DepartmentClient.orders`).

    :attr:`cursor` is the position to resume from: it covers every order already handed out
    by ``next()``, and never passes one not yet handed out (two orders changed by one event —
    a re-dispatch cancelling the old order — share a cursor; it moves past them together).
    Save it after handling an order and a restart from it loses nothing; at worst the order
    you were handling when the system died comes again (at-least-once), so make handling
    idempotent (pass your own ``idempotency_key=``, or treat a 409 on 签收 as "already done").
    """

    def __init__(
        self,
        client: DepartmentClient,
        after: int,
        status: str | Iterable[str] | None,
        wait: float,
        page_size: int,
        max_orders: int | None,
        stop_when_empty: bool,
        min_position: int | None,
        keep_trying: bool,
    ) -> None:
        if after < 0 or wait < 0 or page_size < 1 or (max_orders is not None and max_orders < 0):
            raise ValueError("after, wait ≥ 0; page_size ≥ 1; max_orders ≥ 0")
        self._client = client
        self._status = status if status is None or isinstance(status, str) else tuple(status)
        self._wait = wait
        self._page_size = page_size
        self._max = max_orders
        self._stop_when_empty = stop_when_empty
        self._min_position = min_position  # for the first pull only
        self._keep_trying = keep_trying
        self._cursor = after  # everything up to here was handed out
        self._fetch_from = after  # the next page starts after this
        self._buffer: deque[WorkOrder] = deque()
        self._delivered = 0
        self._stopped = threading.Event()
        self._done = False

    @property
    def cursor(self) -> int:
        """Where to resume (``orders(after=cursor)``) without missing an order."""
        return self._cursor

    @property
    def delivered(self) -> int:
        """How many orders this stream has handed out."""
        return self._delivered

    def stop(self) -> None:
        """End the iteration (safe from another thread): after the request or backoff sleep in
        progress; orders fetched but not yet handed out are dropped (the cursor excludes them)."""
        self._stopped.set()

    def _should_stop(self) -> bool:
        return self._stopped.is_set() or self._client._stopped.is_set()

    def __iter__(self) -> OrderStream:
        return self

    def __next__(self) -> WorkOrder:
        while True:
            if self._done or self._should_stop() or (self._max is not None and self._delivered >= self._max):
                self._done = True
                self._buffer.clear()
                raise StopIteration
            if self._buffer:
                order = self._buffer.popleft()
                if not self._buffer or self._buffer[0].cursor != order.cursor:
                    self._cursor = max(self._cursor, order.cursor)
                self._delivered += 1
                return order
            try:
                page = self._client._queue_page(
                    self._fetch_from,
                    self._status,
                    self._wait,
                    self._page_size,
                    self._min_position,
                    self._keep_trying,
                    self._should_stop,
                )
            except _Stopped:
                continue
            self._min_position = None
            if not page.orders:
                if self._stop_when_empty:
                    self._done = True
                elif self._wait == 0:
                    self._client._sleep(_IDLE_PAUSE)  # no long-poll asked for: do not spin
                continue
            self._buffer.extend(page.orders)
            if page.next is not None:
                self._fetch_from = max(self._fetch_from, page.next)
