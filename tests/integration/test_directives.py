"""令行禁止 on each backend, through the services the server runs: a district directive to two
streets, one breaking it down to its communities; receipt, rework and acceptance; the fake clock
moved past deadlines over a local holiday → 督办 from the watchdog; the board, the pending lists
and the figures from the read models — and a rebuild gives the same rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import pytest

from backends import Backend
from huying.bootstrap import Services
from huying.clock import FakeClock
from huying.domain.principal import Principal, Role
from huying.projections.runner import Projector
from huying.queries.directive_figures import figures
from huying.queries.directives import board, pending
from huying.service_layer.command_path import Submission
from huying.service_layer.directives import DirectiveDraft
from huying.settings import Settings
from stored_rows import Rows, rows_of

DISTRICT = Principal(Role.SUPERVISOR, "LW")
LN, DB = Principal(Role.STREET, "LW-LN"), Principal(Role.STREET, "LW-DB")
LN01, LN02 = Principal(Role.COMMUNITY, "LW-LN-01"), Principal(Role.COMMUNITY, "LW-LN-02")
NONE = Submission()


def shanghai(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour - 8, minute, tzinfo=UTC)


@pytest.fixture
def settings(backend: Backend, data_dir: Path, tmp_path: Path) -> Settings:
    """Wednesday 25 and Thursday 26 November 2026 are local holidays (the district's file)."""
    calendar = tmp_path / "calendar.json"
    calendar.write_text(json.dumps({"holidays": ["2026-11-25", "2026-11-26"]}), encoding="utf-8")
    return backend.settings(data_dir, run_watchdog=False, calendar_file=calendar)


def sweep(services: Services) -> list[tuple[str, str]]:
    services.projector.catch_up()
    return sorted((m.clock, m.noun) for m in services.watchdog.sweep())


def rows(services: Services) -> Rows:
    return rows_of(services.engine)


def test_a_directive_down_the_chain_over_a_holiday(services: Services, clock: FakeClock) -> None:
    d = services.directives
    parent = d.issue(
        DISTRICT, NONE, DirectiveDraft("消防通道清理", "限期清理", ["LW-LN", "LW-DB"], working_days=2)
    )
    parent_id = parent.aggregate.id
    assert parent.aggregate.deadline == shanghai(27, 9)  # two working days, the holiday skipped
    clock.set(shanghai(23, 10))
    d.receive(LN, parent_id, "LW-LN", NONE)
    child = d.issue(
        LN,
        NONE,
        DirectiveDraft("分解", "各社区", ["LW-LN-01", "LW-LN-02"], working_days=1, parent_id=parent_id),
    )
    child_id = child.aggregate.id
    clock.set(shanghai(23, 11))
    d.receive(LN01, child_id, "LW-LN-01", NONE)
    d.receive(LN02, child_id, "LW-LN-02", NONE)
    d.report_done(LN01, child_id, "LW-LN-01", NONE, "已清理")
    d.send_back(LN, child_id, "LW-LN-01", NONE, "仍有杂物")
    d.report_done(LN01, child_id, "LW-LN-01", NONE, "已全部清理")
    with services.engine.connect() as conn:
        services.projector.catch_up()
        assert [r["directive_id"] for r in pending(conn, "LW-LN", "issuer", clock.now(), 0, 50)] == [
            str(child_id)
        ]
    d.accept(LN, child_id, "LW-LN-01", NONE)

    clock.set(shanghai(24, 10, 1))  # receipt due Tuesday 09:00; the breakdown due Tuesday 10:00
    assert sweep(services) == [("LW-DB:receipt", "directive"), ("LW-LN-02:completion", "directive")]
    assert sweep(services) == []  # each clock once
    clock.set(shanghai(26, 16))  # a holiday: the parent is due on Friday
    assert sweep(services) == []
    clock.set(shanghai(27, 9, 1))
    assert sweep(services) == [("LW-DB:completion", "directive"), ("LW-LN:completion", "directive")]

    services.projector.catch_up()
    with services.engine.connect() as conn:
        shown = board(conn, DISTRICT, services.app.org, str(parent_id), clock.now())
        by_unit = {r["unit"]: r for r in figures(conn, None, clock.now())}
        other_street = board(conn, DB, services.app.org, str(parent_id), clock.now())
    assert {t["unit"]: (t["stage"], t["supervised"]) for t in shown["targets"]} == {
        "LW-LN": ("received", 1),
        "LW-DB": ("issued", 2),
    }
    assert shown["standing"]["overdue"] == 2
    [breakdown] = shown["children"]
    assert breakdown["directive_id"] == str(child_id) and breakdown["standing"]["by_stage"]["accepted"] == 1
    assert other_street["children"] == []  # LW-LN's breakdown is not LW-DB's to see
    assert (
        by_unit["LW-LN-01"]["on_time_receipt_rate"],
        by_unit["LW-LN-01"]["first_time_acceptance_rate"],
    ) == (
        1.0,
        0.0,
    )
    assert by_unit["LW-LN-01"]["on_time_completion_rate"] == 1.0
    assert (by_unit["LW-DB"]["on_time_receipt_rate"], by_unit["LW-DB"]["on_time_completion_rate"]) == (
        0.0,
        0.0,
    )
    assert by_unit["LW-LN-02"]["completion_judged"] == 1 and by_unit["LW-LN-02"]["accepted"] == 0

    incremental = rows(services)
    rebuilder = Projector(services.app, services.engine, batch_size=3)
    rebuilder.reset()
    rebuilder.catch_up()
    assert rows(services) == incremental
    assert len(incremental["rm_directive_targets"]) == 4


def test_the_history_and_past_of_a_directive(services: Services, clock: FakeClock) -> None:
    d = services.directives
    issued = d.issue(
        DISTRICT, Submission(key="k", fingerprint="f"), DirectiveDraft("t", "b", ["LW-LN"], working_days=1)
    )
    directive_id: UUID = issued.aggregate.id
    clock.set(shanghai(23, 10))
    d.receive(LN, directive_id, "LW-LN", NONE)
    history = d.history(LN, directive_id)
    assert [type(e).__name__ for _, e in history.events] == ["Issued", "Received"] and not history.unvouched
    assert (
        d.directive_then(LN, directive_id, as_of=shanghai(23, 9, 30)).targets["LW-LN"].stage.value == "issued"
    )
    again = d.issue(
        DISTRICT, Submission(key="k", fingerprint="f"), DirectiveDraft("t", "b", ["LW-LN"], working_days=1)
    )
    assert again.replayed and again.position == issued.position
