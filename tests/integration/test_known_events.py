"""Commands start from the events this process knows (``known_events``), and that changes no
answer: a "yes" given on them is stored only if they were still the whole history, and a "no"
is only ever said on the stored events. Another process on the same store (``elsewhere``: a second
``Services``) is what makes this process's knowledge stale."""

from __future__ import annotations

import random
from typing import Any
from uuid import UUID

import pytest

from huying.application import fold
from huying.bootstrap import Services
from huying.clock import FakeClock
from huying.domain.errors import TransitionNotAllowed
from huying.domain.principal import Principal, Role
from huying.service_layer.calls import CallDraft
from huying.service_layer.command_path import Submission

from .histories import Shape, drive

GRID = Principal(Role.GRID_WORKER, "LW-LN-01-G01")
COMMUNITY = Principal(Role.COMMUNITY, "LW-LN-01")
STREET = Principal(Role.STREET, "LW-LN")


def raised(services: Services) -> UUID:
    draft = CallDraft("C01-01", "LW-LN-01-G01", "井盖缺失", "人行道井盖丢了", "grid_worker")
    call_id = services.calls.raise_call(GRID, draft, Submission()).call.id
    assert services.app.known.of(call_id) is not None, "a raise is known to the process that made it"
    return call_id


def stored_versions(services: Services, call_id: UUID) -> list[int]:
    return [e.originator_version for e in services.app.events.get(call_id)]


def test_a_no_on_stale_knowledge_is_said_again_on_the_store(services: Services, elsewhere: Services) -> None:
    call_id = raised(services)
    elsewhere.calls.escalate(COMMUNITY, call_id, Submission(), "需要街道协调")
    # This process still knows the call at its community: the street could not see it there.
    outcome = services.calls.acknowledge(STREET, call_id, Submission(), "街道已接收")
    assert outcome.call.version == 3 and outcome.call.holder == "LW-LN"
    assert stored_versions(services, call_id) == [1, 2, 3]


def test_a_stale_if_match_is_judged_on_the_store(services: Services, elsewhere: Services) -> None:
    call_id = raised(services)
    elsewhere.calls.acknowledge(COMMUNITY, call_id, Submission(), None)
    outcome = services.calls.resolve(COMMUNITY, call_id, Submission(if_match=2), "已修复")
    assert outcome.call.version == 3


def test_a_yes_on_stale_knowledge_is_refused_by_the_store_and_judged_again(
    services: Services, elsewhere: Services
) -> None:
    call_id = raised(services)
    elsewhere.calls.acknowledge(COMMUNITY, call_id, Submission(), None)
    # Known here: awaiting a response, so a second acknowledgement looks allowed; it is not.
    with pytest.raises(TransitionNotAllowed):
        services.calls.acknowledge(COMMUNITY, call_id, Submission(), None)
    assert stored_versions(services, call_id) == [1, 2]
    assert len(services.app.known.of(call_id) or ()) == 2, "what was read replaces what was stale"


def test_a_keyed_repeat_on_stale_knowledge_is_answered_from_the_record(
    services: Services, elsewhere: Services
) -> None:
    call_id = raised(services)
    sub = Submission(key="ack-1", fingerprint="f")
    first = elsewhere.calls.acknowledge(COMMUNITY, call_id, sub, None)
    again = services.calls.acknowledge(COMMUNITY, call_id, sub, None)
    assert again.replayed and again.call.version == first.call.version == 2
    assert stored_versions(services, call_id) == [1, 2]


def test_known_events_fold_to_what_the_store_holds(services: Services, clock: FakeClock) -> None:
    """A long random history, refusals and repeats included: every call this process knows
    folds, from its known events, to the call its stored events give. An ``apply`` that changed
    a list or dict it took from an event would make the known events fold differently."""
    drive(services, clock, random.Random(12), Shape(calls=120, concurrency=15))
    app = services.app
    compared = 0
    for call_id in list(app.known._events):
        known = app.known.of(call_id)
        assert known is not None
        assert state(fold(known)) == state(fold(app.events.get(call_id))), call_id
        compared += 1
    assert compared >= 100


def state(aggregate: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}
