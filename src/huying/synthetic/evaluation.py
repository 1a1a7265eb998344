"""回访 and 一呼一评: what the reporter says when asked, and what follows.

Satisfaction follows the quality of the unit that did the work (the lead department when one
did), and drops when the call was late somewhere on the way. A dissatisfied call is mostly
reopened (重办), at most twice; the rest are struck off the ledger (销号).
"""

from __future__ import annotations

import random

from huying.api.schemas.requests import EvaluateBody
from huying.domain.call import Call
from huying.domain.clocks import clocks_of
from huying.domain.principal import Principal, Role
from huying.domain.states import Satisfaction
from huying.synthetic.district import District

CONTACTED = 0.92
LATE_PENALTY = 0.8  # a call late anywhere satisfies this much less often


def evaluation(rng: random.Random, district: District, call: Call) -> tuple[Principal, EvaluateBody]:
    """Who calls the reporter back (the community mostly) and what they hear."""
    who = rng.choices(
        [
            Principal(Role.COMMUNITY, call.community_code),
            Principal(Role.GRID_WORKER, call.grid_code),
            Principal(Role.SUPERVISOR, district.org.district.code),
        ],
        [55, 25, 20],
    )[0]
    if rng.random() >= CONTACTED:
        return who, EvaluateBody(contacted=False, comment="多次联系未接通")
    lead = call.lead_order
    worker = lead.department_code if lead is not None else call.holder
    quality = district.quality.get(worker, 0.85)
    if any(c.breached for c in clocks_of(call)):
        quality *= LATE_PENALTY
    draw = rng.random()
    if draw < quality:
        satisfaction = Satisfaction.SATISFIED
    elif draw < quality + (1 - quality) * 0.55:
        satisfaction = Satisfaction.BASICALLY_SATISFIED
    else:
        satisfaction = Satisfaction.DISSATISFIED
    body = EvaluateBody(
        contacted=True,
        solved=satisfaction is not Satisfaction.DISSATISFIED,
        satisfaction=satisfaction,
        comment=rng.choice([None, None, "群众表示认可", "回访记录已存档"]),
    )
    return who, body
