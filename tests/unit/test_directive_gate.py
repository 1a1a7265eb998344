"""The directive's authorisation matrix, generated from its transition table: every action ×
every asker × every stage of a target, on the in-memory store.

Only *which parties may act* is read from ``directive_transitions.TABLE``; who can see the
directive, which parties each asker is and what each stage allows are written out here by hand
from docs/directives.md, so a wrong ``parties``, jurisdiction rule or guard shows as a mismatch.
Expected: 404 outside the jurisdiction → 403 not a party the table names → 409 the stage
forbids it → success.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from uuid import UUID

import pytest
from memory import InMemory

from huying.domain.directive_transitions import TABLE, Action, Party
from huying.domain.errors import DomainError, InvalidCommand, NotFound, NotPermitted, TransitionNotAllowed
from huying.domain.principal import SYSTEM, Principal, Role
from huying.service_layer.command_path import Submission
from huying.service_layer.directives import DirectiveDraft, DirectiveService

NONE = Submission()
UNIT = "LW-LN"  # the target acted on; LW-DB is the directive's other target
ISSUER = Principal(Role.SUPERVISOR, "LW")

# --- by hand: who sees it, and which parties each asker is -------------------------------------
ASKERS: dict[str, tuple[Principal, frozenset[Party] | None]] = {  # None: cannot see it
    "issuing supervisor": (ISSUER, frozenset({Party.ISSUER, Party.SUPERVISOR})),
    "target street": (Principal(Role.STREET, UNIT), frozenset({Party.TARGET})),
    "other target street": (Principal(Role.STREET, "LW-DB"), frozenset()),
    "auditor": (Principal(Role.AUDITOR, "LW"), frozenset()),
    "watchdog": (SYSTEM, frozenset({Party.SYSTEM})),
    "street of neither": (Principal(Role.STREET, "LW-HL"), None),
    "community below the target": (Principal(Role.COMMUNITY, "LW-LN-01"), None),
    "department": (Principal(Role.DEPARTMENT, "CG"), None),
}

# --- by hand: what each stage of the target allows --------------------------------------------
OPEN = {"issued", "received", "reported", "rework", "extension pending"}
ALLOWED: dict[Action, set[str]] = {
    Action.RECEIVE: {"issued"},
    Action.PROGRESS: {"received", "rework", "extension pending"},
    Action.REPORT: {"received", "rework", "extension pending"},
    Action.ACCEPT: {"reported"},
    Action.SEND_BACK: {"reported"},
    Action.REQUEST_EXTENSION: {"issued", "received", "rework"},
    Action.GRANT_EXTENSION: {"extension pending"},
    Action.DENY_EXTENSION: {"extension pending"},
    Action.CANCEL: OPEN | {"accepted"},  # the other target is still open
    Action.SUPERVISE: OPEN,
}
STAGES = ("issued", "received", "reported", "rework", "accepted", "extension pending", "cancelled")

Step = Callable[[DirectiveService, UUID], object]
_TARGET = Principal(Role.STREET, UNIT)
RECIPES: dict[str, list[Step]] = {
    "issued": [],
    "received": [lambda d, i: d.receive(_TARGET, i, UNIT, NONE)],
    "reported": [
        lambda d, i: d.receive(_TARGET, i, UNIT, NONE),
        lambda d, i: d.report_done(_TARGET, i, UNIT, NONE, "done"),
    ],
}
RECIPES["rework"] = [*RECIPES["reported"], lambda d, i: d.send_back(ISSUER, i, UNIT, NONE, "again")]
RECIPES["accepted"] = [*RECIPES["reported"], lambda d, i: d.accept(ISSUER, i, UNIT, NONE)]
RECIPES["extension pending"] = [
    *RECIPES["received"],
    lambda d, i: d.request_extension(
        _TARGET, i, UNIT, NONE, d.directive_for(ISSUER, i).deadline + timedelta(days=2), "r"
    ),
]
RECIPES["cancelled"] = [lambda d, i: d.cancel(ISSUER, i, NONE, "changed")]


def expected(action: Action, asker: str, stage: str) -> str:
    parties = ASKERS[asker][1]
    if parties is None:
        return "404"
    if not TABLE[action].who & parties:
        return "403"
    return "ok" if stage in ALLOWED[action] else "409"


def attempt(d: DirectiveService, who: Principal, action: Action, directive_id: UUID) -> None:
    due = d.directive_for(ISSUER, directive_id).deadline
    moves: dict[Action, Callable[[], object]] = {
        Action.RECEIVE: lambda: d.receive(who, directive_id, UNIT, NONE),
        Action.PROGRESS: lambda: d.note_progress(who, directive_id, UNIT, NONE, "note"),
        Action.REPORT: lambda: d.report_done(who, directive_id, UNIT, NONE, "done"),
        Action.ACCEPT: lambda: d.accept(who, directive_id, UNIT, NONE),
        Action.SEND_BACK: lambda: d.send_back(who, directive_id, UNIT, NONE, "again"),
        Action.REQUEST_EXTENSION: lambda: d.request_extension(
            who, directive_id, UNIT, NONE, due + timedelta(days=9), "r"
        ),
        Action.GRANT_EXTENSION: lambda: d.grant_extension(who, directive_id, UNIT, NONE),
        Action.DENY_EXTENSION: lambda: d.deny_extension(who, directive_id, UNIT, NONE, "no"),
        Action.CANCEL: lambda: d.cancel(who, directive_id, NONE, "changed"),
        Action.SUPERVISE: lambda: d.supervise(who, directive_id, UNIT, NONE, "督办"),
    }
    moves[action]()


def outcome(d: DirectiveService, who: Principal, action: Action, directive_id: UUID) -> str:
    try:
        attempt(d, who, action, directive_id)
    except NotFound:
        return "404"
    except NotPermitted:
        return "403"
    except TransitionNotAllowed:
        return "409"
    except InvalidCommand as e:
        # Past the gate: the watchdog must name the missed clock it flags.
        return "ok" if (action, e.field) == (Action.SUPERVISE, "clock") else f"422 {e.field}"
    except DomainError as e:
        return type(e).__name__
    return "ok"


@functools.cache
def huying() -> InMemory:
    return InMemory()


def directive_in(stage: str) -> tuple[DirectiveService, UUID]:
    d = huying().directives
    draft = DirectiveDraft("令", "b", [UNIT, "LW-DB"], working_days=3)
    directive_id = d.issue(ISSUER, NONE, draft).aggregate.id
    for step in RECIPES[stage]:
        step(d, directive_id)
    return d, directive_id


CASES = [(a, who, stage) for a in TABLE if a is not Action.ISSUE for who in ASKERS for stage in STAGES]


@pytest.mark.parametrize("stage", STAGES)
def test_the_matrix_for_each_stage(stage: str) -> None:
    wrong = []
    for action, asker, case_stage in CASES:
        if case_stage != stage:
            continue
        d, directive_id = directive_in(stage)
        got = outcome(d, ASKERS[asker][0], action, directive_id)
        if got != expected(action, asker, stage):
            wrong.append(f"{action.value} by {asker}: {got}, expected {expected(action, asker, stage)}")
    assert not wrong, "\n".join(wrong)


def test_the_matrix_covers_every_action_of_the_table() -> None:
    assert set(ALLOWED) == set(TABLE) - {Action.ISSUE}
    assert {expected(a, who, s) for a, who, s in CASES} == {"ok", "403", "404", "409"}
