"""Properties of the call that hold whatever anyone asks of it, in any order.

Hypothesis throws random sequences of commands from random principals (many of them refused) at
one call, applies what the domain accepts, and checks the invariants after every step.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from calls import ASSIST_DEPARTMENT, COMMUNITY, LEAD_DEPARTMENT, PRINCIPALS, STREET, Story, raise_call, replay
from calls import state_of as state
from hypothesis import given, settings
from hypothesis import strategies as st

from huying.domain.call import Call
from huying.domain.commands import Command, OrderSpec
from huying.domain.errors import DomainError
from huying.domain.levels import Level
from huying.domain.states import TERMINAL, OrderRole, Satisfaction, Status

# --- what can be asked -------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One random request. Its numbers pick the action, principal and work order when it runs."""

    usual_action: bool  # draw from what usually comes next for the call's status, or from anything
    action: int
    usual_principal: bool  # draw from who usually asks for that action, or from everyone
    principal: int
    order: int
    later: timedelta
    if_match: str  # "none" | "current" | "stale"
    yes: bool  # dispatch an assist order too; reporter reached; a valid extension; a live merge target
    satisfaction: Satisfaction


def _order_id(call: Call, n: int) -> str:
    ids = list(call.work_orders)
    return ids[n % len(ids)] if ids else "no-such-order"


def _dispatch(story: Story, cmd: Command, step: Step) -> None:
    deadline = cmd.at + timedelta(days=5)
    specs = [OrderSpec(LEAD_DEPARTMENT, OrderRole.LEAD, deadline, "牵头办理")]
    if step.yes:
        specs.append(OrderSpec(ASSIST_DEPARTMENT, OrderRole.ASSIST, deadline, "协助办理"))
    story.call.dispatch(cmd, specs)


def _extension(story: Story, cmd: Command, step: Step) -> None:
    order = _order_id(story.call, step.order)
    known = story.call.work_orders.get(order)
    until = (known.deadline if known else cmd.at) + timedelta(days=3 if step.yes else -1)
    story.call.request_extension(cmd, order, until=until, reason="需协调")


def _targets() -> dict[bool, Call]:
    """Calls to merge into: a live one, and one already withdrawn."""
    live, gone = raise_call(), raise_call()
    gone.withdraw(Command(PRINCIPALS["grid worker"], gone.raised_at), reason="撤回")
    return {True: live, False: gone}


TARGETS = _targets()


def _merge(story: Story, cmd: Command, step: Step) -> None:
    story.call.merge_into(cmd, TARGETS[step.yes], reason="同一事项")


def _evaluate(story: Story, cmd: Command, step: Step) -> None:
    story.call.evaluate(cmd, contacted=step.yes, solved=step.yes, satisfaction=step.satisfaction)


def _on_order(method: str, **kw: str) -> Callable[[Story, Command, Step], None]:
    return lambda s, c, step: getattr(s.call, method)(c, _order_id(s.call, step.order), **kw)


ACTIONS: dict[str, Callable[[Story, Command, Step], None]] = {
    "acknowledge": lambda s, c, _: s.call.acknowledge(c),
    "escalate": lambda s, c, _: s.call.escalate(c, reason="上呼"),
    "dispatch": _dispatch,
    "sign": _on_order("sign"),
    "return": _on_order("return_order", reason="退单"),
    "request extension": _extension,
    "grant extension": _on_order("grant_extension"),
    "deny extension": _on_order("deny_extension", reason="不予延期"),
    "progress": _on_order("note_progress", note="进展"),
    "complete": _on_order("complete_order", result="办结"),
    "resolve": lambda s, c, _: s.call.resolve(c, summary="办结"),
    "evaluate": _evaluate,
    "reopen": lambda s, c, _: s.call.reopen(c, reason="重办"),
    "close": lambda s, c, _: s.call.close(c),
    "withdraw": lambda s, c, _: s.call.withdraw(c, reason="撤回"),
    "merge": _merge,
    "supervise": lambda s, c, step: s.call.supervise(c, reason="督办", unit=None if step.yes else "CG"),
}

# What usually comes next for a call in each status, so that random runs reach dispatch,
# evaluation and reopening; the rest of the time any action is drawn (those that end a call less
# often, so that runs live long enough to matter).
USUAL_NEXT: dict[Status, list[str]] = {
    Status.AWAITING_RESPONSE: ["acknowledge", "escalate", "supervise"],
    Status.IN_PROGRESS: ["escalate", "dispatch", "resolve"],
    Status.DISPATCHED: [
        *["sign", "progress", "request extension", "grant extension", "deny extension", "complete"] * 2,
        *["resolve", "return"],
    ],
    Status.RETURNED: ["dispatch", "sign", "deny extension"],
    Status.RESOLVED: ["evaluate"],
    Status.EVALUATED: ["reopen", "close"],
}
ANY_ACTION = [a for a in ACTIONS for _ in range(1 if a in {"withdraw", "merge", "close"} else 4)]

# Who usually asks for what; everyone else (strangers, auditors, admins) is drawn too.
USUAL_PRINCIPALS: dict[str, list[str]] = {
    "acknowledge": ["community", "street"],
    "escalate": ["community", "system"],
    "dispatch": ["street"],
    "sign": ["department", "assist department"],
    "return": ["department", "assist department"],
    "request extension": ["department", "assist department"],
    "grant extension": ["street"],
    "deny extension": ["street"],
    "progress": ["department", "assist department"],
    "complete": ["department", "assist department"],
    "resolve": ["community", "street"],
    "evaluate": ["community", "grid worker", "supervisor"],
    "reopen": ["community", "supervisor"],
    "close": ["community", "supervisor"],
    "withdraw": ["grid worker", "community"],
    "merge": ["community", "street"],
    "supervise": ["supervisor", "system"],
}
EVERYONE = list(PRINCIPALS)


def chosen(step: Step, status: Status) -> tuple[str, str]:
    """The action and principal a step names, for a call in ``status``."""
    actions = USUAL_NEXT.get(status, ANY_ACTION) if step.usual_action else ANY_ACTION
    action = actions[step.action % len(actions)]
    principals = USUAL_PRINCIPALS[action] if step.usual_principal else EVERYONE
    return action, principals[step.principal % len(principals)]


mostly = st.sampled_from([True] * 5 + [False])
step_strategy = st.builds(
    Step,
    usual_action=mostly,
    action=st.integers(0, 255),
    usual_principal=mostly,
    principal=st.integers(0, 255),
    order=st.integers(0, 7),
    later=st.sampled_from(
        [timedelta(minutes=5), timedelta(hours=2), timedelta(days=1)] * 3 + [timedelta(days=8)]
    ),
    if_match=st.sampled_from(["none"] * 5 + ["current", "stale"]),
    yes=mostly,
    satisfaction=st.sampled_from([*Satisfaction, Satisfaction.DISSATISFIED]),
)
plans = st.lists(step_strategy, min_size=20, max_size=60)


def run(story: Story, step: Step) -> tuple[str, str, str]:
    """Carry out one step on the story's call: (action, principal, "ok" or the refusal's name)."""
    action, who = chosen(step, story.call.status)
    version = {"none": None, "current": story.call.version, "stale": story.call.version - 1}[step.if_match]
    cmd = story.cmd(who, later=step.later, expected_version=version)
    try:
        ACTIONS[action](story, cmd, step)
    except DomainError as refused:  # anything else is a bug, and fails the test
        return action, who, type(refused).__name__
    return action, who, "ok"


# --- the invariants ---------------------------------------------------------------------------


def check_invariants(call: Call, events: list[Any]) -> None:
    names = Counter(type(e).__name__ for e in events)
    # Exactly one holder, a unit code, consistent with the level.
    assert call.holder == (COMMUNITY if call.level is Level.COMMUNITY else STREET)
    if call.status is Status.DISPATCHED:
        assert call.level is Level.DEPARTMENT
    # Versions count the events, one by one.
    assert call.version == len(events)
    assert [e.originator_version for e in events] == list(range(1, len(events) + 1))
    # One evaluation per round; round = 1 + reopens.
    assert call.round == 1 + names["Reopened"]
    per_round = Counter(e.round for e in events if type(e).__name__ == "Evaluated")
    assert all(n == 1 for n in per_round.values()), per_round
    assert set(call.evaluations) == set(per_round)
    # At most one open lead order.
    assert sum(o.is_open and o.role is OrderRole.LEAD for o in call.work_orders.values()) <= 1
    # A final status is reached at most once.
    assert sum(names[n] for n in ("Closed", "Withdrawn", "MergedInto")) == (call.status in TERMINAL)


@settings(max_examples=200, deadline=None)
@given(plans)
def test_random_commands_from_random_principals_keep_the_call_consistent(plan: list[Step]) -> None:
    story = Story()
    call = story.call
    events: list[Any] = call.collect_events()
    check_invariants(call, events)
    for step in plan:
        was_final = call.status in TERMINAL
        settled = {o.id: o.status for o in call.work_orders.values() if not o.is_open}
        action, who, outcome = run(story, step)
        new = call.collect_events()
        if outcome == "ok":
            assert not was_final, f"{action} by {who} succeeded on a final call"
            assert step.if_match != "stale", f"{action} by {who} went through with a stale If-Match"
            assert len(new) == 1
        else:
            assert new == [], f"{action} by {who} was refused ({outcome}) but triggered events"
        events.extend(new)
        check_invariants(call, events)
        # A returned, completed or cancelled work order never changes again.
        assert all(call.work_orders[o].status is was for o, was in settled.items())
    assert state(replay(events)) == state(call)


@settings(max_examples=50, deadline=None)
@given(plans)
def test_a_call_rebuilt_from_its_events_answers_every_command_as_the_original_does(plan: list[Step]) -> None:
    """Replay is not just equal state: the rebuilt call accepts and refuses exactly the same."""
    story = Story()
    events: list[Any] = story.call.collect_events()
    for step in plan:
        rebuilt = Story(call=replay(events), now=story.now)
        assert run(rebuilt, step) == run(story, step)
        events.extend(story.call.collect_events())
        # The library stamps its own wall-clock ``_modified_on``; everything else must agree.
        assert state(rebuilt.call) | {"_modified_on": None} == state(story.call) | {"_modified_on": None}
