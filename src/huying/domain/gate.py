"""The one permission gate, over a transition table declared as data — for any aggregate.

An aggregate's lifecycle is a ``TransitionTable``: per action, the event it records, the parties
who may take it, the rule its state must meet (a guard that names the broken rule, or None) and
what it does. The aggregate says which of the table's parties a principal is (``parties``);
``check`` then answers every move in the order the HTTP contract gives: 403 (not a party the
table names) → 412 (If-Match stale) → 409 (the state forbids it). The API maps the refusals,
and the authorisation-matrix tests are generated from the same table.

``Situation`` is what a guard may read besides the aggregate: the time, and the part of it acted
on (a call's work order; a directive's target).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from huying.domain.errors import NotPermitted, StaleVersion, TransitionNotAllowed
from huying.domain.principal import Principal

ActionT = TypeVar("ActionT", bound=StrEnum)
PartyT = TypeVar("PartyT", bound=StrEnum)
StateT = TypeVar("StateT")
SituationT = TypeVar("SituationT")


@dataclass(frozen=True)
class Transition(Generic[ActionT, PartyT, StateT, SituationT]):
    """One row of a transition table."""

    action: ActionT
    event: str  # the event class's name: the stored topic's last part
    who: frozenset[PartyT]
    when: str  # the guard's rule, as the design documents state it
    guard: Callable[[StateT, SituationT], str | None]
    effect: str

    def refusal(self, state: StateT, situation: SituationT) -> str | None:
        """The rule the state breaks for this move, or None when it is allowed."""
        return self.guard(state, situation)


class TransitionTable(Mapping[ActionT, Transition[ActionT, PartyT, StateT, SituationT]]):
    """An aggregate's transitions by action, and the gate every move passes."""

    def __init__(
        self,
        noun: str,
        parties: Callable[[Principal, StateT, SituationT], set[PartyT]],
        transitions: Iterable[Transition[ActionT, PartyT, StateT, SituationT]],
    ) -> None:
        self.noun = noun  # how refusals name the aggregate: "call", "directive"
        self.parties = parties
        self._rows = {t.action: t for t in transitions}

    def __getitem__(self, action: ActionT) -> Transition[ActionT, PartyT, StateT, SituationT]:
        return self._rows[action]

    def __iter__(self) -> Iterator[ActionT]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def actions_by_event(self) -> dict[str, str]:
        """Event class name → the action that records it (idempotency scopes, the feed)."""
        return {t.event: t.action.value for t in self._rows.values()}

    def names(self, principal: Principal, action: ActionT, state: StateT, situation: SituationT) -> bool:
        """Whether the table names ``principal`` for ``action`` on this state (who, not when)."""
        return bool(self._rows[action].who & self.parties(principal, state, situation))

    def check(
        self,
        action: ActionT,
        principal: Principal,
        state: StateT,
        situation: SituationT,
        *,
        version: int,
        expected_version: int | None,
    ) -> None:
        """403 (who) → 412 (If-Match) → 409 (state), in that order, for every action."""
        transition = self._rows[action]
        if not self.names(principal, action, state, situation):
            names = ", ".join(sorted(p.value for p in transition.who))
            raise NotPermitted(
                f"{action.value}: only {names} may do this now; "
                f"you act as {principal.role} of {principal.unit}"
            )
        if expected_version is not None and expected_version != version:
            raise StaleVersion(
                f"If-Match names version {expected_version}; the {self.noun} is at version {version}"
            )
        refusal = transition.refusal(state, situation)
        if refusal is not None:
            raise TransitionNotAllowed(f"{action.value}: {refusal}")
