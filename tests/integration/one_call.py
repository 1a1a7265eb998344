"""One call through its everyday steps, for the tests that read it back: raised by its grid's
worker, taken on and resolved by its community."""

from __future__ import annotations

from uuid import UUID

from huying.bootstrap import Services
from huying.domain.principal import Principal, Role
from huying.service_layer.calls import CallDraft
from huying.service_layer.command_path import Submission

GRID = Principal(Role.GRID_WORKER, "LW-LN-01-G01")
COMMUNITY = Principal(Role.COMMUNITY, "LW-LN-01")


def resolved_call(services: Services) -> UUID:
    """A call of three events: raised, acknowledged, resolved."""
    draft = CallDraft("C01-01", "LW-LN-01-G01", "井盖缺失", "人行道井盖丢了", "grid_worker")
    call_id = services.calls.raise_call(GRID, draft, Submission()).call.id
    services.calls.acknowledge(COMMUNITY, call_id, Submission(), None)
    services.calls.resolve(COMMUNITY, call_id, Submission(), "已修复")
    return call_id
