"""What every huying aggregate records with each event, and remembers of each request.

Every event carries who acted (``actor``), at what business time (``at``) and under which request
(``idempotency_key``, ``fingerprint``). Folding an event also keeps the aggregate's bookkeeping,
in one place: when it last changed, when each kind of event first and last happened, and which
keyed requests it has carried out (so a repeat is answered from the record and writes nothing —
``huying.service_layer.command_path``). A call, a directive and a joint meeting all derive from
``HuyingAggregate``; their event classes, nested in them, keep their own stable topics.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from eventsourcing.domain import Aggregate


@dataclass(frozen=True)
class Remembered:
    """A request the aggregate has already carried out: where it landed and what it said."""

    version: int
    fingerprint: str | None


def request_scope(actor: Mapping[str, str], action: str, target: str | None = None) -> str:
    """Idempotency scope of a request: principal + path (the action, and the part acted on)."""
    return f"{actor['role']}|{actor['unit']}|{action}|{target or ''}"


class HuyingAggregate(Aggregate):
    """An aggregate whose events say who acted when, under which request."""

    if TYPE_CHECKING:  # set by the first event's fold (no dataclass fields on the base)
        updated_at: datetime
        stamps: dict[str, datetime]
        requests: dict[tuple[str, str], Remembered]

    class Event(Aggregate.Event):
        actor: dict[str, str]
        at: datetime
        idempotency_key: str | None
        fingerprint: str | None

        # Event class name → the action recording it: each aggregate's table, as data.
        actions: ClassVar[Mapping[str, str]] = {}

        def mutate(self, aggregate: Any) -> Any:
            folded = super().mutate(aggregate)
            if folded is not None:
                folded._record(self, created=aggregate is None)
            return folded

        @property
        def action(self) -> str:
            return self.actions[type(self).__name__]

        @property
        def acted_on(self) -> str | None:
            """The part of the aggregate acted on, when the action has one (a call's work order):
            a request's idempotency scope names it. (``action``, ``acted_on`` and ``actions`` are
            taken: no event field may have these names.)"""
            return None

    def remembered(self, scope: str, key: str) -> Remembered | None:
        """The earlier request with this idempotency key in this scope, if any."""
        return self.requests.get((scope, key))

    def _record(self, event: HuyingAggregate.Event, *, created: bool) -> None:
        """Every event's bookkeeping: stamps, and the keyed request it carried out."""
        if created:
            self.stamps, self.requests = {}, {}
        name = type(event).__name__
        self.updated_at = event.at
        self.stamps.setdefault(f"first_{name}", event.at)
        self.stamps[f"last_{name}"] = event.at
        if event.idempotency_key is not None:
            scope = request_scope(event.actor, event.action, event.acted_on)
            self.requests[(scope, event.idempotency_key)] = Remembered(self.version, event.fingerprint)
