"""重放核验: the read models replayed from the log into a scratch database equal the live ones —
and a read-model row altered by hand shows up as a difference, table, key and column.

The histories are random (``histories.py``: right and wrong principals, forbidden moves,
repeats), projected in small batches as the server would, then replayed from nothing.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, update
from typer.testing import CliRunner

from backends import use_in_env
from huying.audit.replay import Comparison, replay_and_compare
from huying.bootstrap import Services
from huying.cli import cli
from huying.clock import FakeClock
from huying.projections.tables import READ_MODEL_TABLES, rm_calls, rm_stints, rm_work_orders
from huying.settings import Settings

from .histories import Shape, drive


@pytest.fixture
def history(services: Services, clock: FakeClock) -> int:
    """A random history of 30 calls, projected a few events at a time as it happens."""
    rng = random.Random(20261124)

    def now_and_then() -> None:
        if rng.random() < 0.3:
            services.projector.run_once(limit=rng.randint(1, 9))

    drive(services, clock, rng, Shape(calls=30, concurrency=8), now_and_then)
    services.projector.catch_up()
    return services.projector.tracked_position()


def replay(services: Services) -> Comparison:
    return replay_and_compare(services.app, services.engine, services.settings, batch_size=50)


def test_the_replayed_read_models_equal_the_live_ones(services: Services, history: int) -> None:
    result = replay(services)
    assert result.position == history == services.app.recorder.max_notification_id()
    assert result.same, result.shown
    assert set(result.rows) == {t.name for t in READ_MODEL_TABLES}
    assert result.rows["rm_calls"] == 30
    assert result.rows["rm_work_orders"] > 0 and result.rows["rm_stints"] > 30


def test_replay_stops_where_the_live_read_models_stand(
    services: Services, clock: FakeClock, history: int
) -> None:
    """Events the live projector has not reached yet are not replayed either."""
    drive(services, clock, random.Random(3), Shape.tame(calls=3, concurrency=3))
    assert services.app.recorder.max_notification_id() > history
    result = replay(services)
    assert result.position == history
    assert result.same, result.shown


def first_call(services: Services) -> str:
    with services.engine.connect() as conn:
        return str(conn.execute(select(rm_calls.c.call_id).order_by(rm_calls.c.seq)).scalar())


def test_a_row_altered_by_hand_is_a_difference(services: Services, history: int) -> None:
    call_id = first_call(services)
    with services.engine.begin() as conn:
        status = conn.execute(select(rm_calls.c.status).where(rm_calls.c.call_id == call_id)).scalar()
        conn.execute(update(rm_calls).where(rm_calls.c.call_id == call_id).values(status="closed", round=9))
    result = replay(services)
    assert not result.same
    assert result.differing == {**dict.fromkeys(result.differing, 0), "rm_calls": 1}
    (difference,) = result.shown
    assert (difference.table, difference.key) == ("rm_calls", {"call_id": call_id})
    changed = {"round": (9, difference.columns["round"][1])}
    if status != "closed":
        changed["status"] = ("closed", status)
    assert difference.columns == changed


def test_rows_deleted_or_added_by_hand_are_differences(services: Services, history: int) -> None:
    with services.engine.begin() as conn:
        stint: Any = conn.execute(select(rm_stints).order_by(rm_stints.c.call_id, rm_stints.c.n)).first()
        conn.execute(delete(rm_stints).where(rm_stints.c.call_id == stint.call_id, rm_stints.c.n == stint.n))
        order: Any = conn.execute(select(rm_work_orders)).first()
        conn.execute(insert(rm_work_orders).values({**order._mapping, "order_id": order.order_id + "9"}))
    result = replay(services)
    assert result.differing["rm_stints"] == 1 and result.differing["rm_work_orders"] == 1
    by_table = {d.table: d for d in result.shown}
    assert by_table["rm_stints"].live is None
    assert by_table["rm_stints"].key == {"call_id": stint.call_id, "n": stint.n}
    assert by_table["rm_work_orders"].replayed is None
    assert by_table["rm_work_orders"].key == {"order_id": order.order_id + "9"}


def test_the_cli_prints_the_differences_and_fails(
    services: Services, settings: Settings, history: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_in_env(monkeypatch, settings)
    runner = CliRunner()
    clean = runner.invoke(cli, ["audit", "replay", "--batch-size", "40"])
    assert clean.exit_code == 0, clean.output
    assert "rm_calls: 30 rows, 0 differences" in clean.output
    assert "the live read models equal the replay" in clean.output

    call_id = first_call(services)
    with services.engine.begin() as conn:
        conn.execute(update(rm_calls).where(rm_calls.c.call_id == call_id).values(title="篡改的标题"))
    altered = runner.invoke(cli, ["audit", "replay"])
    assert altered.exit_code == 1, altered.output
    assert "rm_calls: 30 rows, 1 differences" in altered.output
    assert f"rm_calls [call_id={call_id}] title: live '篡改的标题'" in altered.output
