"""Connections of ``huying serve``: the deadlines and the bound uvicorn does not keep.

The protocol is uvicorn's httptools one (llhttp, in C): reading a request and writing its answer
takes ~35 µs of CPU with it, guard included, against ~125 µs with h11, uvicorn's pure-Python
parser (in-process, ``docs/benchmarks.md``). Measured on uvicorn 0.54 with h11, and so in its
httptools protocol too (read, 0.55): a connection that never sends a byte stays open for good
(the keep-alive timer is armed only after an answer); a request head dribbled a byte at a time
stays open for good (every byte disarms that timer); so does a body dribbled a byte at a time
(the app waits on ``receive``). A handful of such clients hold a server's sockets and tasks as
long as they like. And httptools bounds no request head's size (h11 refused one past 16 KiB).
So every connection here is always under one deadline, by phase:

- waiting for a request: ``idle`` s while no byte has come, ``head`` s to complete the head, and
  a head of more than ``HEAD_LIMIT`` bytes is refused (431);
- receiving a body: ``body`` s plus one second per ``body_rate`` bytes received (a slow phone
  uploading a photo gets the time its bytes earn; a drip does not);
- while the app answers: none (its waits are bounded where they happen).

Past the deadline the connection is closed; an app still reading the body sees a disconnect.
What the parser cannot read is answered 400 as problem+json, like every other refusal.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import logging
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from huying.api.problems import problem
from huying.settings import Settings

log = logging.getLogger(__name__)
HEAD_LIMIT = 16 * 1024  # bytes of one request head: what h11 allowed
LINGER = 2.0  # seconds a refused connection's bytes are still read (see ``_refuse``)


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


class Reading(enum.Enum):
    """Where the parser stands in the request it is reading."""

    NOTHING = "between requests"
    HEAD = "in a head"
    BODY = "in a body"


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a deadline on every phase but the app's own."""

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
        self._reading = Reading.NOTHING
        self._answering = 0  # requests read whose answer is not complete (pipelined ones too)
        self._phase = Phase.ANSWERING
        self._since = 0.0
        self._bytes = 0  # received in this phase
        self._timer: asyncio.TimerHandle | None = None
        self._refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._track()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # read and dropped until the client closes, or the linger ends
        self._bytes += len(data)
        super().data_received(data)
        if self._refused or self.transport.is_closing():
            return
        if self._phase is Phase.REQUEST and self._reading is Reading.HEAD and self._bytes > HEAD_LIMIT:
            detail = f"a request head is at most {HEAD_LIMIT} bytes"
            self._refuse(431, "head-too-large", "Request header fields too large", detail)
            return
        self._track()

    # --- the parser's callbacks, each after uvicorn's own --------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reading = Reading.HEAD
        if self._answering:  # pipelined: read no more of it until the answer before is sent
            self.flow.pause_reading()  # (uvicorn resumes reading then), so its head stays small

    def on_headers_complete(self) -> None:
        before = self.cycle
        super().on_headers_complete()
        self._reading = Reading.BODY
        if self.cycle is not before:
            self._answering += 1

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._reading = Reading.NOTHING

    def on_response_complete(self) -> None:
        self._answering -= 1
        super().on_response_complete()
        self._track()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        self._refuse(400, "bad-http", "Bad request", f"the request is not valid HTTP/1.1 ({msg.rstrip('.')})")

    # --- the deadlines -------------------------------------------------------------------------

    def _current(self) -> Phase:
        if self._answering == 0:
            return Phase.REQUEST
        if self._answering == 1 and self._reading is Reading.BODY:
            return Phase.BODY  # the body of the request being answered
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

    def _refuse(self, status: int, kind: str, title: str, detail: str) -> None:
        """Answer what never reached the app as problem+json, then close gracefully: the answer
        and a FIN are sent, and what the client still sends is read and dropped for up to
        ``LINGER`` s — closing at once, with its bytes unread, would reset the connection and
        could destroy the answer before the client read it."""
        log.info("refusing a request from %s: %s", self.client, detail)
        answer = problem(status, kind, title, detail, headers={"connection": "close"})
        headers = [*self.server_state.default_headers, *answer.raw_headers]
        lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}".encode()]
        lines += [name + b": " + value for name, value in headers]
        self._refused = True
        self._disarm()
        self.transport.write(b"\r\n".join(lines) + b"\r\n\r\n" + answer.body)
        self.transport.write_eof()
        self._timer = self.loop.call_later(LINGER, self.transport.close)


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """What ``huying serve`` gives uvicorn: the guarded protocol, the idle timeout, the workers'
    health-check timeout, no banner."""
    return {
        "http": functools.partial(GuardedProtocol, deadlines=Deadlines.of(settings)),
        "timeout_keep_alive": settings.keepalive_seconds,
        "timeout_worker_healthcheck": settings.worker_healthcheck_seconds,
        "server_header": False,
    }
