"""A department's queue asked for several statuses pages exactly as its whole queue, filtered:
each status is read on its own (an ordered range of the department's index) and the pages are
merged in order of change, then arrival."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import combinations

from huying.bootstrap import Services
from huying.clock import FakeClock
from huying.queries.queues import department_queue
from huying.synthetic.seed import Plan, seed_synthetic

PLAN = Plan(calls=250, seed=12, until=datetime(2026, 11, 16, 1, 0, tzinfo=UTC), days=45)


def pages(services: Services, department: str, statuses: tuple[str, ...], limit: int) -> list[str]:
    now, seen, after = services.clock.now(), [], 0
    with services.engine.connect() as conn:
        while rows := department_queue(conn, department, statuses, now, after, limit):
            seen += [r["order_id"] for r in rows]
            after = int(rows[-1]["updated_position"])
    return seen


def test_a_queue_of_several_statuses_pages_as_the_whole_queue_filtered(services: Services) -> None:
    assert isinstance(services.clock, FakeClock)
    seed_synthetic(services, services.clock, PLAN)
    checked = set()
    for department in ("CG", "ZJ", "SW", "JT", "WS"):
        everything = pages(services, department, (), 500)
        with services.engine.connect() as conn:
            rows = department_queue(conn, department, (), services.clock.now(), 0, 10_000)
        status_of = {r["order_id"]: r["status"] for r in rows}
        present = sorted(set(status_of.values()))
        for statuses in combinations(present, 2):
            wanted = [order for order in everything if status_of[order] in statuses]
            for limit in (1, 3, 50):
                assert pages(services, department, statuses, limit) == wanted, (department, statuses, limit)
            checked |= set(statuses)
    assert len(checked) >= 3, checked  # orders in several states were paged together
