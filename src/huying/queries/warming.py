"""What a server process reads once as it starts, before its first request: the recent raises
its raises' duplicate hints come from, and the dashboards people open first.

The recent raises (``projections.recent``) load on their first question otherwise: at a million
calls, the first raise then waits a few hundred milliseconds, and the requests behind it on the
loop with it. ``warm`` loads them first, whatever the budget below (one read).

A dashboard keeps the spreads it has merged, and the percentiles merged from them, in its own
process (``spread_memo``). So the first time a process is asked for one it reads and merges
every spread, which costs about twice as much as each later request (at a million calls, the
district's year by month: ~60 ms at p95 against ~25 ms). With N workers, a client meets that N
times for each dashboard.

``warm`` asks for the dashboards a supervisor or a street opens first — the district's and each
street's, over the default days, weeks and months, as the console's overview shows them —
before the process answers its first request. It reads; it writes nothing. A failure (the
database not there yet) or a slow database costs only the warmth: the process starts anyway.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from eventsourcing.persistence import PersistenceError
from sqlalchemy.exc import SQLAlchemyError

from huying.domain.org import UnitKind
from huying.queries.dashboard import Granularity, default_first, local_day, sla_dashboard

if TYPE_CHECKING:
    from huying.bootstrap import Services

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Warmed:
    recent_calls: int  # the recent raises held for the duplicate hints
    dashboards: int  # read
    of: int  # asked for
    seconds: float


def warm(services: Services) -> Warmed:
    """The recent raises loaded; then the district's and each street's dashboards over the
    default ranges read, within ``warm_dashboards_seconds``; what was read is then held by this
    process. Past the budget, the rest are left to the first requests."""
    recent_calls = _recent_raises(services)
    budget_seconds = services.settings.warm_dashboards_seconds
    if budget_seconds <= 0:  # turned off
        return Warmed(recent_calls, 0, 0, 0.0)
    org, calendar = services.app.org, services.app.calendar
    now = services.clock.now()
    today = local_day(now)
    units = [org.district.code, *(street.code for street in org.of_kind(UnitKind.STREET))]
    asked = [(unit, g) for unit in units for g in Granularity]
    started = time.perf_counter()
    done = 0
    try:
        for unit, granularity in asked:
            if time.perf_counter() - started >= budget_seconds:
                log.warning("warming the dashboards: %d of %d read in the budget", done, len(asked))
                break
            with services.engine.connect() as conn:
                sla_dashboard(
                    conn, org, unit, default_first(today, granularity), today, granularity, now, calendar
                )
            done += 1
        else:
            log.info("warmed %d dashboards in %.2f s", done, time.perf_counter() - started)
    except SQLAlchemyError as e:  # the first requests will say what is wrong, as they would have
        log.warning("warming the dashboards stopped: %s", str(e).partition("\n")[0])
    return Warmed(recent_calls, done, len(asked), round(time.perf_counter() - started, 3))


def _recent_raises(services: Services) -> int:
    started = time.perf_counter()
    try:
        held = services.recent.warm()
        log.info(
            "loaded %d recent calls for the duplicate hints in %.2f s", held, time.perf_counter() - started
        )
        return held
    except (SQLAlchemyError, PersistenceError) as e:  # the first raise will load them again
        log.warning("loading the recent raises stopped: %s", str(e).partition("\n")[0])
        return 0
