"""A directive's clocks (时限), read from its state: each target's receipt (签收) and completion
clocks, keyed ``<unit>:receipt`` and ``<unit>:completion`` — the call's ``RunningClock``, so the
watchdog and the read side treat them as they treat a call's.

A completion clock stops at the report that stands (reported or accepted); sent back, it runs
again from where it was, against the same (possibly extended) deadline.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from huying.domain.clocks import RunningClock
from huying.domain.directive_states import Stage, Target

LEVEL = "directive"


class Clocked(Protocol):
    @property
    def issued_at(self) -> datetime: ...
    @property
    def targets(self) -> Mapping[str, Target]: ...


def receipt_clock(issued_at: datetime, target: Target) -> RunningClock:
    stopped = target.received_at or target.cancelled_at
    return RunningClock(f"{target.unit}:receipt", target.unit, LEVEL, issued_at, target.receipt_due, stopped)


def completion_clock(issued_at: datetime, target: Target) -> RunningClock:
    stopped = target.reported_at if target.stage in (Stage.REPORTED, Stage.ACCEPTED) else target.cancelled_at
    return RunningClock(f"{target.unit}:completion", target.unit, LEVEL, issued_at, target.due, stopped)


def clocks_of(directive: Clocked) -> list[RunningClock]:
    """Every clock of every target, receipt before completion."""
    found = []
    for target in directive.targets.values():
        found += [receipt_clock(directive.issued_at, target), completion_clock(directive.issued_at, target)]
    return found


def missed(directive: Clocked, now: datetime) -> list[RunningClock]:
    """The clocks still running past their due time: what the watchdog flags (督办)."""
    return [c for c in clocks_of(directive) if c.stopped is None and c.late_at(now)]


def next_due(directive: Clocked) -> datetime | None:
    """When the next running clock falls due (the watchdog's index)."""
    running = [c.due for c in clocks_of(directive) if c.stopped is None and c.due is not None]
    return min(running, default=None)
