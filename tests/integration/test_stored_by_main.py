"""Events are forever: a log written by an earlier huying (``stored_by_main``) still folds,
projects, chains and verifies with today's code, and every answer about it is the one that
huying gave, byte for byte — whatever moved in the code since (topics kept by aliases)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from huying.bootstrap import Services

from .stored_by_main import FIXTURE, Observed, observe, observed
from .stored_by_main import replayed as replayed_from


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Observed, Services]]:
    """The stored deployment, upgraded, its read models rebuilt from the log by today's code."""
    with replayed_from(FIXTURE, tmp_path_factory, observe) as found:
        yield found


def test_the_stored_log_is_read_in_full(replayed: tuple[Observed, Services]) -> None:
    now, services = replayed
    assert services.projector.halted is None and services.chain.alarm is None
    assert now["verify"] == observed()["verify"]
    assert now["verify"]["ok"] and now["verify"]["checked"] == services.app.recorder.max_notification_id()


def test_every_call_reads_as_it_did(replayed: tuple[Observed, Services]) -> None:
    now, then = replayed[0], observed()
    assert sorted(now["calls"]) == sorted(then["calls"])
    for call_id, views in then["calls"].items():
        for view, answer in views.items():
            assert now["calls"][call_id][view] == answer, f"call {call_id}, {view}"


def test_every_work_order_and_the_feed_read_as_they_did(replayed: tuple[Observed, Services]) -> None:
    now, then = replayed[0], observed()
    assert now["orders"] == then["orders"]
    assert now["feed"] == then["feed"]


def test_the_rebuilt_read_models_hold_the_rows_they_held(replayed: tuple[Observed, Services]) -> None:
    """Columns added since are not compared: the fixture cannot know them."""
    now, then = replayed[0], observed()
    for table, rows in then["rows"].items():
        columns = set(rows[0]) if rows else set()
        assert [_only(r, columns) for r in now["rows"][table]] == rows, table


def _only(row: dict[str, Any], columns: set[str]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k in columns}


def test_the_fixture_is_what_its_writer_describes() -> None:
    """A guard against an edited fixture: the store holds the events the answers were made from."""
    assert (FIXTURE / "var" / "huying.events.db").stat().st_size > 0
    feed = observed()["feed"]
    assert sum(len(_data(page)) for page in feed) == observed()["verify"]["log_head"]


def _data(page: dict[str, Any]) -> list[Any]:
    data: list[Any] = json.loads(page["body"])["data"]
    return data
