"""Duties one process of a deployment does at a time — projecting, keeping the audit chain,
watching SLA clocks, delivering webhooks — and what a long-running process runs besides
answering requests.

Any number of processes may offer a duty (API workers, `huying project` — on SQLite by default
the child of `huying serve`, ``huying.supervision`` —, `huying chain`, `huying watch`); the one
holding the duty's lock (``huying.locks``) does it, the others stand by and take over within
``duty_retry_seconds`` of the holder's death.

The lock keeps the work in one place; correctness never rests on it. The projector and the
chain keeper move their tracking rows conditionally (a second one loses its batch), and the
aggregate re-checks every watchdog move, so a moment with two holders — a lock lost with its
connection before the holder noticed — wastes work and never counts anything twice.
"""

from __future__ import annotations

import faulthandler
import gc
import logging
import os
from collections.abc import Iterable
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from huying.background import Follower
from huying.clock import FakeClock
from huying.locks import DutyLock, duty_lock
from huying.projections.runner import TRACKING_NAME
from huying.settings import Settings
from huying.wakeups import announce_clock, wakeups_for

if TYPE_CHECKING:
    from huying.bootstrap import Services

log = logging.getLogger(__name__)


class Duty(StrEnum):
    PROJECTOR = "projector"  # the read models
    CHAIN = "chain"  # 防篡改: the audit hash chain
    WATCHDOG = "watchdog"  # 超时自动上呼与督办
    WEBHOOKS = "webhooks"  # signed deliveries to subscribers (docs/interop.md)


def offered_by(settings: Settings) -> list[Duty]:
    """The duties an API server offers: each unless its HUYING_RUN_* setting is 0."""
    wanted = {Duty.PROJECTOR: settings.run_projector, Duty.CHAIN: settings.run_chain}
    wanted.update({Duty.WATCHDOG: settings.run_watchdog, Duty.WEBHOOKS: settings.run_webhooks})
    return [duty for duty, on in wanted.items() if on]


def log_to_stderr() -> None:
    """A long-running process says on stderr, once per line, which duties it takes and loses
    and when a database goes away (huying's own loggers, INFO and up); and if it dies of a
    fatal signal (a crash in C code: SIGSEGV, SIGBUS, SIGABRT…), where each thread stood."""
    faulthandler.enable()
    logger = logging.getLogger("huying")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


# How many new container objects the cyclic collector lets pile up before it walks the youngest
# of them, in a process that serves (CPython's default: 700).
_YOUNG_OBJECTS = 10_000


def settle_the_collector() -> None:
    """What a long-running process builds before it serves (the org, the catalog, the services,
    FastAPI's routes and models: some 180,000 objects) lives as long as the process. Frozen out of
    the cyclic collector's passes, they are no longer walked by each full pass, which took ~60 ms
    on this machine with every request of the process waiting behind it.

    Then the collector walks the young objects every ``_YOUNG_OBJECTS`` rather than every 700: a
    raise makes hundreds of containers, most gone by refcount within the request, and at 700
    the collector ran every request or so, promoting the in-flight requests' objects to the
    older generations and their full passes (every ~0.6 s, 5–13 ms each). Under P1's load on
    SQLite, at 700 the collector took ~7% of the API process's CPU: 0.955–0.963 ms a raise
    against 0.884–0.885 at 10,000, which is what the collector turned off entirely gives
    (0.888)."""
    gc.freeze()
    gc.set_threshold(_YOUNG_OBJECTS, *gc.get_threshold()[1:])


class Work(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


class Singleton:
    """Does ``work`` in this process only while it holds the lock of ``duty``: tries at once,
    then every ``retry_seconds`` — to take over from a holder that died, or to notice that the
    lock was lost (its database connection broke) and stop."""

    def __init__(self, duty: Duty, lock: DutyLock, work: Work, retry_seconds: float) -> None:
        self.duty = duty
        self.lock = lock
        self.work = work
        self.holding = False
        self._follower = Follower(f"huying-duty-{duty}", self._attempt, retry_seconds)

    def start(self) -> None:
        self._attempt()  # at once: the embedded default projects before its first request
        self._follower.start()

    def stop(self) -> None:
        self._follower.stop()
        if self.holding:
            self.work.stop()
            self.holding = False
        self.lock.release()

    def _attempt(self) -> None:
        held = self.lock.acquire()
        if held and not self.holding:
            log.info("pid %d holds the %s duty", os.getpid(), self.duty)
            self.work.start()
            self.holding = True
        elif not held and self.holding:
            log.warning("pid %d lost the %s lock; stops, and stands by", os.getpid(), self.duty)
            self.work.stop()
            self.holding = False


# The duties that follow the log: where one of them is done by another process, there is news.
_FOLLOWERS = frozenset({Duty.PROJECTOR, Duty.CHAIN, Duty.WEBHOOKS})


class Duties:
    """What one long-running process runs besides answering requests: the duties it offers, and
    a listener for the news of the deployment's other processes — events committed (the
    projector and chain keeper here start a batch), read models moved (requests waiting here to
    read their writes see it), the settable clock moved (the watchdog here sweeps)."""

    def __init__(self, services: Services, offered: Iterable[Duty], apart: bool | None = None) -> None:
        """``apart``: other processes of the deployment write, so listen for their news. Unsaid,
        an API server listens when it leaves a follower of the log to another process — not for
        a watchdog merely switched off (the tests' servers): on SQLite the listener looks at the
        files every few milliseconds, news that only a follower here could act on."""
        settings = services.settings
        work: dict[Duty, Work] = {
            Duty.PROJECTOR: services.projector,
            Duty.CHAIN: services.chain,
            Duty.WATCHDOG: services.watchdog,
            Duty.WEBHOOKS: services.webhooks,
        }
        self.singletons = [
            Singleton(duty, duty_lock(settings, duty), work[duty], settings.duty_retry_seconds)
            for duty in offered
        ]
        self._services = services
        here = {s.duty for s in self.singletons}
        if apart is None:
            apart = not here.issuperset(_FOLLOWERS)
        self.wakeups = wakeups_for(settings, apart=apart)
        self.wakeups.on_events(services.projector.wake)
        self.wakeups.on_events(services.chain.wake)
        self.wakeups.on_events(services.webhooks.wake)
        self.wakeups.on_tracked(TRACKING_NAME, services.projector.visible)
        # 读写延迟 (P5) in the process that serves the read: from its save's commit to the news
        # that the projector of another process has made it visible.
        services.projector.note_apart = self.wakeups.delivers and Duty.PROJECTOR not in here
        self.wakeups.on_clock(services.watchdog.wake)
        if isinstance(services.clock, FakeClock):
            engine = services.engine
            services.clock.on_moved(lambda: announce_clock(engine))

    def holding(self, duty: Duty) -> bool:
        return any(s.holding for s in self.singletons if s.duty is duty)

    def start(self) -> None:
        # 防篡改: where seals begin is known before anything is read here, whichever process
        # keeps the chain — otherwise a legacy call would read as forged until it is recorded.
        self._services.app.voucher.record_boundary(self._services.chain.log)
        self.wakeups.start()
        for singleton in self.singletons:
            singleton.start()

    def stop(self) -> None:
        for singleton in reversed(self.singletons):
            singleton.stop()
        self.wakeups.stop()
        self._services.projector.note_apart = False
