"""The synthetic district: what its calls are about, how its units work, when calls arrive.

Everything is drawn once from the history's random generator, so one seed gives one district:
some items are reported far more often than others, some grids are busier, and each unit has
its own punctuality (how often it meets a clock) and quality (how often its work satisfies) —
which is what makes response rates, scores and rankings differ between units, as they do.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from huying.domain.catalog import Catalog, Item, Priority
from huying.domain.org import Org, UnitKind
from huying.domain.worktime import WorkCalendar

# Calls per hour of the local day (relative): quiet at night, peaks mid-morning and mid-afternoon.
HOURLY = (
    *(0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.5, 1.2, 2.5, 3.5, 3.5, 3.0),  # 00:00–11:59
    *(1.8, 1.5, 2.8, 3.2, 3.0, 2.4, 1.5, 1.2, 1.0, 0.8, 0.5, 0.3),  # 12:00–23:59
)
# A weekend or holiday brings this share of a working day's calls (the hotline never closes).
RESTDAY_SHARE = 0.45
# Liwan's centre: grids lie within a few kilometres of it.
_CENTRE = (23.125, 113.244)


@dataclass(frozen=True)
class District:
    org: Org
    catalog: Catalog
    items: list[Item]
    item_weights: list[float]
    grids: list[str]
    grid_weights: list[float]
    spot: dict[str, tuple[float, float]]  # grid → where its calls cluster (lat, lon)
    punctuality: dict[str, float]  # unit → chance it meets a clock it owes
    quality: dict[str, float]  # unit → chance its work leaves the reporter satisfied

    @property
    def departments(self) -> list[str]:
        return [u.code for u in self.org.of_kind(UnitKind.DEPARTMENT)]

    def item(self, rng: random.Random) -> Item:
        return rng.choices(self.items, self.item_weights)[0]

    def grid(self, rng: random.Random) -> str:
        return rng.choices(self.grids, self.grid_weights)[0]


def make_district(org: Org, catalog: Catalog, rng: random.Random) -> District:
    items = sorted(catalog.items.values(), key=lambda i: i.code)
    rng.shuffle(items)  # which items are common is part of the seed
    # Zipf-like: the commonest item is reported ~20× as often as the rarest; emergencies are rare.
    item_weights = [
        (1 / (rank + 1) ** 0.8) * (0.15 if i.priority is Priority.URGENT else 1)
        for rank, i in enumerate(items)
    ]
    grids = [u.code for u in org.of_kind(UnitKind.GRID)]
    units = [
        u.code
        for kind in (UnitKind.COMMUNITY, UnitKind.STREET, UnitKind.DEPARTMENT)
        for u in org.of_kind(kind)
    ]
    base = {UnitKind.COMMUNITY: 0.80, UnitKind.STREET: 0.76, UnitKind.DEPARTMENT: 0.64}
    return District(
        org=org,
        catalog=catalog,
        items=items,
        item_weights=item_weights,
        grids=grids,
        grid_weights=[0.4 + rng.random() for _ in grids],
        spot={
            g: (_CENTRE[0] + rng.uniform(-0.03, 0.03), _CENTRE[1] + rng.uniform(-0.03, 0.03)) for g in grids
        },
        punctuality={u: base[org.kind_of(u) or UnitKind.DEPARTMENT] + rng.uniform(0, 0.18) for u in units},
        quality={u: rng.uniform(0.72, 0.96) for u in units},
    )


def arrivals(
    calendar: WorkCalendar, rng: random.Random, calls: int, first: datetime, until: datetime
) -> Iterator[datetime]:
    """``calls`` raise times from ``first`` to ``until``, in order: each day gets its share by
    the calendar (working days, weekends and holidays), each hour its share of the day."""
    days = _days(calendar, first, until)
    total = sum(w for _, w in days)
    made, cumulative = 0, 0.0
    for day, weight in days:
        cumulative += weight
        count = round(cumulative / total * calls) - made
        made += count
        times = []
        for hour in rng.choices(range(24), HOURLY, k=count):
            local = datetime.combine(day, time(hour), calendar.tz)
            times.append(local + timedelta(seconds=rng.randrange(3600)))
        for t in sorted(times):
            if first <= t < until:
                yield t
            else:  # the first and last days are cut at the history's ends: keep the count
                yield min(max(t, first), until - timedelta(seconds=1))


def _days(calendar: WorkCalendar, first: datetime, until: datetime) -> list[tuple[date, float]]:
    day, last = first.astimezone(calendar.tz).date(), until.astimezone(calendar.tz).date()
    found = []
    while day <= last:
        found.append((day, 1.0 if calendar.is_workday(day) else RESTDAY_SHARE))
        day += timedelta(days=1)
    return found
