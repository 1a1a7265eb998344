"""A directive's page offers a move exactly when the directive's own gate lets it through: for
every stage of a target and everyone who may look at it, the moves ``directive_moves`` offers on
that target (and the directive-wide cancel) are the moves the service then accepts."""

from __future__ import annotations

import pytest
from test_directive_gate import ASKERS, STAGES, UNIT, directive_in, outcome

from huying.domain.directive_transitions import TABLE, Action
from huying.domain.principal import Principal
from huying.web.moves import directive_moves


@pytest.mark.parametrize("stage", STAGES)
def test_the_moves_offered_are_the_moves_the_directive_accepts(stage: str) -> None:
    for asker, (principal, parties) in ASKERS.items():
        if parties is None:  # cannot see it: no page to offer anything on
            continue
        d, directive_id = directive_in(stage)
        directive = d.directive_for(principal, directive_id)
        offered = {
            m.action
            for m in directive_moves(principal, directive, directive.updated_at)
            if m.target is None or m.target.unit == UNIT
        }
        accepted = {
            action for action in TABLE if action is not Action.ISSUE and _accepts(stage, principal, action)
        }
        assert offered == accepted, f"{stage}, {asker}"


def _accepts(stage: str, principal: Principal, action: Action) -> bool:
    """Whether the service takes this move, tried on a directive of its own in that stage."""
    d, directive_id = directive_in(stage)
    return outcome(d, principal, action, directive_id) == "ok"
