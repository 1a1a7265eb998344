"""A database that does not answer is a 503, never a 500 and never a hang.

When PostgreSQL is stopped, restarting or unreachable — or a statement or lock waits past its
timeout, or SQLite stays locked past its busy timeout — every layer raises its own error class
(SQLAlchemy's, the eventsourcing library's, psycopg's, sqlite3's). This middleware sits outside
the gate, so it also catches the token lookup, and answers all of them alike: 503
problem+json with Retry-After. The client retries; with its Idempotency-Key a retry of a write
that did land gets the original answer.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import traceback
from pathlib import Path

import eventsourcing.persistence as es
import psycopg
import sqlalchemy.exc as sa
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from huying.api.problems import problem

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 2
_UNAVAILABLE = (
    sa.OperationalError,
    sa.InterfaceError,
    sa.TimeoutError,  # no pooled connection within the connect timeout
    es.OperationalError,
    es.InterfaceError,
    psycopg.OperationalError,  # connection lost, admin shutdown, statement/lock timeout, …
    psycopg.InterfaceError,
)
# sqlite3 says OperationalError for a missing table too: only these mean "not now".
_SQLITE_BUSY = ("database is locked", "database is busy", "unable to open database", "disk i/o error")


def _causes(exc: BaseException) -> list[BaseException]:
    """The error and what it wraps (SQLAlchemy's ``orig``, the library's ``__cause__``)."""
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and seen not in chain:
        chain.append(seen)
        seen = getattr(seen, "orig", None) or seen.__cause__
    return chain


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot answer now (as opposed to a wrong query)."""
    causes = _causes(exc)
    for cause in causes:
        if isinstance(cause, sqlite3.OperationalError):
            return str(cause).lower().startswith(_SQLITE_BUSY)
    return any(isinstance(cause, _UNAVAILABLE) for cause in causes)


def reason(exc: BaseException) -> str:
    """Why, in a few words, for /readyz and the log: the driver's own, last clause of its
    first line ("Connection refused", "canceling statement due to statement timeout")."""
    text = str(_causes(exc)[-1]).strip().splitlines()
    return (text[0].rpartition(": ")[2] if text else "") or type(exc).__name__


def driver_code(exc: BaseException) -> str:
    """The driver's own name for the error, for the log: SQLite's tells a busy timeout that ran
    out (``SQLITE_BUSY``) from a transaction that could not write at all (``SQLITE_BUSY_SNAPSHOT``),
    PostgreSQL's SQLSTATE a lock timeout from a lost connection."""
    for cause in _causes(exc):
        code = getattr(cause, "sqlite_errorname", None) or getattr(cause, "sqlstate", None)
        if code:
            return str(code)
    return type(_causes(exc)[-1]).__name__


def where_raised(exc: BaseException) -> str:
    """huying's innermost line the error passed through (``file.py:123 in function``): which
    write or read met the database that would not answer."""
    found = "?"
    for cause in _causes(exc):
        for frame in traceback.extract_tb(cause.__traceback__):
            if f"{os.sep}huying{os.sep}" in frame.filename:
                found = f"{Path(frame.filename).name}:{frame.lineno} in {frame.name}"
    return found


class DatabaseUnavailable:
    """ASGI middleware: a database error that escapes a request, before anything was sent, is
    answered 503 problem+json."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as e:
            if started or not is_unavailable(e):
                raise
            log.warning(
                "%s %s: database unavailable: %s (%s, at %s)",
                scope["method"],
                scope["path"],
                reason(e),
                driver_code(e),
                where_raised(e),
            )
            answer = problem(
                503,
                "database-unavailable",
                "Service unavailable",
                f"the database is unavailable ({reason(e)}); retry shortly — with the same "
                "Idempotency-Key, a write that was recorded after all gets its original answer",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
            await answer(scope, receive, send)
