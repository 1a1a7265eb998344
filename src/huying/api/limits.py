"""No single client can stall the server: what one principal, or one client address, may have
going at once.

- **Share**: at most ``principal_concurrency`` requests of one principal run at a time; more
  wait their turn in the event loop (a future, no thread), up to ``principal_queue``; beyond
  that, 429. A request waiting for the read models steps out of the share while it waits.
- **Expensive reads** (exports, the event feed, dashboards, unit scores, verify, search, the
  ledger): at most ``principal_expensive_reads`` of one principal at once; one more is 429.
- **Waiters** (``min_position`` and long-polls): at most ``principal_waiters`` of one principal
  at once; one more is 429 at once instead of waiting.
- **Token checks** per client address: at most ``client_token_checks`` at once (each is a
  database lookup in a worker thread); more wait their turn, up to ``principal_queue``; beyond
  that, 429 — before any lookup.
- **Failed authentication** per client address: a bucket of ``auth_failures_per_minute``
  refilled at that rate; once empty, a request without a valid token gets 429 and
  ``Retry-After`` instead of 401. Requests with a valid token are never counted nor refused.

All limits are per process (each uvicorn worker keeps its own).
"""

from __future__ import annotations

import asyncio
import math
import re
import threading
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse

from huying.api.problems import problem
from huying.settings import Settings

# GET paths whose answers scan many rows or the whole log.
EXPENSIVE_READS = re.compile(
    r"^/api/v1/(exports/.*|events|dashboards/.*|scores/units|audit/verify|calls|ledger)/?$"
)


class Busy(Exception):
    """One lane of a principal (or a client address) is full: 429 with Retry-After."""

    def __init__(self, detail: str, retry_after: int = 1) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after = retry_after


def too_many(exc: Busy) -> JSONResponse:
    """429 problem+json with Retry-After (from the gate, or raised by a wait)."""
    headers = {"Retry-After": str(exc.retry_after)}
    return problem(429, "too-many-requests", "Too many requests", exc.detail, headers=headers)


async def refused(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Busy)  # registered for Busy by create_app
    return too_many(exc)


class Lane:
    """Slots per key (a principal, a client address): ``capacity`` at once, ``queue`` more
    waiting their turn (in their event loop, holding no thread), anyone beyond refused with
    ``Busy``. Thread-safe: TestClient and several servers in one process each bring their own
    event loop."""

    def __init__(self, what: str, capacity: int, queue: int = 0) -> None:
        self.what = what
        self.capacity = capacity
        self.queue = queue
        self._lock = threading.Lock()
        self._held: dict[Hashable, int] = {}
        self._queued: dict[Hashable, deque[asyncio.Future[None]]] = {}

    def held(self, who: Hashable) -> int:
        return self._held.get(who, 0)

    def queued(self, who: Hashable) -> int:
        return len(self._queued.get(who, ()))

    async def acquire(self, who: Hashable) -> None:
        with self._lock:
            held = self._held.get(who, 0)
            if held < self.capacity:
                self._held[who] = held + 1
                return
            line = self._queued.setdefault(who, deque())
            if len(line) >= self.queue:
                if not line:
                    del self._queued[who]
                raise Busy(self._refusal())
            turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            line.append(turn)
        try:
            await turn
        except BaseException:
            if not self._leave(who, turn):
                self.release(who)  # the turn came as we gave up: pass it on
            raise

    def release(self, who: Hashable) -> None:
        """Frees a slot, or hands it straight to the first in line."""
        with self._lock:
            line = self._queued.get(who)
            while line:
                turn = line.popleft()
                if not line:
                    del self._queued[who]
                loop = turn.get_loop()
                if not loop.is_closed():
                    loop.call_soon_threadsafe(_grant, turn)
                    return
            held = self._held[who] - 1
            if held:
                self._held[who] = held
            else:
                del self._held[who]

    def _refusal(self) -> str:
        waiting = f", and {self.queue} waiting their turn" if self.queue else ""
        return f"at most {self.capacity} {self.what} at a time{waiting}; retry shortly"

    def _leave(self, who: Hashable, turn: asyncio.Future[None]) -> bool:
        """Takes a turn out of line; False if it was already handed a slot."""
        with self._lock:
            line = self._queued.get(who)
            if line is None or turn not in line:
                return False
            line.remove(turn)
            if not line:
                del self._queued[who]
            return True

    @asynccontextmanager
    async def slot(self, who: Hashable) -> AsyncIterator[None]:
        await self.acquire(who)
        try:
            yield
        finally:
            self.release(who)


def _grant(turn: asyncio.Future[None]) -> None:
    if not turn.done():
        turn.set_result(None)


@dataclass
class Ticket:
    """A request's admission: its place in its principal's share of running requests, and its
    expensive-read slot if it is one."""

    share: Lane
    who: Hashable
    expensive: Lane | None = None
    in_share: bool = True

    @asynccontextmanager
    async def stepped_aside(self) -> AsyncIterator[None]:
        """While a request waits (holding no thread), its share goes to the principal's others;
        afterwards it waits its turn again (429 if even the queue is full)."""
        self.share.release(self.who)
        self.in_share = False
        try:
            yield
        finally:
            await self.share.acquire(self.who)
            self.in_share = True

    def leave(self) -> None:
        if self.in_share:
            self.share.release(self.who)
        if self.expensive is not None:
            self.expensive.release(self.who)


class FailureBudget:
    """Failed authentications per client address: a token bucket of ``per_minute`` tokens,
    refilled continuously; the ``max_clients`` most recent addresses are remembered."""

    def __init__(
        self, per_minute: int, monotonic: Callable[[], float] = time.monotonic, max_clients: int = 100_000
    ) -> None:
        self.per_minute = per_minute
        self._monotonic = monotonic
        self._max_clients = max_clients
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, at

    def spend(self, client: str) -> int | None:
        """Counts one failure; None while within budget, else seconds until the next is allowed."""
        rate = self.per_minute / 60
        now = self._monotonic()
        with self._lock:
            tokens, at = self._buckets.pop(client, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - at) * rate)
            allowed = tokens >= 1
            self._buckets[client] = (tokens - 1 if allowed else tokens, now)
            while len(self._buckets) > self._max_clients:
                self._buckets.popitem(last=False)
        return None if allowed else max(1, math.ceil((1 - tokens) / rate))


class Limits:
    """The lanes of one app, built from Settings."""

    def __init__(self, settings: Settings) -> None:
        self.share = Lane(
            "running requests of one principal", settings.principal_concurrency, settings.principal_queue
        )
        self.expensive = Lane(
            "expensive reads of one principal (exports, feed, dashboards, scores, verify, search, ledger)",
            settings.principal_expensive_reads,
        )
        self.waiters = Lane(
            "waits for the read models of one principal (min_position, long-polls)",
            settings.principal_waiters,
        )
        self.token_checks = Lane(
            "token checks from one address", settings.client_token_checks, settings.principal_queue
        )
        self.auth_failures = FailureBudget(settings.auth_failures_per_minute)

    @staticmethod
    def is_expensive(method: str, path: str) -> bool:
        return method in ("GET", "HEAD") and EXPENSIVE_READS.match(path) is not None

    async def admit(self, who: Hashable, method: str, path: str) -> Ticket:
        """An expensive-read slot if the request is one (else Busy at once), then a share."""
        expensive = self.expensive if self.is_expensive(method, path) else None
        if expensive is not None:
            await expensive.acquire(who)
        try:
            await self.share.acquire(who)
        except BaseException:
            if expensive is not None:
                expensive.release(who)
            raise
        return Ticket(self.share, who, expensive)


@asynccontextmanager
async def waiting(request: Request) -> AsyncIterator[None]:
    """Around a wait for the read models: one of the principal's few waiters (else 429 at
    once), out of its share of running requests until the wait is over."""
    limits: Limits = request.app.state.limits
    ticket: Ticket | None = request.scope.get("state", {}).get("ticket")
    who = request.state.principal
    async with limits.waiters.slot(who):
        if ticket is None:
            yield
            return
        async with ticket.stepped_aside():
            yield
