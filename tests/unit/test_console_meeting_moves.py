"""A meeting's page offers a move exactly when the meeting's own gate lets it through: before
and after the minutes, for everyone who may see the meeting, the moves ``meeting_moves`` offers
are the moves the service then accepts — but for putting a call on the agenda, which the call's
own table also decides (its holder only): offered to whom the meeting lets, refused on sending to
whom the call does not."""

from __future__ import annotations

import pytest
from test_meeting_matrix import PARTIES_BY_HAND, WHO, _move, _world

from huying.domain.errors import DomainError
from huying.domain.meeting_transitions import TABLE, Action
from huying.domain.principal import Principal
from huying.web.moves import meeting_moves

BEFORE_MINUTES, AFTER_MINUTES = Action.PROPOSE, Action.DECIDE  # ``_world`` holds the minutes for the latter


@pytest.mark.parametrize("stage", [BEFORE_MINUTES, AFTER_MINUTES], ids=["convened", "held"])
def test_the_moves_offered_are_the_moves_the_meeting_accepts(stage: Action) -> None:
    for name, parties in PARTIES_BY_HAND.items():
        if parties is None:  # cannot see it: no page to offer anything on
            continue
        huying, meeting_id, _ = _world(stage)
        meeting = huying.meetings.meeting_for(WHO[name], meeting_id)
        offered = set(meeting_moves(WHO[name], meeting, huying.clock.now(), huying.app.org))
        accepted = {a for a in TABLE if a is not Action.CONVENE and _accepts(stage, WHO[name], a)}
        assert offered - {Action.TABLE_CALL} == accepted - {Action.TABLE_CALL}, name
        assert accepted & {Action.TABLE_CALL} <= offered, name


def _accepts(stage: Action, principal: Principal, action: Action) -> bool:
    huying, meeting_id, call_id = _world(stage)
    try:
        _move(huying, action, meeting_id, call_id)(principal)
    except DomainError:
        return False
    return True
