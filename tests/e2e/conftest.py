"""Fixtures of the end-to-end tests that start real `huying serve` processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .server import Server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """A data directory and the servers started on it; whatever still runs is killed after."""
    logs = tmp_path / "logs"
    logs.mkdir()
    srv = Server(tmp_path / "var", logs)
    try:
        yield srv
    finally:
        srv.cleanup()
