"""Read-your-writes (``min_position``) in an API process whose read models another process
projects: what the process already knows, it asks no thread for. It hears of every batch the
other process commits (its listener), and it saw the position of every write it answered; each
look at the tracking row or at the log's head is a hop to a thread and back, which a saturated
server made a waiting client wait for in turn. A process that hears nothing looks at the row.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from starlette.requests import Request

from huying.api.app import create_app
from huying.api.deps import PositionBeyondHead, _read_position
from huying.bootstrap import Services
from huying.demo import principal_for_token
from huying.service_layer.calls import CallDraft
from huying.service_layer.command_path import Submission

GRID = "LW-LN-01-G01"


def raise_one(services: Services) -> int:
    grid = principal_for_token(services.app.org, "grid_worker", GRID)
    draft = CallDraft("C01-01", GRID, "井盖缺失", "人行道井盖丢了", "grid_worker")
    return services.calls.raise_call(grid, draft, Submission()).position


def a_request(services: Services) -> Request:
    app = create_app(services=services)  # its state: the services and the waiters' limits
    principal = principal_for_token(services.app.org, "grid_worker", GRID)
    return Request({"type": "http", "app": app, "headers": [], "state": {"principal": principal}})


@pytest.fixture
def asked(services: Services, monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Each look at the tracking row or at the log's head, counted."""
    looks: Counter[str] = Counter()
    projector, recorder = services.projector, services.app.recorder

    def counted(name: str, look: Any) -> Any:
        def counting() -> Any:
            looks[name] += 1
            return look()

        return counting

    monkeypatch.setattr(projector, "tracked_position", counted("row", projector.tracked_position))
    monkeypatch.setattr(recorder, "max_notification_id", counted("head", recorder.max_notification_id))
    return looks


def test_a_position_heard_of_is_answered_without_a_look(
    services: Services, elsewhere: Services, asked: Counter[str]
) -> None:
    services.projector.note_apart = True  # as an API worker that hears of the projector's batches
    position = raise_one(services)
    elsewhere.projector.catch_up()
    services.projector.visible(position)  # the news of the batch, as the listener brings it

    assert asyncio.run(_read_position(a_request(services), position)) == position
    assert asked == Counter()


def test_a_wait_for_a_position_this_process_saved_asks_nothing_and_ends_with_the_news(
    services: Services, elsewhere: Services, asked: Counter[str]
) -> None:
    services.projector.note_apart = True
    position = raise_one(services)
    elsewhere.projector.catch_up()

    waiting_when_told: list[int] = []

    def news() -> None:  # the listener's, once the read has taken its first step
        waiting_when_told.append(services.projector.progress.waiting)
        services.projector.visible(position)

    async def read_while_the_news_comes() -> int:
        reading = asyncio.create_task(_read_position(a_request(services), position))
        asyncio.get_running_loop().call_soon(news)
        return await reading

    assert asyncio.run(read_while_the_news_comes()) == position
    assert waiting_when_told == [1]  # it waited at once, in the loop
    assert asked["head"] == 0  # a position it saved is in the log
    assert asked["row"] <= 1  # the watcher's look while the read waited, if it came first


def test_a_position_beyond_any_this_process_saw_is_checked_against_the_head(
    services: Services, asked: Counter[str]
) -> None:
    services.projector.note_apart = True
    position = raise_one(services)

    with pytest.raises(PositionBeyondHead):
        asyncio.run(_read_position(a_request(services), position + 1))
    assert asked["head"] == 1


def test_a_process_that_hears_nothing_looks_at_the_row(
    services: Services, elsewhere: Services, asked: Counter[str]
) -> None:
    assert not services.projector.hears_every_batch  # neither projects nor hears of batches
    position = raise_one(services)
    elsewhere.projector.catch_up()  # the row has moved; nothing told this process

    assert asyncio.run(_read_position(a_request(services), position)) == position
    assert asked == Counter(row=1)
