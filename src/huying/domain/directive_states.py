"""The vocabulary of a directive's state (令行禁止): each target's stage, its reports, notes,
extension and 督办 flags — small typed records, read by attribute, never by string key."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Stage(StrEnum):
    """Where one target stands: issued → received (签收) → reported done → accepted (验收), or
    sent back for rework (返工) and reported again; cancelled with its directive."""

    ISSUED = "issued"
    RECEIVED = "received"
    REPORTED = "reported"
    REWORK = "rework"
    ACCEPTED = "accepted"
    CANCELLED = "cancelled"


WORKING = frozenset({Stage.RECEIVED, Stage.REWORK})  # received, not (or no longer) reported done
OPEN = frozenset({Stage.ISSUED, Stage.RECEIVED, Stage.REPORTED, Stage.REWORK})
FINAL = frozenset({Stage.ACCEPTED, Stage.CANCELLED})


class TargetRole(StrEnum):
    """A target's part: 牵头 (lead) or 协办 (assisting); plain targets of a directive lead."""

    LEAD = "lead"
    ASSIST = "assist"


@dataclass(frozen=True)
class Responsible:
    """责任人: the official answerable for a directive (a meeting decision's), by name and post."""

    name: str
    post: str


@dataclass(frozen=True)
class Note:
    """A progress note (进展), with any photos."""

    text: str
    photos: list[str]
    at: datetime


@dataclass(frozen=True)
class Report:
    """A report of the work done (办结反馈): the result, its photos, and when."""

    result: str
    photos: list[str]
    at: datetime


@dataclass
class Extension:
    """A target's request for more time (申请延期) and the issuer's decision on it."""

    until: datetime
    reason: str
    requested_at: datetime
    granted: bool | None = None  # None while pending
    decided_at: datetime | None = None


@dataclass(frozen=True)
class Supervision:
    """督办: a flag against a late target, naming the clock it missed (``<unit>:receipt`` or
    ``<unit>:completion``) when the watchdog raised it."""

    unit: str
    reason: str
    at: datetime
    clock: str | None


@dataclass
class Target:
    """One unit a directive is addressed to, and its own lifecycle."""

    unit: str
    role: TargetRole
    receipt_due: datetime
    due: datetime  # the completion deadline, moved by a granted extension
    stage: Stage = Stage.ISSUED
    received_at: datetime | None = None
    reported_at: datetime | None = None  # the latest report
    accepted_at: datetime | None = None
    cancelled_at: datetime | None = None
    reworks: int = 0  # times sent back (返工)
    notes: list[Note] = field(default_factory=list)
    reports: list[Report] = field(default_factory=list)
    extensions: list[Extension] = field(default_factory=list)
    last_version: int = 1  # the directive's version when this target last changed

    @property
    def pending_extension(self) -> Extension | None:
        last = self.extensions[-1] if self.extensions else None
        return last if last is not None and last.granted is None else None
