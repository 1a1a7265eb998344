"""Properties of a directive that hold whatever anyone asks of it, in any order.

Hypothesis throws random moves by random principals (most of them refused) at one street's
directive to two communities, on the in-memory services, and checks after every step: a refusal
writes nothing; a move that passes was asked by the party the contract names; each target's
lifecycle stays consistent; and the directive reloaded from its events is the one in hand.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import UUID

from hypothesis import event, given, settings
from hypothesis import strategies as st
from memory import InMemory

from huying.domain.directive import Directive
from huying.domain.directive_states import Stage
from huying.domain.errors import DomainError
from huying.domain.principal import Principal, Role
from huying.service_layer.command_path import Submission
from huying.service_layer.directives import DirectiveDraft

ISSUER = Principal(Role.STREET, "LW-LN")
DISTRICT = Principal(Role.SUPERVISOR, "LW")
WHO = (
    ISSUER,
    DISTRICT,
    Principal(Role.COMMUNITY, "LW-LN-01"),
    Principal(Role.COMMUNITY, "LW-LN-02"),
    Principal(Role.STREET, "LW-DB"),
    Principal(Role.DEPARTMENT, "CG"),
    Principal(Role.AUDITOR, "LW"),
    Principal(Role.MEMBER, "LW-LN-M01"),
)
TARGETS = ("LW-LN-01", "LW-LN-02")
ONCE = Submission()
BY_ISSUER = {"accept", "send_back", "grant", "deny", "cancel"}
BY_TARGET = {"receive", "progress", "report", "request_extension"}
ACTIONS = (*sorted(BY_ISSUER | BY_TARGET), "supervise")
# What usually comes next for a target at each stage (a pending extension: its decision).
NEXT = {
    Stage.ISSUED: ("receive", "request_extension", "supervise"),
    Stage.RECEIVED: ("report", "progress", "request_extension"),
    Stage.REPORTED: ("send_back", "accept"),
    Stage.REWORK: ("report", "progress", "supervise"),
}
PENDING = ("grant", "deny")


def moves(huying: InMemory, did: UUID, unit: str, days: int) -> dict[str, Callable[[Principal], Any]]:
    d = huying.directives
    return {
        "receive": lambda p: d.receive(p, did, unit, ONCE),
        "progress": lambda p: d.note_progress(p, did, unit, ONCE, "进展"),
        "report": lambda p: d.report_done(p, did, unit, ONCE, "已办结"),
        "accept": lambda p: d.accept(p, did, unit, ONCE),
        "send_back": lambda p: d.send_back(p, did, unit, ONCE, "返工"),
        "request_extension": lambda p: d.request_extension(
            p, did, unit, ONCE, huying.clock.now() + timedelta(days=days), "延期"
        ),
        "grant": lambda p: d.grant_extension(p, did, unit, ONCE),
        "deny": lambda p: d.deny_extension(p, did, unit, ONCE, "不予"),
        "supervise": lambda p: d.supervise(p, did, unit, ONCE, "督办"),
        "cancel": lambda p: d.cancel(p, did, ONCE, "撤销"),
    }


STEPS = st.lists(
    st.tuples(
        st.one_of(st.integers(0, 5), st.sampled_from(ACTIONS)),  # a number: what usually comes next
        st.one_of(st.none(), st.sampled_from(WHO)),  # None: whoever usually asks for it
        st.sampled_from((*TARGETS, "LW-DB")),  # LW-DB is no target of it
        st.integers(0, 40),  # hours on the clock before the move
        st.integers(-2, 20),  # days asked for by an extension, from now
    ),
    min_size=4,
    max_size=30,
)


def next_for(huying: InMemory, did: UUID, unit: str, n: int) -> str:
    target = huying.directives.directive_for(DISTRICT, did).targets.get(unit)
    if target is None:  # LW-DB: anything, refused
        return ACTIONS[n % len(ACTIONS)]
    if target.stage not in NEXT:  # accepted or cancelled: now and then cancel the rest
        return "cancel" if n == 0 else "supervise"
    choices = PENDING if target.pending_extension else NEXT[target.stage]
    return choices[n % len(choices)]


def usual(action: str, unit: str) -> Principal:
    if action in BY_ISSUER:
        return ISSUER
    return Principal(Role.COMMUNITY, unit) if action in BY_TARGET and unit != "LW-DB" else DISTRICT


def state(d: Directive) -> Any:
    return (d.version, d.cancelled, dict(d.targets), list(d.supervisions))


def check(d: Directive, first_due: dict[str, Any]) -> None:
    for unit, t in d.targets.items():
        assert (t.stage is Stage.ACCEPTED) == (t.accepted_at is not None)
        assert t.received_at is not None or t.stage in {Stage.ISSUED, Stage.CANCELLED}
        assert sum(e.granted is None for e in t.extensions) <= 1, "one extension pending at most"
        granted = [e.until for e in t.extensions if e.granted]
        assert t.due == (granted[-1] if granted else first_due[unit]), "only a grant moves the due"
        standing = t.stage in {Stage.REPORTED, Stage.ACCEPTED}
        if t.stage is not Stage.CANCELLED:
            assert len(t.reports) == t.reworks + standing, "every report is judged once"
        if d.cancelled:
            assert t.stage in {Stage.ACCEPTED, Stage.CANCELLED}


@settings(max_examples=100, deadline=None)
@given(STEPS)
def test_a_directive_stays_whole_whatever_is_asked(
    steps: list[tuple[int | str, Principal | None, str, int, int]],
) -> None:
    huying = InMemory()
    draft = DirectiveDraft("消防通道清理", "", list(TARGETS), working_days=5)
    did = huying.directives.issue(ISSUER, ONCE, draft).aggregate.id
    first_due = {u: t.due for u, t in huying.directives.directive_for(DISTRICT, did).targets.items()}
    for drawn, asker, unit, hours, days in steps:
        action = drawn if isinstance(drawn, str) else next_for(huying, did, unit, drawn)
        who = asker or usual(action, unit)
        huying.clock.advance(hours * 3600)
        before = state(huying.directives.directive_for(DISTRICT, did))
        try:
            moves(huying, did, unit, days)[action](who)
        except DomainError:
            assert state(huying.directives.directive_for(DISTRICT, did)) == before, f"refused {action} wrote"
            continue
        if action in BY_ISSUER:
            assert who == ISSUER, f"{who} did {action}"
        elif action in BY_TARGET:
            assert who.unit == unit and who.role is Role.COMMUNITY, f"{who} did {action} on {unit}"
        else:
            assert who == DISTRICT, f"{who} supervised"
        event(f"{action} passed")
        after = huying.directives.directive_for(DISTRICT, did)
        assert after.version == before[0] + 1
        check(after, first_due)
        assert state(huying.app.repository.get(did)) == state(after)  # the log folds to it
