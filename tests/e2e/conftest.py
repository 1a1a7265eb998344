"""Fixtures of the end-to-end tests that start real `huying` processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from huying.settings import Settings

from .server import Server


@pytest.fixture
def server(settings: Settings, tmp_path: Path) -> Iterator[Server]:
    """A deployment (on the test's backend) and the processes started on it; whatever still
    runs is killed after."""
    logs = tmp_path / "logs"
    logs.mkdir()
    srv = Server(settings, logs)
    try:
        yield srv
    finally:
        srv.cleanup()
