"""The moves a principal may make on a call now: asked of the transition table itself — the
parties it names (``parties``) and each transition's guard (``refusal``), the very two checks
the aggregate makes before every move (``Call._check``). The console shows a button for each
and nothing else; the command, when sent, is checked again by the aggregate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from huying.domain.call import Call
from huying.domain.principal import Principal
from huying.domain.states import WorkOrder
from huying.domain.transitions import TABLE, Action, Situation, Transition, on_work_order, parties


@dataclass(frozen=True)
class Move:
    action: Action
    order: WorkOrder | None = None  # the work order it acts on, for the department side and decisions

    @property
    def key(self) -> str:
        return f"{self.action.value}@{self.order.id}" if self.order else self.action.value


def _allowed(t: Transition, who: Principal, call: Call, situation: Situation) -> bool:
    return bool(t.who & parties(who, call, situation)) and t.refusal(call, situation) is None


def open_moves(who: Principal, call: Call, now: datetime, reopen_window: timedelta) -> list[Move]:
    """Every action of the table this principal may take on this call at ``now``, in the
    table's order; work-order actions once per order they may act on."""
    moves: list[Move] = []
    for action, t in TABLE.items():
        if action is Action.RAISE:
            continue
        if not on_work_order(t):
            if _allowed(t, who, call, Situation(now, None, reopen_window)):
                moves.append(Move(action))
            continue
        for order in call.orders_by_arrival:
            if _allowed(t, who, call, Situation(now, order, reopen_window)):
                moves.append(Move(action, order))
    return moves
