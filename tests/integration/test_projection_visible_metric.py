"""/metrics tells how long a raise took to become visible in the read models, where they are
projected in the same process (P5's lag, as the server measures it) — and nothing where not."""

from __future__ import annotations

import re
import time
from typing import Any

from httpx import Client

from huying.bootstrap import Services

from .test_database_busy import RAISE

COUNT = re.compile(r"^huying_projection_visible_seconds_count\{pid=\"\d+\"\} (\S+)$", re.M)


def visible_count(client: Client) -> float:
    found = COUNT.search(client.get("/metrics").text)
    assert found is not None, "the histogram is on /metrics"
    return float(found.group(1))


def test_a_raise_projected_here_is_counted_once_it_is_visible(
    services: Services, client: Client, tokens: Any
) -> None:
    assert services.projector.running, "the app projects in this process"
    before = visible_count(client)
    for _ in range(3):
        raised = client.post(
            "/api/v1/calls", json=RAISE, headers=tokens.headers("grid_worker", "LW-LN-01-G01")
        )
        assert raised.status_code == 201, raised.text
    deadline = time.monotonic() + 30
    while visible_count(client) < before + 3 and time.monotonic() < deadline:
        services.projector.wait_until(services.app.recorder.max_notification_id(), 1.0)
    assert visible_count(client) == before + 3


def test_a_process_that_does_not_project_notes_nothing(
    services: Services, client: Client, tokens: Any
) -> None:
    services.projector.stop()
    raised = client.post("/api/v1/calls", json=RAISE, headers=tokens.headers("grid_worker", "LW-LN-01-G01"))
    assert raised.status_code == 201, raised.text
    services.projector.catch_up()  # visible, but applied by hand: no save of this process was noted
    assert visible_count(client) == 0
