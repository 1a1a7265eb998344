"""The one way a command is carried out, for every aggregate: get → (answer a repeat from the
record) → act → save, in the aggregate's turn, a race lost to another process tried again.

Idempotency lives in the event store itself: a create with a key gets a deterministic id
(``keyed_id``), so a retry collides with the first; an action carries its key inside its event
(``HuyingAggregate``), so a retry finds it in the aggregate's history. Either way "answered" and
"recorded once" are the same transaction. ``If-Match`` travels in the ``Command`` to the gate
(412); the seal and the wake-ups after a save are the log's (``HuyingApplication.save``).

An aggregate's application service holds a ``CommandPath`` for its kind and says, per command,
only what changes: ``path.act(principal, id, submission, "acknowledge", lambda a, cmd: ...)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar, cast
from uuid import UUID, uuid4, uuid5

from eventsourcing.persistence import IntegrityError

from huying.application import HuyingApplication, fold
from huying.domain.aggregate import HuyingAggregate, request_scope
from huying.domain.commands import Command
from huying.domain.errors import ConcurrentModification, IdempotencyKeyReused, NotFound
from huying.domain.principal import Principal
from huying.groupcommit import Beside, ExpectationUnmet, Expecting
from huying.onloop import off_loop
from huying.turns import pause_before

A = TypeVar("A", bound=HuyingAggregate)

# A lost race is tried again until at least this many attempts and this many seconds have
# passed: with several processes on one busy call, a count alone ran out under load (CI: the
# 30th of thirty supervisions from three processes answered 409 after eight lost races, each
# lost to a process whose next request was already at the store).
_SAVE_ATTEMPTS = 8
_SAVE_PATIENCE = 5.0  # seconds


@dataclass(frozen=True)
class Submission:
    """How a request identifies itself: its Idempotency-Key, body fingerprint and If-Match.
    ``legacy_fingerprint`` works out what earlier versions recorded for a body with personal
    data (compared with what they stored, never stored itself): only for a retry whose
    fingerprint differs from the record's, not for every request."""

    key: str | None = None
    fingerprint: str | None = None
    if_match: int | None = None
    legacy_fingerprint: Callable[[], str | None] | None = None

    def same_body(self, recorded: str | None) -> bool:
        if recorded == self.fingerprint:
            return True
        legacy = self.legacy_fingerprint() if self.legacy_fingerprint is not None else None
        return legacy is not None and recorded == legacy


@dataclass(frozen=True)
class Recorded(Generic[A]):
    """A command's result: the aggregate as it then stood, its log position, and whether this
    was a repeat of an earlier request answered from the record."""

    aggregate: A
    position: int
    replayed: bool = False


Change = Callable[[A, Command], None]


class CommandPath(Generic[A]):
    """Commands on the aggregates of one kind, saved to the one log."""

    def __init__(
        self,
        log: HuyingApplication,
        kind: type[A],
        *,
        noun: str,
        not_found: type[NotFound],
        visible: Callable[[Principal, A], bool],
        sees_all: Callable[[Principal], bool] = lambda _: False,
    ) -> None:
        self.log = log
        self.kind = kind
        self.noun = noun  # "call": how answers name the aggregate
        self.not_found = not_found
        self.visible = visible  # jurisdiction (辖区): outside it, the aggregate does not exist
        # Whom ``visible`` says yes to whatever the aggregate holds: their reads of the past
        # need not fold it to judge it (``history.Past``).
        self.sees_all = sees_all

    # --- reading ---------------------------------------------------------------------------

    def current(self, aggregate_id: UUID) -> A | None:
        """The aggregate as it stands now, from the event store; None when there is none of
        this kind under that id (every command reads it here)."""
        found = self.log.current(aggregate_id)
        return found if isinstance(found, self.kind) else None

    def get(self, principal: Principal, aggregate_id: UUID) -> A:
        """The aggregate, if it exists and lies in the principal's jurisdiction; else 404."""
        found = self.current(aggregate_id)
        if found is None or not self.visible(principal, found):
            raise self.missing(aggregate_id)
        return found

    def at_version(self, aggregate_id: UUID, version: int) -> A:
        """The aggregate as it stood at ``version`` (no jurisdiction check: callers made it)."""
        return cast(A, fold(self.log.events.get(aggregate_id, lte=version)))

    def missing(self, aggregate_id: UUID | str) -> NotFound:
        return self.not_found(f"no {self.noun} {aggregate_id} in your jurisdiction")

    # --- acting ------------------------------------------------------------------------------

    def command(self, principal: Principal, sub: Submission) -> Command:
        """Who asks, now (business time), and the request's identity."""
        return Command(
            principal=principal,
            at=self.log.clock.now(),
            idempotency_key=sub.key,
            fingerprint=sub.fingerprint,
            expected_version=sub.if_match,
        )

    def act(
        self,
        principal: Principal,
        aggregate_id: UUID,
        sub: Submission,
        action: str,
        change: Change[A],
        target: str | None = None,
    ) -> Recorded[A]:
        """get → (answer a repeat from the record) → act → save, in the aggregate's turn
        (``turns.py``); a race lost to another process is looked at again after a pause.

        The first try starts from the events this process already knows (``known_events``), when
        it knows them all: what it says yes to is stored only if they were still the whole
        history. A no, or a lost race, is said only on the stored events: then it is tried again
        from the store at once."""
        with self.log.turns.of(aggregate_id):
            remembered = cast(A | None, self.log.recalled(aggregate_id))
            if remembered is not None and self.visible(principal, remembered):
                try:
                    earlier = self._decide(principal, remembered, sub, action, change, target)
                except Exception:  # a refusal: said again below, on the stored events
                    pass
                else:
                    if earlier is not None:
                        return earlier
                    try:
                        return self._save(remembered)
                    except IntegrityError:
                        pass  # what it knew was not the whole history: looked at again at once
            self.log.known.forget(aggregate_id)
            give_up = time.monotonic() + _SAVE_PATIENCE
            attempt = 0
            while attempt < _SAVE_ATTEMPTS or time.monotonic() < give_up:
                if attempt:
                    time.sleep(pause_before(attempt))
                attempt += 1
                aggregate = self.get(principal, aggregate_id)
                if (earlier := self._decide(principal, aggregate, sub, action, change, target)) is not None:
                    return earlier
                try:
                    return self._save(aggregate)
                except IntegrityError:
                    # Another process wrote first. Look again: if it was this very request (a
                    # concurrent duplicate), the record answers it; if If-Match named the version
                    # we lost, the domain now says 412; otherwise the move is judged on the new
                    # state.
                    continue
        raise ConcurrentModification(f"{self.noun} {aggregate_id} kept changing; try again")

    def _decide(
        self,
        principal: Principal,
        aggregate: A,
        sub: Submission,
        action: str,
        change: Change[A],
        target: str | None,
    ) -> Recorded[A] | None:
        """The answer on record when this is a repeat; else None, the change made (its events
        pending) or refused (the domain's error)."""
        if sub.key is not None:
            scope = request_scope(principal.as_dict(), action, target)
            if (earlier := self.answer_from_record(aggregate, scope, sub)) is not None:
                return earlier
        change(aggregate, self.command(principal, sub))
        return None

    def _save(self, aggregate: A) -> Recorded[A]:
        recordings = self.log.save(aggregate)
        return Recorded(aggregate, recordings[-1].notification.id)

    def create(
        self,
        aggregate: A,
        *,
        earlier: Callable[[], Recorded[A] | None],
        undo: Callable[[], None] = lambda: None,
        expecting: Expecting | None = None,
        beside: Beside | None = None,
    ) -> Recorded[A]:
        """Saves a new aggregate. The store refuses a second copy of a keyed create (its id is
        ``keyed_id``): then ``earlier()`` answers as the first was answered. ``undo()`` runs when
        the aggregate was not stored (what was kept beside the event must not outlive it).
        ``expecting``: what else the create was judged on (``ExpectationUnmet`` when that has
        moved on). ``beside``: what is stored before the event (``HuyingApplication.save``)."""
        try:
            recordings = self.log.save(aggregate, expecting=expecting, beside=beside)
        except BaseException as e:
            off_loop(undo)  # each may wait on the database: not on the event loop (``onloop``)
            if not isinstance(e, IntegrityError) or isinstance(e, ExpectationUnmet):
                raise
            found = off_loop(earlier)
            if found is None:
                raise
            return found
        return Recorded(aggregate, recordings[-1].notification.id)

    def answer_from_record(self, aggregate: A, scope: str, sub: Submission) -> Recorded[A] | None:
        """The answer the earlier request with this key gave (the aggregate as that request left
        it), or None; 422 if the key came back with another body."""
        assert sub.key is not None
        earlier = aggregate.remembered(scope, sub.key)
        if earlier is None:
            return None
        if not sub.same_body(earlier.fingerprint):
            raise IdempotencyKeyReused("this Idempotency-Key was already used with a different body")
        then = self.at_version(aggregate.id, earlier.version)
        return Recorded(then, self.log.positions.at(aggregate.id, earlier.version), replayed=True)

    @staticmethod
    def keyed_id(namespace: UUID, principal: Principal, action: str, key: str | None) -> UUID:
        """A keyed create gets a deterministic id, so a retry collides with the first."""
        if key is None:
            return uuid4()
        return uuid5(namespace, f"{principal.role}|{principal.unit}|{action}|{key}")
