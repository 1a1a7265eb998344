"""What huying can vouch for in its own log, one stored event at a time and in order.

- An event is **authentic** when its seal (``huying.audit.seal``) holds for its originator id,
  version, topic and state under a key this deployment holds. Events written before seals
  existed carry none: they are vouched for by the hash chain, and only up to the position
  recorded when seals began (``legacy_through``); an unsealed event beyond it is forged.
- A log is **in order** (``LogOrder``) when each originator's versions run 1, 2, 3 … at
  increasing positions, and each event lies beyond the position its writer had seen, where an
  event must then be.

The chain keeper, verify, the projector, the feed and history all ask here, so each judges a
stored event the same way. Nothing here depends on which aggregate an event belongs to.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple
from uuid import UUID

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from huying.audit.log import StoredLog
from huying.audit.seal import SealKeys, split
from huying.domain.errors import DomainError
from huying.projections.tables import projection_tracking

log = logging.getLogger(__name__)

# projection_tracking's row for "unsealed events are legacy up to here" (0: none are).
LEGACY_THROUGH = "audit-legacy-through"

Locate = Callable[[str, int], "int | None"]


class Tamper(StrEnum):
    FORGED = "forged"  # no seal, or one under no key of ours: huying did not write it
    ALTERED = "altered"
    MISSING = "missing"
    REORDERED = "reordered"
    EXTRA = "extra"
    TRUNCATED = "truncated"
    # Sealed by huying, or vouched for as legacy, yet this code cannot decode it (a topic or
    # shape it does not know): not tampering, but nothing can be built on it either.
    UNREADABLE = "unreadable"


@dataclass(frozen=True)
class Flaw:
    """A stored event huying cannot vouch for: where (None when read without a position),
    which event, how, and why."""

    position: int | None
    originator_id: str
    version: int
    kind: Tamper
    detail: str

    def sentence(self) -> str:
        where = f"position {self.position}" if self.position is not None else "an unknown position"
        return f"{where}: {self.kind.value} — {self.detail}"


class EventUnvouched(DomainError):
    """A stored event that huying cannot vouch for was about to be used (409 problem+json)."""

    kind = "event-unvouched"

    def __init__(self, flaw: Flaw) -> None:
        super().__init__(f"the stored record cannot be vouched for at {flaw.sentence()}; nothing was changed")
        self.flaw = flaw


def named(originator_id: str, version: int, topic: str | None = None) -> str:
    """``call 7c0e…-… version 3`` — the aggregate's name from the topic, when there is one."""
    what = topic.rpartition(":")[2].split(".")[0].lower() if topic else ""
    try:
        shown = str(UUID(hex=originator_id))
    except ValueError:
        shown = repr(originator_id)
    return f"{what or 'event'} {shown} version {version}"


class Alarm:
    """Where a follower of the log (the projector, the chain keeper) halted: the stored event it
    cannot vouch for. It retries every poll, so the alarm is logged once when raised and once
    when it stands down (the row restored, or a forged one removed)."""

    def __init__(self, who: str) -> None:
        self.who = who
        self.flaw: Flaw | None = None

    def sound(self, flaw: Flaw | None) -> None:
        if flaw != self.flaw:
            if flaw is not None:
                log.error("%s halted: cannot vouch for %s", self.who, flaw.sentence())
            else:
                log.warning("%s: the event it halted at is vouched for now, or gone; going on", self.who)
        self.flaw = flaw


class Checked(NamedTuple):  # a tuple: made for every event read, so made cheaply
    """A stored event as far as its own bytes go: the body to decode, the position its writer
    had seen (None for a legacy event), or the flaw."""

    body: bytes
    after: int | None
    flaw: Flaw | None = None


class Voucher:
    """Judges single stored events: seal, key, legacy boundary, and lying beyond ``after``."""

    def __init__(self, keys: SealKeys, engine: Engine) -> None:
        self.keys = keys
        self.engine = engine
        # Where a legacy event lies, for reads that come without positions (set by the app).
        self.locate: Locate | None = None
        self._legacy: int | None = None
        self._lock = threading.Lock()

    # --- the legacy boundary -----------------------------------------------------------------

    def legacy_through(self) -> int:
        """Unsealed events up to this position were written before seals existed (0: none)."""
        if self._legacy is None:
            with self.engine.connect() as conn:
                found = conn.execute(
                    select(projection_tracking.c.position).where(projection_tracking.c.name == LEGACY_THROUGH)
                ).scalar()
            if found is None:
                return 0  # not recorded yet: every event must be sealed
            self._legacy = int(found)
        return self._legacy

    def record_boundary(self, log: StoredLog) -> int:
        """Record once where seals begin: the unsealed events before the first sealed one are
        legacy. On an empty or all-sealed log that is 0, so no unsealed row is ever legacy."""
        with self._lock:
            if self._legacy is None and (through := self.legacy_through()) == 0:
                with self.engine.connect() as conn:
                    recorded = conn.execute(
                        select(projection_tracking.c.name).where(projection_tracking.c.name == LEGACY_THROUGH)
                    ).first()
                if recorded is None:
                    through = self._legacy_prefix(log)
                    try:
                        with self.engine.begin() as conn:
                            conn.execute(
                                insert(projection_tracking).values(name=LEGACY_THROUGH, position=through)
                            )
                    except IntegrityError:  # another process recorded it first
                        pass
                    self._legacy = None
            return self.legacy_through()

    @staticmethod
    def _legacy_prefix(log: StoredLog) -> int:
        through = 0
        for page in log.rows(0, log.head()):
            for row in page:
                if split(row.state)[1] is not None:
                    return through
                through = row.position
        return through

    # --- one event ---------------------------------------------------------------------------

    def check(
        self, originator_id: str, version: int, topic: str, state: Any, position: int | None
    ) -> Checked:
        event = (originator_id, version, topic, position)
        if not isinstance(state, bytes):
            return self._flaw(event, Tamper.ALTERED, "the state of {what} is stored as another type")
        body, seal = split(state)
        if seal is None:
            if self._is_legacy(originator_id, version, position):
                return Checked(state, None)
            if b'"_seal"' in state[-200:]:
                return self._flaw(event, Tamper.ALTERED, "the seal of {what} is damaged, or bytes follow it")
            return self._flaw(event, Tamper.FORGED, "{what} carries no seal: huying did not write it")
        if not self.keys.knows(seal.kid):
            return self._flaw(
                event,
                Tamper.FORGED,
                f"{{what}} is sealed under key {seal.kid}, which this deployment does not hold "
                "(forged, or HUYING_SECRET_KEY was changed)",
            )
        if not self.keys.holds(seal, originator_id, version, topic, body):
            return self._flaw(
                event,
                Tamper.ALTERED,
                "{what} no longer matches the seal huying wrote (its state, topic, version or "
                "originator changed)",
            )
        if position is not None and seal.after >= position:
            return self._flaw(
                event,
                Tamper.REORDERED,
                f"{{what}} was written when the log had reached position {seal.after}, "
                f"yet it lies at position {position}",
            )
        return Checked(body, seal.after)

    def _flaw(self, event: tuple[str, int, str, int | None], kind: Tamper, detail: str) -> Checked:
        """``detail`` with ``{what}`` naming the event: made only for a flaw, never per event read."""
        originator_id, version, topic, position = event
        where = self.where(originator_id, version, position)
        what = named(originator_id, version, topic)
        return Checked(b"", None, Flaw(where, originator_id, version, kind, detail.format(what=what)))

    def where(self, originator_id: str, version: int, position: int | None) -> int | None:
        """The event's position: as read, or looked up (a read through the repository has none)."""
        if position is None and self.locate is not None:
            return self.locate(originator_id, version)
        return position

    def _is_legacy(self, originator_id: str, version: int, position: int | None) -> bool:
        through = self.legacy_through()
        if through and position is None:
            position = self.where(originator_id, version, position)
        return position is not None and position <= through


class LogOrder:
    """Checks stored events fed in log order: each originator's versions 1, 2, 3 … at
    increasing positions; each sealed event beyond the position its writer had seen, which
    holds an event; no unsealed (legacy) event after a sealed one.

    ``start``: events up to there were judged before (the chained part, for the keeper), with
    ``versions`` the last version of each originator there, ``held`` saying whether a
    position there holds an event, and ``sealed_before`` whether any of them is sealed.
    """

    def __init__(
        self,
        locate: Locate,
        *,
        start: int = 0,
        versions: dict[str, int] | None = None,
        held: Callable[[int], bool] | None = None,
        sealed_before: bool = False,
    ) -> None:
        self._locate = locate
        self._start = self._last = start
        self._versions = versions if versions is not None else {}
        self._held = held
        self._gaps: set[int] = set()
        self._sealed_seen = sealed_before
        # Positions before ``start`` already asked about: every event of one save names the same
        # one (the log's head when it was written), and a save may hold thousands of events.
        self._held_known: dict[int, bool] = {}

    def check(
        self, position: int, originator_id: str, version: int, topic: str, after: int | None
    ) -> Flaw | None:
        """The flaw of the event at ``position`` in order, if any; else it is noted as seen."""
        flaw = self._judge(position, originator_id, version, topic, after)
        if flaw is None:
            self._gaps.update(range(self._last + 1, position))
            self._last = position
            self._versions[originator_id] = version
            self._sealed_seen = self._sealed_seen or after is not None
        return flaw

    def _exists(self, position: int) -> bool:
        if position <= self._start:
            if position not in self._held_known:
                self._held_known[position] = self._held is not None and self._held(position)
            return self._held_known[position]
        return position <= self._last and position not in self._gaps

    def _judge(self, position: int, oid: str, version: int, topic: str, after: int | None) -> Flaw | None:
        def flaw(kind: Tamper, detail: str) -> Flaw:
            return Flaw(position, oid, version, kind, detail)

        what = named(oid, version, topic)
        if after is None and self._sealed_seen:
            return flaw(Tamper.FORGED, f"{what} carries no seal, yet it lies after sealed events")
        if after and not self._exists(after):
            return flaw(
                Tamper.MISSING,
                f"{what} was written when position {after} held the log's newest event; "
                f"there is no event at position {after} now",
            )
        expected = self._versions.get(oid, 0) + 1
        if version == expected:
            return None
        if version < expected:
            return flaw(Tamper.REORDERED, f"{what} lies after version {expected - 1} of the same stream")
        gone = named(oid, expected, topic)
        elsewhere = self._locate(oid, expected)
        if elsewhere is None:
            return flaw(Tamper.MISSING, f"{gone} is gone from the log; {what} follows version {expected - 1}")
        return flaw(Tamper.REORDERED, f"{gone} lies at position {elsewhere}, after {what}")
