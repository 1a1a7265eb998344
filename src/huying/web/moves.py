"""The moves a principal may make now, asked of the aggregate's own transition table — the
parties it names (``parties``) and each transition's guard (``refusal``), the very two checks
the aggregate makes before every move (``gate.TransitionTable.check``). The console shows a form
for each and nothing else; the command, when sent, is checked again by the aggregate. One rule
for every table: calls, directives (令行禁止) and joint meetings (联席会议)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from huying.domain import directive_transitions, meeting_transitions
from huying.domain.call import Call
from huying.domain.directive import Directive
from huying.domain.directive_states import Target
from huying.domain.gate import TransitionTable
from huying.domain.meeting import Meeting
from huying.domain.org import Org
from huying.domain.principal import Principal
from huying.domain.states import WorkOrder
from huying.domain.transitions import TABLE, Action, Situation, on_work_order

ActionT = TypeVar("ActionT", bound=StrEnum)
StateT = TypeVar("StateT")
SituationT = TypeVar("SituationT")


def allowed(
    table: TransitionTable[ActionT, Any, StateT, SituationT],
    action: ActionT,
    who: Principal,
    state: StateT,
    situation: SituationT,
) -> bool:
    """Whether the gate would let ``who`` take ``action`` now (who, then when)."""
    return table.names(who, action, state, situation) and table[action].refusal(state, situation) is None


@dataclass(frozen=True)
class Move:
    action: Action
    order: WorkOrder | None = None  # the work order it acts on, for the department side and decisions
    round: int | None = None  # the round whose street response it rates (社区评街道)

    @property
    def key(self) -> str:
        if self.order:
            return f"{self.action.value}@{self.order.id}"
        return f"{self.action.value}#{self.round}" if self.round else self.action.value


def open_moves(who: Principal, call: Call, now: datetime, reopen_window: timedelta) -> list[Move]:
    """Every action of the table this principal may take on this call at ``now``, in the
    table's order; work-order actions once per order they may act on, the community's rating of
    its street once per round it may still rate."""
    moves: list[Move] = []
    for action, t in TABLE.items():
        if action is Action.RAISE:
            continue
        if on_work_order(t):
            at = [Move(action, order=o) for o in call.orders_by_arrival]
        elif action is Action.RATE_RESPONSE:
            at = [Move(action, round=r) for r in range(1, call.round + 1)]
        else:
            at = [Move(action)]
        moves += [m for m in at if allowed(TABLE, action, who, call, _situation(m, now, reopen_window))]
    return moves


def _situation(move: Move, now: datetime, reopen_window: timedelta) -> Situation:
    return Situation(now, move.order, reopen_window, move.round)


@dataclass(frozen=True)
class DirectiveMove:
    action: directive_transitions.Action
    target: Target | None = None  # the target unit it acts on; None for the whole directive

    @property
    def key(self) -> str:
        return f"{self.action.value}@{self.target.unit}" if self.target else self.action.value


# Taken on the whole directive, not one target (issuing is a form of its own).
_DIRECTIVE_WIDE = (directive_transitions.Action.CANCEL,)


def directive_moves(who: Principal, directive: Directive, now: datetime) -> list[DirectiveMove]:
    """Every move this principal may make on this directive now: directive-wide ones, then
    each target's, in the table's order."""
    table, at = directive_transitions.TABLE, directive_transitions.Situation
    moves = [DirectiveMove(a) for a in _DIRECTIVE_WIDE if allowed(table, a, who, directive, at(now))]
    for target in directive.targets.values():
        for action in table:
            if action is directive_transitions.Action.ISSUE or action in _DIRECTIVE_WIDE:
                continue
            if allowed(table, action, who, directive, at(now, target)):
                moves.append(DirectiveMove(action, target))
    return moves


def meeting_moves(
    who: Principal, meeting: Meeting, now: datetime, org: Org
) -> list[meeting_transitions.Action]:
    """Every move this principal may make on this meeting now (convening is a form of its own;
    putting a call on the agenda is also the call's holder's to do, which the call's own table
    checks when it is sent)."""
    table, situation = meeting_transitions.TABLE, meeting_transitions.Situation(now, org)
    convene = meeting_transitions.Action.CONVENE
    return [a for a in table if a is not convene and allowed(table, a, who, meeting, situation)]
