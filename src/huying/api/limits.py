"""No single client can stall the server: what one principal, or one client address, may have
going at once.

- **Share** (``FairShare``): ``principal_concurrency`` requests of each principal run at once
  whatever the others do; beyond that a principal borrows from ``shared_concurrency`` slots
  shared by all, so a lone busy principal (a hotline posting for a district) is not held to
  its own share. While the pool is taken, requests wait their turn in the event loop (a
  future, no thread), up to ``principal_queue`` per principal, beyond that 429; a freed slot
  goes to the waiting principal running the fewest. A request waiting for the read models
  steps out of the share while it waits.
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

import math
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse

from huying.api.lanes import Busy, FairShare, Lane
from huying.api.problems import problem
from huying.recently_used import RecentlyUsed
from huying.settings import Settings

__all__ = ["Busy", "FailureBudget", "Limits", "Ticket", "refused", "too_many", "waiting"]  # Busy: from lanes

# GET paths whose answers scan many rows or the whole log.
EXPENSIVE_READS = re.compile(
    r"^/api/v1/(exports/.*|events|dashboards/.*|scores/units|audit/verify|calls|ledger)/?$"
)


def too_many(exc: Busy) -> JSONResponse:
    """429 problem+json with Retry-After (from the gate, or raised by a wait)."""
    headers = {"Retry-After": str(exc.retry_after)}
    return problem(429, "too-many-requests", "Too many requests", exc.detail, headers=headers)


async def refused(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Busy)  # registered for Busy by create_app
    return too_many(exc)


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
        self._lock = threading.Lock()
        self._buckets: RecentlyUsed[str, tuple[float, float]] = RecentlyUsed(max_clients)  # tokens, at

    def spend(self, client: str) -> int | None:
        """Counts one failure; None while within budget, else seconds until the next is allowed."""
        rate = self.per_minute / 60
        now = self._monotonic()
        with self._lock:
            tokens, at = self._buckets.pop(client) or (float(self.per_minute), now)
            tokens = min(float(self.per_minute), tokens + (now - at) * rate)
            allowed = tokens >= 1
            self._buckets.put(client, (tokens - 1 if allowed else tokens, now))
        return None if allowed else max(1, math.ceil((1 - tokens) / rate))


class Limits:
    """The lanes of one app, built from Settings."""

    def __init__(self, settings: Settings) -> None:
        self.share = FairShare(
            "running requests of one principal",
            own=settings.principal_concurrency,
            pool=settings.shared_concurrency,
            queue=settings.principal_queue,
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
