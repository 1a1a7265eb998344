"""A real `huying serve` on a fresh data directory, with a grid worker's token, for the
benchmarks that attack or load one server (``healthz_under_load``, ``photo_memory``)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.servers import Server, clean_env

GRID = "LW-LN-01-G01"


@dataclass(frozen=True)
class Served:
    process: subprocess.Popen[bytes]
    base_url: str
    token: str  # a grid worker's, of GRID


@contextmanager
def served(settings: dict[str, str] | None = None, code: str | None = None) -> Iterator[Served]:
    """Migrated, a grid worker's token made, serving on a free port until the block ends.
    ``settings``: more HUYING_* variables; ``code``: a PYTHONPATH to serve other code from."""
    with tempfile.TemporaryDirectory() as data_dir:
        env = clean_env(HUYING_DATA_DIR=data_dir, HUYING_DEMO="1", **(settings or {}))
        if code:
            env["PYTHONPATH"] = code
        cli = [sys.executable, "-m", "huying.cli"]
        subprocess.run([*cli, "migrate"], env=env, check=True, capture_output=True)
        made = [*cli, "token", "create", "--role", "grid_worker", "--unit", GRID]
        token = subprocess.run(made, env=env, check=True, capture_output=True, text=True).stdout.strip()
        with Server("huying", [*cli, "serve"], env, Path(data_dir) / "serve.log") as server:
            assert server.proc is not None
            yield Served(server.proc, server.url, token)
