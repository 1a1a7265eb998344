"""审计 event feed — the whole log in order, for auditors: position, the call (or directive) it
belongs to, type, version, actor, business time, recorded time and data.

A stored event huying cannot vouch for (``huying.audit.vouch``) is never shown as an event nor
skipped in silence: a feed page names it apart (``unvouched``), an export gives a line saying
where it lies and how it is flawed.

Events carry no reporter contact details (only the opaque ``reporter_ref``), and nothing here
looks a contact up, so neither the feed nor an export can show one; ``event_data`` is the one
place that decides what of an event's data is shown (a call's history shows the same).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from eventsourcing.persistence import Notification
from eventsourcing.utils import get_topic

from huying.application import HuyingApplication
from huying.audit.vouch import EventUnvouched, Flaw
from huying.domain.business_time import business_year
from huying.domain.call import ACTION_OF_EVENT, Call
from huying.domain.catalog_edits import CatalogEdits
from huying.domain.contact import shown_ref
from huying.domain.directive import ACTION_OF_DIRECTIVE_EVENT, Directive
from huying.domain.errors import InvalidCommand
from huying.domain.meeting import Meeting
from huying.domain.meeting_transitions import TABLE as MEETING_TABLE
from huying.domain.publication import TABLE as PUBLICATION_TABLE
from huying.domain.publication import Publication

MEETING_EVENTS = MEETING_TABLE.actions_by_event

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Event type → stored topic, for every event a call records (its class name, as always) and every
# event a directive, a meeting, a publication or the catalog edits record (``Directive.<class name>``,
# ``Meeting.<class name>``, ``Publication.<class name>``: a directive's Supervised or a meeting's
# Closed is not a call's).
EVENT_TYPES: dict[str, str] = {
    **{name: get_topic(getattr(Call, name)) for name in sorted(ACTION_OF_EVENT)},
    **{
        f"Directive.{name}": get_topic(getattr(Directive, name)) for name in sorted(ACTION_OF_DIRECTIVE_EVENT)
    },
    **{f"Meeting.{name}": get_topic(getattr(Meeting, name)) for name in sorted(MEETING_EVENTS)},
    **{
        f"Publication.{name}": get_topic(getattr(Publication, name))
        for name in sorted(PUBLICATION_TABLE.actions_by_event)
    },
    **{
        f"CatalogEdits.{name}": get_topic(getattr(CatalogEdits, name))
        for name in sorted(CatalogEdits.Event.actions)
    },
}
_BOOKKEEPING = frozenset(
    {"originator_id", "originator_version", "originator_topic", "timestamp", "actor", "at"}
    | {"idempotency_key", "fingerprint"}
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_SCAN_BUDGET = 10_000  # notifications one feed page may look at when a time filter skips many


# --- what to show ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """Business time ``[start, end)``; either side open."""

    start: datetime | None = None
    end: datetime | None = None

    def holds(self, at: datetime | None) -> bool:
        if at is None:
            return self.start is None and self.end is None
        return (self.start is None or at >= self.start) and (self.end is None or at < self.end)

    @property
    def open(self) -> bool:
        return self.start is None and self.end is None


def parse_bound(raw: str | None, name: str, *, end: bool = False) -> datetime | None:
    """An RFC 3339 instant (with offset), or a date: an Asia/Shanghai day, whole (``to`` a date
    covers that day)."""
    found = _instant(raw, name, end)
    if found is not None:
        try:
            business_year(found.year, "the time")
        except ValueError as e:
            raise InvalidCommand(name, str(e)) from None
    return found


def _instant(raw: str | None, name: str, end: bool) -> datetime | None:
    if raw is None or raw == "":
        return None
    if _DATE.fullmatch(raw):
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            raise InvalidCommand(name, f"{raw!r} is not a date") from None
        try:
            business_year(day.year, "the date")  # before a day is added to it
        except ValueError as e:
            raise InvalidCommand(name, str(e)) from None
        return datetime.combine(day + timedelta(days=1 if end else 0), time(), SHANGHAI).astimezone(UTC)
    try:
        instant = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidCommand(name, f"{raw!r}: give YYYY-MM-DD or an RFC 3339 time with offset") from None
    if instant.tzinfo is None:
        raise InvalidCommand(name, f"{raw!r} has no offset: give one (e.g. +08:00 or Z)")
    return instant.astimezone(UTC)


def window(start: str | None, end: str | None, names: tuple[str, str] = ("from", "to")) -> Window:
    """``[start, end)`` from two bounds (``parse_bound``); ``names`` are the parameters' own,
    for the 422 that names one."""
    first, last = names
    w = Window(parse_bound(start, first), parse_bound(end, last, end=True))
    if w.start is not None and w.end is not None and w.start >= w.end:
        raise InvalidCommand(last, f"{last} must be later than {first}")
    return w


def event_types(raw: str | None) -> tuple[str, ...]:
    """``"Raised,Closed"`` → the types, each a known event type (422 otherwise)."""
    names = tuple(dict.fromkeys(p.strip() for p in (raw or "").split(",") if p.strip()))
    unknown = [n for n in names if n not in EVENT_TYPES]
    if unknown:
        raise InvalidCommand(
            "type", f"unknown event type {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}"
        )
    return names


@dataclass(frozen=True)
class FeedQuery:
    types: tuple[str, ...] = ()
    window: Window = field(default_factory=Window)

    @property
    def topics(self) -> list[str]:
        return [EVENT_TYPES[t] for t in self.types]


# --- one event as the record shows it -----------------------------------------------------------


def plain(value: Any) -> Any:
    kind = type(value)
    if kind in _AS_IS:  # most of an event's values: asked first, and by exact type (an Enum of str is not)
        return value
    if kind is dict:
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


_AS_IS = frozenset({str, int, float, bool, type(None)})


def event_record(n: Notification, event: Any) -> dict[str, Any]:
    """One stored event as the feed and exports show it (``data`` already plain JSON, as in a
    call's history; the two times as datetimes, for the wire format to render)."""
    return {
        "position": n.id,
        "call_id": str(n.originator_id),  # the aggregate's id: a directive's events name theirs
        "type": event_type(event),
        "version": n.originator_version,
        "actor": getattr(event, "actor", None),
        "at": getattr(event, "at", None),
        "recorded_at": event.timestamp,
        "idempotency_key": getattr(event, "idempotency_key", None),
        "data": event_data(event),
    }


def event_type(event: Any) -> str:
    """The feed's name of an event's type (``EVENT_TYPES``): a call's by its class name, as
    always; another aggregate's qualified by it (``Directive.Issued``)."""
    return type(event).__name__ if isinstance(event, Call.Event) else type(event).__qualname__


def event_data(event: Any) -> dict[str, Any]:
    """An event's own data as history, the feed and exports show it: plain JSON, without the
    bookkeeping shown beside it (or, like the body fingerprint, never shown), and with a legacy
    reporter ref — derived from the reporter, so enumerable — withheld."""
    data = {k: plain(v) for k, v in event.__dict__.items() if k not in _BOOKKEEPING}
    if "reporter_ref" in data:
        data["reporter_ref"] = shown_ref(data["reporter_ref"])
    return data


# --- reading the log ------------------------------------------------------------------------------


def unvouched_record(n: Notification, flaw: Flaw) -> dict[str, Any]:
    """A stored event huying cannot vouch for, in its place in an export: where, and how —
    never its content, which nobody can vouch for."""
    return {
        "position": n.id,
        "call_id": str(n.originator_id),
        "version": n.originator_version,
        "unvouched": {"kind": flaw.kind.value, "detail": flaw.detail},
    }


@dataclass(frozen=True)
class FeedPage:
    records: list[dict[str, Any]]
    next: int | None  # where the following page starts; None at the end of the log
    position: int  # how far this page looked (resume here when next is None)
    unvouched: list[Flaw] = field(default_factory=list)  # stored events it cannot vouch for


class EventFeed:
    """The global ordered feed over ``recorder.select_notifications``."""

    def __init__(self, app: HuyingApplication) -> None:
        self.app = app

    def _select(self, after: int, limit: int, topics: Sequence[str], stop: int | None = None) -> Any:
        return self.app.recorder.select_notifications(
            start=after, limit=limit, stop=stop, topics=topics, inclusive_of_start=False
        )

    def page(self, query: FeedQuery, after: int, limit: int) -> FeedPage:
        """Up to ``limit`` matching events after the cursor. With a time filter a page looks at
        no more than a bounded number of events; ``next`` then says where to go on."""
        records: list[dict[str, Any]] = []
        unvouched: list[Flaw] = []
        position, scanned, topics = after, 0, query.topics
        while scanned < _SCAN_BUDGET:
            ask = limit - len(records) if query.window.open else min(max(limit, 500), _SCAN_BUDGET - scanned)
            batch = self._select(position, ask, topics)
            for n in batch:
                position, scanned = n.id, scanned + 1
                event, flaw = self._read(n)
                if flaw is not None:
                    unvouched.append(flaw)  # named apart, whatever its claimed time
                elif query.window.holds(getattr(event, "at", None)):
                    records.append(event_record(n, event))
                    if len(records) == limit:
                        return FeedPage(records, n.id, n.id, unvouched)
            if len(batch) < ask:
                return FeedPage(records, None, position, unvouched)
        return FeedPage(records, position, position, unvouched)

    def _read(self, n: Notification) -> tuple[Any, Flaw | None]:
        try:
            return self.app.mapper.to_domain_event(n), None
        except EventUnvouched as e:
            return None, e.flaw

    def stream(self, query: FeedQuery, batch: int = 1000) -> Iterator[list[dict[str, Any]]]:
        """Every matching event up to the log's head when the stream began, a batch at a time."""
        head = self.app.recorder.max_notification_id() or 0
        position = 0
        while position < head:
            notifications = self._select(position, batch, query.topics, stop=head)
            if not notifications:
                return
            records = []
            for n in notifications:
                event, flaw = self._read(n)
                if flaw is not None:
                    records.append(unvouched_record(n, flaw))
                elif query.window.holds(getattr(event, "at", None)):
                    records.append(event_record(n, event))
            if records:
                yield records
            position = notifications[-1].id
