"""Processes of a new deployment started together — API workers, projector, watchdog, each of
which migrates first — create its schema once, one after the other: two CREATE TABLEs of one
table at once fail on PostgreSQL, IF NOT EXISTS or not."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .server import Server

pytestmark = pytest.mark.slow

TOGETHER = 4


def test_processes_started_together_on_a_new_deployment_migrate_one_at_a_time(server: Server) -> None:
    started = [
        subprocess.Popen(
            [sys.executable, "-m", "huying.cli", "migrate"],
            env=server.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(TOGETHER)
    ]
    for proc in started:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
        assert "schemas are up to date" in err
    assert server.stored() == (0, 0)  # the event store's tables are there, and empty
