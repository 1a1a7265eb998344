"""A process whose duty moved elsewhere does not keep reporting the duty's old trouble.

Seen with PostgreSQL stopped under two workers: the projecting worker's batches failed, it lost
its duty lock with its connection, another worker took the duty when the database came back —
and the first answered /readyz "not ready" ever after, its projector's last failure kept though
it no longer projected.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from httpx import Client

from backends import Backend, writes_blocked
from huying.bootstrap import Services
from huying.demo import principal_for_token
from huying.service_layer.calls import CallDraft
from huying.service_layer.command_path import Submission
from huying.settings import Settings


@pytest.fixture
def settings(backend: Backend, data_dir: Path) -> Settings:
    return backend.settings(data_dir, run_watchdog=False, database_lock_timeout=1)


def test_readiness_forgets_a_projector_failure_once_the_projector_stops_here(
    client: Client, services: Services, settings: Settings
) -> None:
    assert services.projector.running  # the app holds the projector duty
    grid = principal_for_token(services.app.org, "grid_worker", "LW-LN-01-G01")
    draft = CallDraft("C01-01", "LW-LN-01-G01", "路灯不亮", "整条巷子黑着", "grid_worker")
    with writes_blocked(settings, events=False):
        services.calls.raise_call(grid, draft, Submission())  # wakes the projector: its batch fails
        deadline = time.monotonic() + 30
        while services.projector.failing is None:
            assert time.monotonic() < deadline, "the projector's batch did not fail"
            time.sleep(0.01)
        services.projector.stop()  # its lock was lost with its connection: the duty moves on
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text


def test_metrics_say_how_far_the_log_and_projections_are_and_which_duties_are_held(
    client: Client, services: Services
) -> None:
    grid = principal_for_token(services.app.org, "grid_worker", "LW-LN-01-G01")
    services.calls.raise_call(
        grid, CallDraft("C01-01", "LW-LN-01-G01", "路灯", "不亮", "grid_worker"), Submission()
    )
    services.projector.catch_up()
    metrics = client.get("/metrics").text
    for line in (
        "huying_database_up 1.0",
        "huying_log_head 1.0",
        'huying_projection_position{projection="read-models"} 1.0',
        'huying_projection_lag{projection="read-models"} 0.0',
        'huying_duty_held{duty="projector"} 1.0',  # this app holds it
        'huying_duty_held{duty="watchdog"} 0.0',  # nobody runs one here: an alert
    ):
        assert line in metrics.splitlines(), f"{line} not in /metrics"
