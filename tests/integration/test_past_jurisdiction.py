"""A call's history and its past (时间回溯) under the one jurisdiction rule: whoever sees every
call (the district-wide roles) is answered without the call being folded to judge it — and
gets exactly what the others who may see it get; whoever sees by place is judged on the folded
call; an id of another kind, or of nothing, is no call for anyone."""

from __future__ import annotations

from uuid import uuid4

import pytest

import huying.service_layer.history as history_module
from huying.bootstrap import Services
from huying.domain.errors import NotFound
from huying.domain.principal import Principal, Role
from huying.service_layer.command_path import Submission
from huying.service_layer.directives import DirectiveDraft

from .one_call import COMMUNITY, resolved_call

ELSEWHERE = Principal(Role.COMMUNITY, "LW-LN-02")
AUDITOR = Principal(Role.AUDITOR, "LW")
SUPERVISOR = Principal(Role.SUPERVISOR, "LW")


def test_whoever_sees_every_call_gets_what_the_holder_gets(services: Services) -> None:
    call_id = resolved_call(services)
    calls = services.calls
    for who in (AUDITOR, SUPERVISOR):
        assert calls.history(who, call_id) == calls.history(COMMUNITY, call_id)
        for version in (1, 2, 3):
            assert vars(calls.call_then(who, call_id, version=version)) == vars(
                calls.call_then(COMMUNITY, call_id, version=version)
            )


def test_only_those_judged_by_place_have_the_call_folded(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    call_id = resolved_call(services)
    folded: list[int] = []
    fold = history_module.fold

    def counted(events: list[object]) -> object:
        folded.append(len(events))
        return fold(events)

    monkeypatch.setattr(history_module, "fold", counted)
    services.calls.history(AUDITOR, call_id)
    services.calls.call_then(AUDITOR, call_id, version=2)
    assert folded == []
    services.calls.history(COMMUNITY, call_id)
    assert folded == [3]
    with pytest.raises(NotFound):
        services.calls.history(ELSEWHERE, call_id)


def test_an_id_of_another_kind_or_of_nothing_is_no_call(services: Services) -> None:
    directive = services.directives.issue(
        SUPERVISOR, Submission(), DirectiveDraft("消防通道清理", "限期清理", ["LW-LN"], working_days=2)
    ).aggregate.id
    for who in (AUDITOR, SUPERVISOR, COMMUNITY):
        for aggregate_id in (directive, uuid4()):
            with pytest.raises(NotFound):
                services.calls.history(who, aggregate_id)
            with pytest.raises(NotFound):
                services.calls.call_then(who, aggregate_id, version=1)
