"""Real server processes on this machine's loopback: ``huying serve`` and the baselines, each
served by uvicorn with the same settings (workers, log level, no access log)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
READY_SECONDS = 120.0
# What uvicorn logs (at info) once a worker process has started and may accept connections.
STARTED = b"Application startup complete."


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without anyone's HUYING_* or BENCH_* (each server gets its own)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUYING_", "BENCH_"))}
    env.update(extra)
    return env


@dataclass
class Server:
    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    workers: int = 1
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    logged_before: int = 0  # the log's length when this run of the server began
    # Beyond /healthz: what else must hold before the server counts as up (measured as it runs,
    # not while it starts).
    up: Callable[[httpx.Client], bool] = lambda _client: True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        with self.log.open("ab") as out:
            self.logged_before = out.tell()
            self.proc = subprocess.Popen(
                [*self.argv, "--port", str(self.port)],
                env=self.env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self._wait_ready()
        return self

    def __exit__(self, *_: object) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_SECONDS
        with httpx.Client(base_url=self.url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                assert self.proc is not None
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log}")
                try:
                    if self._all_started() and client.get("/healthz").status_code == 200 and self.up(client):
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after {READY_SECONDS:.0f} s; see {self.log}")

    def _all_started(self) -> bool:
        """Every worker process has started: none is still starting (importing, warming) on a core
        the measurement runs on, and each can take connections, as in a deployment that runs."""
        with self.log.open("rb") as logged:
            logged.seek(self.logged_before)
            return logged.read().count(STARTED) >= self.workers


DUTIES = ("projector", "chain", "watchdog", "webhooks")
_HELD = re.compile(r'^huying_duty_held\{duty="(\w+)"\} 1(?:\.0)?$', re.MULTILINE)


def duties_held(client: httpx.Client) -> bool:
    """Every duty of the deployment held by one of its processes (/metrics): with
    ``huying serve``'s duties in a process of their own, that process has started (its imports
    and start take a core for a second or two) and projects."""
    return set(DUTIES) <= set(_HELD.findall(client.get("/metrics").text))


def huying(env: dict[str, str], log: Path, workers: int = 1) -> Server:
    """The real ``huying serve`` (migrations, projector, watchdog, everything), up once its
    duties are held, as the deployment runs rather than as it starts."""
    argv = [sys.executable, "-m", "huying.cli", "serve", "--workers", str(workers)]
    return Server("huying", argv, env, log, workers, up=duties_held)


def baseline(module: str, env: dict[str, str], log: Path, workers: int = 1) -> Server:
    """A baseline app under uvicorn's own command line, set up as ``huying serve`` sets up its own."""
    argv = [sys.executable, "-m", "uvicorn", f"bench.baselines.{module}:app", "--host", "127.0.0.1"]
    argv += ["--workers", str(workers), "--log-level", "info", "--no-access-log"]
    return Server(module, argv, env, log, workers)
