"""A call's fate: how far it will climb and what will happen on the way, drawn when it is raised.

The shares are those of a district where the community solves most matters itself (社区吹哨),
about a third climb to the street, and half of those go on to one or more departments
(部门报到). Missed clocks are not part of the fate: they follow from each unit's punctuality,
and the SLA watchdog then calls the call up or flags the late unit, as it would in service.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from uuid import UUID

from huying.domain.catalog import Item
from huying.synthetic.district import District


class End(StrEnum):
    """Where the call is meant to be resolved, or how it leaves without being resolved."""

    COMMUNITY = "community"
    STREET = "street"
    DEPARTMENT = "department"
    WITHDRAW = "withdraw"  # 撤回: the reporter no longer needs it
    MERGE = "merge"  # the same matter reported twice (一事一呼)


# End → weight, for a call that is not a duplicate.
ENDS = {End.COMMUNITY: 64, End.STREET: 15, End.DEPARTMENT: 18, End.WITHDRAW: 3}
DUPLICATES = 0.025  # calls raised again for a matter already open in the same grid
HUMAN_SUPERVISION = 0.03  # 督办 by the district, besides the watchdog's flags
REOPEN_WHEN_DISSATISFIED = 0.8
LEFT_UNCLOSED = 0.015  # evaluated, never struck off the ledger (销号)


@dataclass
class Fate:
    end: End
    departments: list[str]  # lead first, then assists
    spare: list[str]  # where a returned lead order goes next
    call_up_at_once: bool = False  # the community escalates without taking the call on first
    lead_returns: bool = False  # 退单: the lead department sends its first order back
    assist_returns: bool = False
    extension: bool = False  # 申请延期 on the lead order
    extension_granted: bool = True
    notes: int = 0  # 进展 notes per order
    merge_into: UUID | None = None
    withdraw_after: timedelta | None = None
    supervise_after: timedelta | None = None
    done: set[str] = field(default_factory=set)  # one-off steps already taken


def draw_fate(rng: random.Random, district: District, item: Item, duplicate_of: UUID | None) -> Fate:
    end = End.MERGE if duplicate_of else rng.choices(list(ENDS), list(ENDS.values()))[0]
    lead, assists = _departments(rng, district, item)
    spare = [d for d in district.departments if d not in (lead, *assists)]
    rng.shuffle(spare)
    return Fate(
        end=end,
        departments=[lead, *assists],
        spare=spare,
        call_up_at_once=rng.random() < 0.25,
        lead_returns=rng.random() < 0.08,
        assist_returns=rng.random() < 0.05,
        extension=rng.random() < 0.12,
        extension_granted=rng.random() < 0.75,
        notes=rng.choices([0, 1, 2, 3], [35, 35, 20, 10])[0],
        merge_into=duplicate_of,
        withdraw_after=timedelta(hours=rng.uniform(0.5, 30)) if end is End.WITHDRAW else None,
        supervise_after=(timedelta(hours=rng.uniform(4, 60)) if rng.random() < HUMAN_SUPERVISION else None),
    )


def _departments(rng: random.Random, district: District, item: Item) -> tuple[str, list[str]]:
    """Mostly the item's own lead and assisting departments (清单 says who does what)."""
    lead = item.lead_department if rng.random() < 0.85 else rng.choice(district.departments)
    assists = [d for d in item.assisting_departments if d != lead]
    rng.shuffle(assists)
    return lead, assists[: rng.choices([0, 1, 2], [45, 40, 15])[0]]
