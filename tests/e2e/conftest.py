"""Fixtures of the end-to-end tests that start real `huying` processes, and what a report
shows when a request got no answer in time."""

from __future__ import annotations

import sys
import threading
import traceback
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import httpx
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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    """A request that timed out: where every thread of this process stood just after (a server
    served in a thread of the test is among them), so a stall can be told from a slow machine."""
    outcome = yield
    if call.excinfo is not None and call.excinfo.errisinstance(httpx.TimeoutException):
        outcome.get_result().sections.append(("threads after the timeout", thread_stacks()))


def thread_stacks() -> str:
    frames = sys._current_frames()
    parts = []
    for thread in threading.enumerate():
        frame = frames.get(thread.ident or -1)
        if frame is not None:
            parts.append(f"--- {thread.name}\n{''.join(traceback.format_stack(frame))}")
    return "\n".join(parts)
