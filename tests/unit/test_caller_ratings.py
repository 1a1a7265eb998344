"""一呼一评 by the caller, on the aggregate: who may rate what, when — written out by hand from
the issue's rule, not read from the transition table, so that a wrong table fails here.

The street that dispatched a department's work order rates it once the call is resolved (the
department having signed or returned it); the community whose call went up rates its street's
response once the street resolved it. One rating each; never by the rated unit; nobody else."""

from __future__ import annotations

import pytest
from calls import PRINCIPALS, RECIPES, STREET, Story, build, replay, state_of

from huying.domain.errors import InvalidCommand, NotPermitted, TransitionNotAllowed
from huying.domain.states import OrderStatus, Satisfaction

OK, FORBIDDEN, REFUSED = "succeeds", "NotPermitted", "TransitionNotAllowed"

# States in which the street has resolved a call its departments worked on.
RESOLVED_AFTER_DEPARTMENTS = {
    "resolved at department",
    "satisfied at department",
    "dissatisfied at department",
    "closed at department",
}
# States in which the call's current round was resolved by the street it went up to.
STREET_RESOLVED = {"resolved at street", "dissatisfied at street", *RESOLVED_AFTER_DEPARTMENTS}
WITH_ORDERS = [s for s in sorted(RECIPES) if build(s).lead is not None]


def rate_order(story: Story, who: str, which: str = "lead") -> str:
    order = story.lead if which == "lead" else story.assist
    assert order is not None
    try:
        story.call.rate_work_order(story.cmd(who), order, Satisfaction.BASICALLY_SATISFIED, "按时清运")
    except NotPermitted:
        return FORBIDDEN
    except TransitionNotAllowed:
        return REFUSED
    return OK


def rate_response(story: Story, who: str) -> str:
    try:
        story.call.rate_response(story.cmd(who), Satisfaction.SATISFIED, None)
    except NotPermitted:
        return FORBIDDEN
    except TransitionNotAllowed:
        return REFUSED
    return OK


@pytest.mark.parametrize("state", WITH_ORDERS)
def test_only_the_dispatching_street_rates_a_work_order_and_only_once_resolved(state: str) -> None:
    outcomes = {who: rate_order(build(state), who) for who in PRINCIPALS}
    expected = {who: FORBIDDEN for who in PRINCIPALS}
    expected["street"] = OK if state in RESOLVED_AFTER_DEPARTMENTS else REFUSED
    assert outcomes == expected


@pytest.mark.parametrize("state", sorted(RECIPES))
def test_only_the_origin_community_rates_its_streets_response_and_only_once_resolved(state: str) -> None:
    outcomes = {who: rate_response(build(state), who) for who in PRINCIPALS}
    expected = {who: FORBIDDEN for who in PRINCIPALS}
    expected["community"] = OK if state in STREET_RESOLVED else REFUSED
    assert outcomes == expected


def test_a_work_order_is_rated_once_and_the_rating_names_the_department() -> None:
    story = build("resolved at department")
    assert rate_order(story, "street") == OK
    assert rate_order(story, "street") == REFUSED
    order = story.call.work_orders[story.lead or ""]
    assert order.rating is not None
    assert (order.rating.rated_unit, order.rating.satisfaction) == ("CG", Satisfaction.BASICALLY_SATISFIED)
    rated = story.call.collect_events()[-1]
    assert isinstance(rated, story.call.WorkOrderRated)
    assert (rated.department_code, rated.satisfaction, rated.actor["unit"]) == (
        "CG",
        "basically_satisfied",
        STREET,
    )


def test_an_assist_that_signed_is_rated_one_that_never_took_the_order_up_is_not() -> None:
    signed = build("resolved at department")  # the assist signed; the resolve cancelled it
    assert signed.call.work_orders[signed.assist or ""].status is OrderStatus.CANCELLED
    assert rate_order(signed, "street", "assist") == OK
    unsigned = build("dispatched")
    unsigned.sign()
    unsigned.complete()
    unsigned.resolve()  # the assist never signed: nothing it did to rate
    assert rate_order(unsigned, "street", "assist") == REFUSED


def test_a_returned_order_is_rated_after_the_redispatched_call_is_resolved() -> None:
    story = build("redispatched")
    returned = story.dispatches[0][0]
    story.sign()
    story.complete()
    story.resolve()
    story.call.rate_work_order(story.cmd("street"), returned, Satisfaction.DISSATISFIED, "无故退单")
    assert story.call.work_orders[returned].rating is not None


def test_the_streets_response_is_rated_once_per_round_and_names_the_street() -> None:
    story = build("dissatisfied at department")
    assert rate_response(story, "community") == OK
    assert rate_response(story, "community") == REFUSED
    story.reopen()  # round 2, back at the street
    assert rate_response(story, "community") == REFUSED  # round 2 is not resolved yet
    story.resolve()
    assert rate_response(story, "community") == OK
    ratings = story.call.response_ratings
    assert sorted(ratings) == [1, 2] and {r.rated_unit for r in ratings.values()} == {STREET}


def test_a_round_that_does_not_exist_is_invalid_and_an_earlier_one_can_still_be_rated() -> None:
    story = build("dissatisfied at street")
    story.reopen()
    story.resolve()
    with pytest.raises(InvalidCommand):
        story.call.rate_response(story.cmd("community"), Satisfaction.SATISFIED, None, 3)
    with pytest.raises(InvalidCommand):
        story.call.rate_response(story.cmd("community"), Satisfaction.SATISFIED, None, 0)
    story.call.rate_response(story.cmd("community"), Satisfaction.DISSATISFIED, "拖了一周", 1)
    assert list(story.call.response_ratings) == [1]


def test_ratings_replay_to_the_same_state() -> None:
    story = build("closed at department")
    rate_order(story, "street")
    rate_response(story, "community")
    assert state_of(replay(story.call.collect_events())) == state_of(story.call)


def test_every_event_of_a_call_has_a_webhook_kind() -> None:
    """A call's event without a kind would stop the webhook reader at it (KeyError)."""
    from huying.domain.call import ACTION_OF_EVENT
    from huying.webhooks.kinds import KIND_OF_EVENT

    assert set(ACTION_OF_EVENT) <= set(KIND_OF_EVENT)
