"""A real `huying serve` on a fresh data directory, for the benchmarks that need one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

GRID = "LW-LN-01-G01"


@dataclass(frozen=True)
class Served:
    process: subprocess.Popen[bytes]
    base_url: str
    token: str  # a grid worker's, of GRID


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def served(settings: dict[str, str] | None = None, code: str | None = None) -> Iterator[Served]:
    """Migrated, a grid worker's token made, serving on a free port until the block ends.
    ``settings``: more HUYING_* variables; ``code``: a PYTHONPATH to serve other code from."""
    with tempfile.TemporaryDirectory() as data_dir:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUYING_")}
        env.update(HUYING_DATA_DIR=data_dir, HUYING_DEMO="1", **(settings or {}))
        if code:
            env["PYTHONPATH"] = code
        cli = [sys.executable, "-m", "huying.cli"]
        subprocess.run([*cli, "migrate"], env=env, check=True, capture_output=True)
        made = [*cli, "token", "create", "--role", "grid_worker", "--unit", GRID]
        token = subprocess.run(made, env=env, check=True, capture_output=True, text=True).stdout.strip()
        port = free_port()
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        process = subprocess.Popen([*cli, "serve", "--port", str(port)], env=env, **quiet)
        try:
            base_url = f"http://127.0.0.1:{port}"
            _wait_ready(base_url)
            yield Served(process, base_url, token)
        finally:
            process.terminate()
            process.wait(timeout=30)


def _wait_ready(base_url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"huying serve at {base_url} not ready after 60 s")
