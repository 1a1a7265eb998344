"""审计: an aggregate's history as stored, and the aggregate as it stood at a version or a
business time (时间回溯) — for any aggregate kind, through its ``CommandPath``.

History names apart every stored event huying cannot vouch for (or that is gone); jurisdiction
is judged on the aggregate as its vouched-for events before the first such one make it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, cast
from uuid import UUID

from huying.application import fold
from huying.audit.vouch import EventUnvouched, Flaw, Tamper, named
from huying.domain.principal import Principal
from huying.service_layer.command_path import A, CommandPath


@dataclass(frozen=True)
class History:
    events: list[tuple[int, Any]]  # (log position, event), in version order
    unvouched: list[Flaw]  # stored events huying cannot vouch for, or that are gone


class Past(Generic[A]):
    """The past of the aggregates one ``CommandPath`` acts on."""

    def __init__(self, path: CommandPath[A]) -> None:
        self.path = path

    def history(self, principal: Principal, aggregate_id: UUID) -> History:
        """Every event of the aggregate in order, with its log position — and, named apart, any
        stored event huying cannot vouch for (or that is gone)."""
        log = self.path.log
        history, expected = History([], []), 1
        for stored in log.positions.logged(aggregate_id):
            version = stored.originator_version
            if version > expected:
                history.unvouched.append(self._gone(aggregate_id, expected))
            expected = version + 1
            try:
                event = log.past_events.decoded(stored)
            except EventUnvouched as e:
                history.unvouched.append(e.flaw)
                continue
            history.events.append((stored.id, event))
        first_flaw = min((f.version for f in history.unvouched), default=None)
        vouched = [e for _, e in history.events if first_flaw is None or e.originator_version < first_flaw]
        if not self._visible(principal, vouched):
            raise self.path.missing(aggregate_id)
        return history

    def then(
        self,
        principal: Principal,
        aggregate_id: UUID,
        *,
        as_of: datetime | None = None,
        version: int | None = None,
    ) -> A:
        """时间回溯: the aggregate as it stood at business time ``as_of``, or at ``version``.
        Whoever may see it now may see its past (like its history); 404 when it did not yet exist.

        Every stored event is vouched for (a flaw anywhere is refused, as in any read of the
        aggregate), but only those up to the moment asked about are decoded — unless the
        principal's jurisdiction is judged on the aggregate as it stands now, which needs them
        all."""
        stored = list(self.path.log.positions.logged(aggregate_id))
        noun = self.path.noun
        last = stored[-1].originator_version if stored else 0
        until = version or last

        def past(event: Any) -> bool:
            return bool(event.originator_version > until or (as_of and event.at > as_of))

        events = self._decoded(principal, aggregate_id, stored, past)
        if version is not None and version > last:
            raise self.path.not_found(f"{noun} {aggregate_id} has no version {version} (it is at {last})")
        then: Any = None
        for event in events:
            if past(event):
                break
            then = event.mutate(then)
        if then is None:
            when = as_of.isoformat() if as_of else "?"
            raise self.path.not_found(f"{noun} {aggregate_id} did not yet exist at {when}")
        return cast(A, then)

    def _decoded(
        self, principal: Principal, aggregate_id: UUID, stored: list[Any], past: Callable[[Any], bool]
    ) -> list[Any]:
        """The stored events decoded up to the first that is ``past`` (it included), the rest
        only vouched for — all decoded when the principal's view depends on the whole aggregate;
        404 outside the principal's jurisdiction."""
        known = self.path.log.past_events
        whole = not self.path.sees_all(principal)
        events: list[Any] = []
        for s in stored:
            if whole or not events or not past(events[-1]):
                events.append(known.decoded(s))
            else:
                known.vouched(s)
        if not self._visible(principal, events):
            raise self.path.missing(aggregate_id)
        return events

    def _visible(self, principal: Principal, events: list[Any]) -> bool:
        """Whether ``events`` make an aggregate of this kind in the principal's jurisdiction: folded
        only when that depends on what the aggregate holds (not for whoever sees them all)."""
        if not events:
            return False
        if self.path.sees_all(principal):
            return isinstance(events[0], self.path.kind.Event)
        aggregate = fold(events)
        return isinstance(aggregate, self.path.kind) and self.path.visible(principal, aggregate)

    def _gone(self, aggregate_id: UUID, version: int) -> Flaw:
        what = named(aggregate_id.hex, version, self.path.noun)
        return Flaw(None, aggregate_id.hex, version, Tamper.MISSING, f"{what} is gone from the log")
