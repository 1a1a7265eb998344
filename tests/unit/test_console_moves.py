"""The call page offers a move exactly when the aggregate's own gate would let it through: for
every state of a call's life and everyone who might look at it, ``open_moves`` equals the set of
actions (per work order) that ``Call._check`` — the check every command makes — accepts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from calls import PRINCIPALS, RECIPES, build

from huying.domain.commands import Command
from huying.domain.errors import DomainError
from huying.domain.transitions import TABLE, Action, on_work_order
from huying.web.moves import open_moves

WINDOW = timedelta(days=7)


def _gate_lets_through(story, principal):  # type: ignore[no-untyped-def]
    call, now = story.call, story.now + timedelta(minutes=1)
    cmd = Command(principal, now)
    allowed = set()
    for action, transition in TABLE.items():
        if action is Action.RAISE:
            continue
        orders = call.orders_by_arrival if on_work_order(transition) else [None]
        for order in orders:
            try:
                call._check(action, cmd, order, WINDOW)
            except DomainError:
                continue
            allowed.add(f"{action.value}@{order.id}" if order else action.value)
    return allowed, now


@pytest.mark.parametrize("state", sorted(RECIPES))
def test_the_moves_offered_are_the_moves_the_aggregate_accepts(state: str) -> None:
    story = build(state)
    offered_to_someone = False
    for who, principal in PRINCIPALS.items():
        accepted, now = _gate_lets_through(story, principal)
        offered = {m.key for m in open_moves(principal, story.call, now, WINDOW)}
        assert offered == accepted, f"{state}, {who}"
        offered_to_someone |= bool(offered)
    assert offered_to_someone or story.call.status.value in ("closed", "withdrawn", "merged"), state
