"""The call page offers a move exactly when the aggregate's own gate would let it through: for
every state of a call's life and everyone who might look at it, ``open_moves`` equals the set of
actions (per work order, and the community's rating of its street per round) that
``Call._check`` — the check every command makes — accepts; before and after the caller's ratings."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from calls import PRINCIPALS, RECIPES, Story, build

from huying.domain.commands import Command
from huying.domain.errors import DomainError
from huying.domain.states import Satisfaction
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
        rounds = range(1, call.round + 1) if action is Action.RATE_RESPONSE else [None]
        for order, round_ in itertools.product(orders, rounds):
            try:
                call._check(action, cmd, order, WINDOW, round_)
            except DomainError:
                continue
            allowed.add(
                f"{action.value}@{order.id}"
                if order
                else f"{action.value}#{round_}"
                if round_
                else action.value
            )
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


def _rated(story: Story) -> Story:
    """The street rates every order it may, the community every round it may (the story's own
    actors, through the aggregate's commands)."""
    call = story.call
    for order in call.orders_by_arrival:
        if any(
            m.key == f"rate-work-order@{order.id}"
            for m in open_moves(PRINCIPALS["street"], call, story.now, WINDOW)
        ):
            call.rate_work_order(story.cmd("street"), order.id, Satisfaction.BASICALLY_SATISFIED, "基本到位")
    for round_ in range(1, call.round + 1):
        if any(m.round == round_ for m in open_moves(PRINCIPALS["community"], call, story.now, WINDOW)):
            call.rate_response(story.cmd("community"), Satisfaction.SATISFIED, None, round_)
    return story


@pytest.mark.parametrize(
    "state", ["resolved at department", "reopened from department", "reopened at street"]
)
def test_ratings_are_offered_until_given_and_then_no_more(state: str) -> None:
    story = build(state)
    before = {
        m.key
        for who in ("street", "community")
        for m in open_moves(PRINCIPALS[who], story.call, story.now, WINDOW)
    }
    assert any(k.startswith("rate-") for k in before), state
    _rated(story)
    for who, principal in PRINCIPALS.items():
        accepted, now = _gate_lets_through(story, principal)
        offered = {m.key for m in open_moves(principal, story.call, now, WINDOW)}
        assert offered == accepted, f"{state} rated, {who}"
        assert not any(k.startswith("rate-") for k in offered), f"{state} rated, {who}"
