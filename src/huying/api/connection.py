"""Connections of ``huying serve``: the deadlines uvicorn does not keep.

Measured on uvicorn 0.54 with h11 (its protocol here: httptools is not installed): a connection
that never sends a byte stays open for good (the keep-alive timer is armed only after an
answer); a request head dribbled a byte at a time stays open for good (every byte disarms that
timer); so does a body dribbled a byte at a time (the app waits on ``receive``). A handful of
such clients hold a server's sockets and tasks as long as they like. So every connection here is
always under one deadline, by phase:

- waiting for a request: ``idle`` s while no byte has come, ``head`` s to complete the head;
- receiving a body: ``body`` s plus one second per ``body_rate`` bytes received (a slow phone
  uploading a photo gets the time its bytes earn; a drip does not);
- while the app answers: none (its waits are bounded where they happen).

Past the deadline the connection is closed; an app still reading the body sees a disconnect.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import logging
from dataclasses import dataclass
from typing import Any

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from huying.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Deadlines:
    idle: float
    head: float
    body: float
    body_rate: int

    @classmethod
    def of(cls, settings: Settings) -> Deadlines:
        return cls(
            idle=settings.keepalive_seconds,
            head=settings.header_timeout_seconds,
            body=settings.body_timeout_seconds,
            body_rate=settings.body_min_bytes_per_second,
        )


class Phase(enum.Enum):
    REQUEST = "waiting for a request"
    BODY = "receiving a body"
    ANSWERING = "answering"


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, with a deadline on every phase but the app's own."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        deadlines: Deadlines,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.deadlines = deadlines
        self._phase = Phase.ANSWERING
        self._since = 0.0
        self._bytes = 0
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._track()

    def data_received(self, data: bytes) -> None:
        self._bytes += len(data)
        super().data_received(data)
        self._track()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._track()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _current(self) -> Phase:
        theirs = self.conn.their_state
        if theirs is h11.SEND_BODY:
            return Phase.BODY
        if theirs is h11.IDLE:
            return Phase.REQUEST
        return Phase.ANSWERING

    def _track(self) -> None:
        phase = self._current()
        if phase is not self._phase:
            self._phase, self._since, self._bytes = phase, self.loop.time(), 0
            self._arm()

    def _deadline(self) -> float | None:
        d = self.deadlines
        if self._phase is Phase.REQUEST:
            return self._since + (d.head if self._bytes else d.idle)
        if self._phase is Phase.BODY:
            return self._since + d.body + self._bytes / d.body_rate
        return None

    def _arm(self) -> None:
        self._disarm()
        deadline = self._deadline()
        if deadline is not None:
            self._timer = self.loop.call_at(deadline, self._expire)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        """The deadline as first set may have moved since (bytes earned time): look again."""
        self._timer = None
        deadline = self._deadline()
        if deadline is None or self.transport.is_closing():
            return
        if self.loop.time() < deadline:
            self._timer = self.loop.call_at(deadline, self._expire)
            return
        log.info("closing a connection from %s: too slow %s", self.client, self._phase.value)
        self.transport.close()


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """What ``huying serve`` gives uvicorn: the guarded protocol, the idle timeout, the workers'
    health-check timeout, no banner."""
    return {
        "http": functools.partial(GuardedH11Protocol, deadlines=Deadlines.of(settings)),
        "timeout_keep_alive": settings.keepalive_seconds,
        "timeout_worker_healthcheck": settings.worker_healthcheck_seconds,
        "server_header": False,
    }
