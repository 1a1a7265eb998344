"""One deployment (a data directory and its databases, on either backend) and the real
`huying serve` processes started on it, over TCP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from backends import raw_events, settings_env
from huying.settings import Settings

READY_ATTEMPTS = 400  # × POLL_INTERVAL (plus each probe's own time): about 20 s at most
POLL_INTERVAL = 0.05
STOP_TIMEOUT = 20.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    """One deployment, and the `huying serve` processes started on it, one at a time."""

    settings: Settings  # the test's own (the ``settings`` fixture): its backend, its data_dir
    log_dir: Path
    env: dict[str, str] = field(init=False, repr=False)
    proc: subprocess.Popen[bytes] | None = None
    base_url: str = ""
    starts: int = 0
    started: list[subprocess.Popen[bytes]] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUYING_")}
        env.update(settings_env(self.settings), HUYING_FAKE_CLOCK="1")
        self.env = env

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "huying.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"huying {' '.join(args)}: {done.stderr}"
        return done.stdout

    def token(self, role: str, unit: str) -> dict[str, str]:
        token = self.cli("token", "create", "--role", role, "--unit", unit).strip()
        assert token and "\n" not in token, "token create prints the token and nothing else"
        return {"Authorization": f"Bearer {token}"}

    def start(self) -> None:
        assert self.proc is None, "already running"
        port = free_port()
        self.starts += 1
        log = (self.log_dir / f"serve-{self.starts}.log").open("wb")
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "huying.cli", "serve", "--port", str(port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        finally:
            log.close()  # the child has its own copy
        self.started.append(self.proc)
        self.base_url = f"http://127.0.0.1:{port}"
        self._wait_ready()

    def _wait_ready(self) -> None:
        assert self.proc is not None
        with httpx.Client(base_url=self.base_url, timeout=2.0) as client:
            for _ in range(READY_ATTEMPTS):
                if self.proc.poll() is not None:
                    pytest.fail(f"huying serve exited with {self.proc.returncode}:\n{self.log()}")
                try:
                    ready = client.get("/readyz")
                    if ready.status_code == 200 and ready.json()["status"] == "ready":
                        return
                except httpx.TransportError:
                    pass
                time.sleep(POLL_INTERVAL)
        pytest.fail(f"huying serve not ready after {READY_ATTEMPTS} attempts:\n{self.log()}")

    def terminate(self) -> None:
        """SIGTERM: uvicorn drains, runs the shutdown (closing the stores) and exits, either with
        0 or by re-raising the signal (uvicorn ≥ 0.29)."""
        code = self.stop(signal.SIGTERM)
        log = self.log()
        assert code in (0, -signal.SIGTERM), f"exit {code} after SIGTERM:\n{log}"
        assert "Application shutdown complete" in log, f"no orderly shutdown:\n{log}"

    def stop(self, sig: signal.Signals) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"huying serve ignored {sig.name} for {STOP_TIMEOUT} s:\n{self.log()}")
        self.proc = None
        return code

    def log(self) -> str:
        return (self.log_dir / f"serve-{self.starts}.log").read_text(errors="replace")[-4000:]

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=10.0)

    def cleanup(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=STOP_TIMEOUT)

    def call_ids(self) -> set[str]:
        with raw_events(self.settings) as store:
            return {str(i) for i in store.originator_ids()}

    def stored(self) -> tuple[int, int]:
        """(distinct calls, events) in the event store."""
        with raw_events(self.settings) as store:
            return store.counts()
