"""The directive's transition table (令行禁止), as data: who may do what to which target, when.

Declared through the one gate (``huying.domain.gate``): the aggregate consults it before every
move, the API maps its refusals to 403/412/409, and the authorisation-matrix tests are generated
from it. The part acted on is a target (``Situation.target``); a directive-wide move names none.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from huying.domain import gate
from huying.domain.directive_states import FINAL, OPEN, WORKING, Stage, Target
from huying.domain.org import Org, UnitKind
from huying.domain.principal import DISTRICT_WIDE, Principal, Role


class Action(StrEnum):
    ISSUE = "issue"
    RECEIVE = "receive"  # 签收
    PROGRESS = "progress"
    REPORT = "report"  # 办结反馈
    ACCEPT = "accept"  # 验收
    SEND_BACK = "send-back"  # 返工
    REQUEST_EXTENSION = "request-extension"
    GRANT_EXTENSION = "extension/grant"
    DENY_EXTENSION = "extension/deny"
    CANCEL = "cancel"
    SUPERVISE = "supervise"  # 督办


class Party(StrEnum):
    ISSUER = "the issuing unit"
    TARGET = "the target unit"
    SUPERVISOR = "supervisor"
    SYSTEM = "the SLA watchdog"


class DirectiveState(Protocol):
    """What the table reads of a directive."""

    @property
    def issuer(self) -> str: ...
    @property
    def cancelled(self) -> bool: ...
    @property
    def targets(self) -> Mapping[str, Target]: ...


@dataclass(frozen=True)
class Situation:
    """What else a guard may look at: the time, and the target acted on."""

    now: datetime
    target: Target | None = None


Guard = Callable[[DirectiveState, Situation], str | None]
Transition = gate.Transition[Action, Party, DirectiveState, Situation]
ISSUING_ROLES = frozenset({Role.SUPERVISOR, Role.STREET, Role.COMMUNITY})


def parties(principal: Principal, directive: DirectiveState, situation: Situation) -> set[Party]:
    """Which of the table's parties this principal is, for this directive (and its target)."""
    found: set[Party] = set()
    role, unit = principal.role, principal.unit
    if role in ISSUING_ROLES and unit == directive.issuer:
        found.add(Party.ISSUER)
    target = situation.target
    if target is not None and unit == target.unit and role not in DISTRICT_WIDE | {Role.GRID_WORKER}:
        found.add(Party.TARGET)
    if role is Role.SUPERVISOR:
        found.add(Party.SUPERVISOR)
    if role is Role.SYSTEM:
        found.add(Party.SYSTEM)
    return found


# --- guards: each returns the broken rule, or None ---------------------------------------------


def _stage_in(*allowed: Stage) -> Guard:
    names = " or ".join(s.value for s in allowed)

    def guard(directive: DirectiveState, situation: Situation) -> str | None:
        if directive.cancelled:
            return "the directive is cancelled"
        target = situation.target
        if target is None or target.stage in allowed:
            return None
        return f"the target {target.unit} is {target.stage.value}, not {names}"

    return guard


def _extension_pending(directive: DirectiveState, situation: Situation) -> str | None:
    refusal = _stage_in(*OPEN)(directive, situation)
    if refusal is None and situation.target is not None and situation.target.pending_extension is None:
        return f"the target {situation.target.unit} has no extension request pending"
    return refusal


def _may_request_extension(directive: DirectiveState, situation: Situation) -> str | None:
    refusal = _stage_in(Stage.ISSUED, *WORKING)(directive, situation)
    if refusal is None and situation.target is not None and situation.target.pending_extension:
        return f"the target {situation.target.unit} already has an extension request pending"
    return refusal


def _cancellable(directive: DirectiveState, _: Situation) -> str | None:
    if directive.cancelled:
        return "the directive is cancelled already"
    if all(t.stage in FINAL for t in directive.targets.values()):
        return "every target is accepted: there is nothing left to cancel"
    return None


def _always(directive: DirectiveState, situation: Situation) -> str | None:
    return None


_ISSUER, _TARGET = frozenset({Party.ISSUER}), frozenset({Party.TARGET})
_OPEN, _WORKING = "target open", "target received or sent back"

TABLE = gate.TransitionTable[Action, Party, DirectiveState, Situation](
    "directive",
    parties,
    (
        Transition(Action.ISSUE, "Issued", _ISSUER, "always", _always, "targets issued"),
        Transition(Action.RECEIVE, "Received", _TARGET, "target issued", _stage_in(Stage.ISSUED), "received"),
        Transition(Action.PROGRESS, "ProgressNoted", _TARGET, _WORKING, _stage_in(*WORKING), "note kept"),
        Transition(Action.REPORT, "ReportedDone", _TARGET, _WORKING, _stage_in(*WORKING), "reported"),
        Transition(
            Action.ACCEPT, "Accepted", _ISSUER, "target reported", _stage_in(Stage.REPORTED), "accepted"
        ),
        Transition(
            Action.SEND_BACK, "SentBack", _ISSUER, "target reported", _stage_in(Stage.REPORTED), "rework"
        ),
        Transition(
            Action.REQUEST_EXTENSION,
            "ExtensionRequested",
            _TARGET,
            "target issued, received or sent back; none pending",
            _may_request_extension,
            "extension pending",
        ),
        Transition(
            Action.GRANT_EXTENSION,
            "ExtensionGranted",
            _ISSUER,
            "extension pending",
            _extension_pending,
            "due moved",
        ),
        Transition(
            Action.DENY_EXTENSION,
            "ExtensionDenied",
            _ISSUER,
            "extension pending",
            _extension_pending,
            "due kept",
        ),
        Transition(
            Action.CANCEL, "Cancelled", _ISSUER, "not cancelled, a target open", _cancellable, "cancelled"
        ),
        Transition(
            Action.SUPERVISE,
            "Supervised",
            frozenset({Party.SUPERVISOR, Party.SYSTEM}),
            _OPEN,
            _stage_in(*OPEN),
            "督办 flag",
        ),
    ),
)


_DIRECTED = frozenset({UnitKind.STREET, UnitKind.COMMUNITY, UnitKind.DEPARTMENT})


def may_address(principal: Principal, org: Org, unit: str, *, from_meeting: bool = False) -> str | None:
    """Whom a unit may direct (令行禁止 runs down the chain), or the rule a target breaks: the
    district (a supervisor) its streets, communities and departments; a street its own
    communities. A meeting decision's task may name any unit of the org but a grid (its
    lead and assisting units are the meeting's to choose; the meeting service checked them)."""
    kind = org.kind_of(unit)
    if kind is None or kind in (UnitKind.GRID, UnitKind.DISTRICT):
        return f"{unit} is not a unit a directive may target in org {org.version}"
    if from_meeting:
        return None
    if kind not in _DIRECTED:
        return f"{unit} is not a street, community or department"
    if principal.role is Role.SUPERVISOR:
        return None
    if principal.role is Role.STREET and kind is UnitKind.COMMUNITY and org.street_of(unit) == principal.unit:
        return None
    return f"{principal.role} {principal.unit} may not direct {unit}: a street directs its own communities"
