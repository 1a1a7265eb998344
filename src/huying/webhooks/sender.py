"""Delivers each active subscription's events, in log order, each subscription on its own.

One asyncio loop in a thread of its own runs one task per active subscription: read the log from
the subscription's position, POST each wanted step (signed, with a timeout on the whole attempt),
move the position after a 2xx, and after a failure wait out an exponential backoff before trying
the same step again — so a slow or unreachable receiver holds up its own subscription only, and
never a request thread or the projector. After ``pause_after`` failures in a row (or a 410 Gone)
the subscription pauses until resumed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import logging
import random
import socket
import ssl
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from huying import __version__
from huying.application import HuyingApplication
from huying.clock import Clock
from huying.webhooks.kinds import Envelope, wanted
from huying.webhooks.reader import LogReader
from huying.webhooks.signing import signed_headers
from huying.webhooks.ssrf import Refused, check_address, check_url
from huying.webhooks.store import ACTIVE, Subscription, Subscriptions

log = logging.getLogger(__name__)
_BATCH = 200  # log positions one read looks at
_MAX_CONCURRENT = 32  # deliveries in flight at once, over all subscriptions
_STOP_PATIENCE = 120.0  # seconds stop waits for the last read (see ``stop``)


@functools.cache
def _tls() -> ssl.SSLContext:
    """The certificate authorities receivers are checked against, read once a process: httpx's
    own default (certifi's bundle), which it would otherwise read anew for each client, 30–160 ms
    each time the sender starts (on every start of the webhooks duty)."""
    return httpx.create_ssl_context(trust_env=False)


@dataclass(frozen=True)
class Backoff:
    """base·3ⁿ⁻¹ seconds after the n-th failure in a row (±10% jitter), at most ``cap``; a
    receiver's Retry-After is honoured up to the cap."""

    base: float
    cap: float
    pause_after: int
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, failures: int, retry_after: float | None = None) -> float:
        wait: float = min(self.cap, self.base * 3.0 ** min(failures - 1, 60)) * self.rng.uniform(0.9, 1.1)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.cap))
        return wait


@dataclass(frozen=True)
class Attempt:
    status: int | None
    error: str | None
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Sender:
    def __init__(
        self,
        app: HuyingApplication,
        store: Subscriptions,
        clock: Clock,
        backoff: Backoff,
        *,
        timeout: float,
        allow_private: bool,
        poll_seconds: float = 1.0,
    ) -> None:
        self.app = app
        self.store = store
        self.clock = clock  # backoff's clock: the wall clock, or a fake one in tests
        self.backoff = backoff
        self.timeout = timeout
        self.allow_private = allow_private
        self.poll_seconds = poll_seconds
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._active = False
        self._tasks: dict[str, asyncio.Task[None]] = {}  # following, one per subscription
        self._retiring: dict[str, asyncio.Task[None]] = {}  # cancelled, not yet ended
        self._naps: dict[str, asyncio.Event] = {}
        self._wake: asyncio.Event | None = None
        self._stopping: asyncio.Event | None = None

    # --- from other threads ------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name="huying-webhook-sender", daemon=True
        )
        self._thread.start()
        ready.wait(10)

    def stop(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._halt)
        if self._thread is not None:
            # Until its last read is over: the app closes the store next, and closing SQLite under
            # a running read crashes the process. Reads end within the stores' own timeouts; a
            # busy machine can stretch one past 10 s (seen once in the test suite).
            self._thread.join(timeout=_STOP_PATIENCE)
            if self._thread.is_alive():
                log.error("the webhook sender did not stop within %s s", _STOP_PATIENCE)
            self._thread = None

    def set_active(self, active: bool) -> None:
        """Deliver while active (this process holds the webhooks duty); otherwise stand by."""
        self._active = active
        self.wake()

    def wake(self) -> None:
        """Something changed (a step stored, a subscription resumed, the clock moved): look now."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake_all)

    # --- the loop ----------------------------------------------------------------------------

    def _run(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._wake, self._stopping = asyncio.Event(), asyncio.Event()
        ready.set()
        try:
            loop.run_until_complete(self._supervise())
        finally:
            # A cancelled task's read may still be running on an executor thread; wait for it, so
            # nothing touches the store after ``stop`` returns (the app closes its connections next).
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    def _halt(self) -> None:
        if self._stopping is not None:
            self._stopping.set()
        self._wake_all()

    def _wake_all(self) -> None:
        if self._wake is not None:
            self._wake.set()
        for nap in self._naps.values():
            nap.set()

    async def _supervise(self) -> None:
        assert self._wake is not None and self._stopping is not None
        limits = httpx.Limits(max_connections=_MAX_CONCURRENT)
        async with httpx.AsyncClient(
            follow_redirects=False, trust_env=False, limits=limits, verify=_tls()
        ) as client:
            gate = asyncio.Semaphore(_MAX_CONCURRENT)
            while not self._stopping.is_set():
                try:
                    await self._keep_tasks(client, gate)
                except Exception:
                    log.exception("webhooks: could not read the subscriptions; trying again")
                await _nap(self._wake, self.poll_seconds)
            left = [*self._tasks.values(), *self._retiring.values()]
            for task in left:
                task.cancel()
            await asyncio.gather(*left, return_exceptions=True)

    async def _keep_tasks(self, client: httpx.AsyncClient, gate: asyncio.Semaphore) -> None:
        """One task per active subscription while this process delivers; none otherwise. A task
        let go is kept until it has ended (``_supervise`` waits for it at the end), and its
        subscription gets no new task before then: never two following one subscription."""
        ids = {s.id for s in await asyncio.to_thread(self.store.active)} if self._active else set()
        self._retiring = {sub_id: t for sub_id, t in self._retiring.items() if not t.done()}
        for sub_id, task in list(self._tasks.items()):
            if task.done() or sub_id not in ids:
                del self._tasks[sub_id]
                if not task.done():
                    task.cancel()
                    self._retiring[sub_id] = task
        for sub_id in ids - set(self._tasks) - set(self._retiring):
            self._naps[sub_id] = asyncio.Event()
            self._tasks[sub_id] = _task(self._follow(sub_id, client, gate), name=sub_id)

    def _follows(self, sub_id: str) -> bool:
        """Whether the running task still follows ``sub_id``: the sender is not stopping and has
        not let the task go. Checked between steps, because a cancellation can be lost: on Python
        3.11 ``wait_for`` swallows one that meets its awakened nap, and ``wake`` wakes the naps
        just as ``_keep_tasks`` or ``_halt`` lets the tasks go."""
        if self._stopping is None or self._stopping.is_set():
            return False
        return self._tasks.get(sub_id) is asyncio.current_task()

    async def _follow(self, sub_id: str, client: httpx.AsyncClient, gate: asyncio.Semaphore) -> None:
        reader = LogReader(self.app)
        nap = self._naps[sub_id]
        while self._follows(sub_id):
            got = await asyncio.to_thread(self.store.current, sub_id)
            if got is None or got[0].status != ACTIVE:
                return
            sub, secret = got
            now = self.clock.now()
            if sub.next_attempt_at is not None and sub.next_attempt_at > now:
                await _nap(nap, min((sub.next_attempt_at - now).total_seconds(), self.poll_seconds))
                continue
            envelopes, looked = await asyncio.to_thread(reader.read, sub.position, _BATCH)
            if looked == sub.position:
                await _nap(nap, self.poll_seconds)  # caught up with the log
                continue
            async with gate:
                await self._deliver_batch(sub, secret, envelopes, looked, client)

    async def _deliver_batch(
        self,
        sub: Subscription,
        secret: str,
        envelopes: list[Envelope],
        looked: int,
        client: httpx.AsyncClient,
    ) -> None:
        kinds, cursor = frozenset(sub.kinds), sub.position
        for e in envelopes:
            if not self._follows(sub.id):
                return  # what is left is delivered by whoever delivers next, from the cursor
            if not wanted(sub.principal, kinds, e, self.app.org):
                continue
            if not await self._attempt(sub, secret, e, client):
                return
            if not await asyncio.to_thread(self.store.delivered, sub.id, cursor, e.position):
                return  # replayed meanwhile: read again from where it now stands
            cursor = e.position
            sub = _cleared(sub)
        if looked > cursor:  # the rest looked at was not wanted
            await asyncio.to_thread(self.store.delivered, sub.id, cursor, looked)

    async def _attempt(self, sub: Subscription, secret: str, e: Envelope, client: httpx.AsyncClient) -> bool:
        webhook_id = f"msg_{sub.id.replace('-', '')}_{e.position}"
        started = time.monotonic()
        attempt = await self._post(
            client, sub.url, signed_headers(secret, webhook_id, int(time.time()), e.body), e.body
        )
        failures = 0 if attempt.ok else sub.failures + 1
        await asyncio.to_thread(
            self.store.log,
            subscription_id=sub.id,
            position=e.position,
            webhook_id=webhook_id,
            kind=e.kind,
            call_id=e.call_id,
            attempt=sub.failures + 1,
            at=self.clock.now(),
            status_code=attempt.status,
            outcome="delivered" if attempt.ok else "failed",
            error=attempt.error[:300] if attempt.error else None,
            duration_ms=int((time.monotonic() - started) * 1000),
        )
        if attempt.ok:
            return True
        pause = None
        if attempt.status == 410:
            pause = "the receiver answered 410 Gone"
        elif failures >= self.backoff.pause_after:
            pause = f"{failures} failed attempts in a row; the last: {attempt.error or attempt.status}"
        next_at = self.clock.now() + timedelta(seconds=self.backoff.delay(failures, attempt.retry_after))
        await asyncio.to_thread(self.store.failed, sub.id, failures, next_at, pause)
        return False

    async def _post(
        self, client: httpx.AsyncClient, url: str, signed: dict[str, str], body: bytes
    ) -> Attempt:
        headers = {
            **signed,
            "content-type": "application/json",
            "user-agent": f"huying-webhooks/{__version__}",
        }
        try:
            target, extensions, host_header = await self._pinned(url)
            headers["host"] = host_header
            response = await asyncio.wait_for(
                client.post(target, content=body, headers=headers, extensions=extensions), self.timeout
            )
        except Refused as e:
            return Attempt(None, f"refused: {e}")
        except TimeoutError:
            return Attempt(None, f"no answer within {self.timeout:g} s")
        except (httpx.HTTPError, OSError) as e:
            return Attempt(None, f"{type(e).__name__}: {e}" if str(e) else type(e).__name__)
        error = None if 200 <= response.status_code < 300 else f"answered {response.status_code}"
        return Attempt(response.status_code, error, _retry_after(response))

    async def _pinned(self, url: str) -> tuple[str, dict[str, Any], str]:
        """The URL with its host replaced by the checked address it resolves to (so a name cannot
        resolve elsewhere between the check and the connection), the TLS name, the Host header."""
        scheme, host, port = check_url(url)
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
        if not addresses:
            raise Refused(f"{host} does not resolve")
        for address in addresses:
            check_address(address, self.allow_private)
        parts = urlsplit(url)
        shown = f"[{addresses[0]}]" if addresses[0].version == 6 else str(addresses[0])
        target = urlunsplit((scheme, f"{shown}:{port}", parts.path or "/", parts.query, ""))
        host_header = parts.netloc.rpartition("@")[2]
        return target, ({"sni_hostname": host} if scheme == "https" else {}), host_header


def _cleared(sub: Subscription) -> Subscription:
    return replace(sub, failures=0, next_attempt_at=None)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    return float(value) if value.isdigit() else None


async def _nap(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), max(seconds, 0.0))
    event.clear()


def _task(coro: Coroutine[Any, Any, None], name: str | None = None) -> asyncio.Task[None]:
    return asyncio.get_running_loop().create_task(coro, name=name)
