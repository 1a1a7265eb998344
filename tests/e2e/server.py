"""One deployment (a data directory and its databases, on either backend) and the real
processes started on it: `huying serve` (one worker or several) over TCP, and `huying project`,
`huying chain`, `huying watch` beside it. Each runs in a process group of its own, so a kill
takes a server's workers with it."""

from __future__ import annotations

import contextlib
import os
import re
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
from huying.bootstrap import opened
from huying.demo import principal_for_token
from huying.settings import Settings

from .inprocess import HTTP_PATIENCE

READY_DEADLINE = 90.0  # seconds: several workers import everything at once on a busy machine
POLL_INTERVAL = 0.05
STOP_TIMEOUT = 20.0


def duty_processes(server: Server) -> list[int]:
    """The pids `huying serve` said its duties' processes have (SQLite), in order."""
    return [int(pid) for pid in re.findall(r"the duties' process is pid (\d+)", server.log())]


def chain_processes(server: Server) -> list[int]:
    """The pids `huying serve` said its chain keeper's processes have, in order."""
    return [int(pid) for pid in re.findall(r"the chain keeper's process is pid (\d+)", server.log())]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL to the process and its group (a server's workers), and wait for it. Once the
    process has been waited for, its number is no longer ours: the kernel may have given it to
    another process, another test's server among them, so nothing is sent then."""
    if proc.returncode is None:  # alive, or a zombie still holding its number
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=STOP_TIMEOUT)


@dataclass
class Child:
    """A `huying project|chain|watch` process."""

    name: str
    proc: subprocess.Popen[bytes]
    log_file: Path

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        kill_group(self.proc)

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=STOP_TIMEOUT)

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")[-8000:]


@dataclass
class Server:
    """One deployment, the `huying serve` processes started on it one at a time, and the
    `huying` processes spawned beside them."""

    settings: Settings  # the test's own (the ``settings`` fixture): its backend, its data_dir
    log_dir: Path
    env: dict[str, str] = field(init=False, repr=False)
    proc: subprocess.Popen[bytes] | None = None
    base_url: str = ""
    starts: int = 0
    started: list[subprocess.Popen[bytes]] = field(default_factory=list, repr=False)
    children: list[Child] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUYING_")}
        # One process unless a test asks for the duties' own (HUYING_DUTIES_APART=1): a
        # child `huying project` costs each start a second of CPU, and most tests are not about it.
        env.update(settings_env(self.settings), HUYING_FAKE_CLOCK="1", HUYING_DUTIES_APART="0")
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
        """A bearer token for ``role`` at ``unit``, made as `huying token create` makes it, but
        in this process: starting a `huying` process costs a test one to two seconds, and most
        tests are not about the command (test_cli runs it)."""
        with opened(self.settings) as services:
            principal = principal_for_token(services.app.org, role, unit)
            _, token = services.tokens.create(principal, label="test")
        return {"Authorization": f"Bearer {token}"}

    def start(self, workers: int = 1, **env: str) -> None:
        """`huying serve --workers N`, with ``env`` (HUYING_*) over the deployment's own."""
        assert self.proc is None, "already running"
        port = free_port()
        self.starts += 1
        args = ["serve", "--port", str(port), "--workers", str(workers)]
        self.proc = self._popen(f"serve-{self.starts}", args, env)
        self.base_url = f"http://127.0.0.1:{port}"
        self._wait_ready(workers)

    def spawn(self, *args: str, **env: str) -> Child:
        """A `huying <args>` process beside the server (project, chain, watch), not waited for."""
        name = f"{args[0]}-{len(self.children) + 1}"
        child = Child(name, self._popen(name, list(args), env), self.log_dir / f"{name}.log")
        self.children.append(child)
        return child

    def _popen(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"{name}.log").open("wb")
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "huying.cli", *args],
                env={**self.env, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a group of its own: uvicorn's workers are in it
            )
        finally:
            log.close()  # the child has its own copy
        self.started.append(proc)
        return proc

    def _wait_ready(self, workers: int) -> None:
        """Ready, and every worker started: one still starting when a test stops the database
        fails its start, and uvicorn then stops the whole server."""
        assert self.proc is not None
        deadline = time.monotonic() + READY_DEADLINE
        with httpx.Client(base_url=self.base_url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    pytest.fail(f"huying serve exited with {self.proc.returncode}:\n{self.log()}")
                try:
                    ready = client.get("/readyz")
                    if (
                        ready.status_code == 200
                        and ready.json()["status"] == "ready"
                        and self._started(workers)
                    ):
                        return
                except httpx.TransportError:
                    pass
                time.sleep(POLL_INTERVAL)
        pytest.fail(f"huying serve not ready after {READY_DEADLINE} s:\n{self.log()}")

    def _started(self, workers: int) -> bool:
        log = (self.log_dir / f"serve-{self.starts}.log").read_bytes()
        return log.count(b"Application startup complete.") >= workers

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

    def kill(self) -> None:
        """kill -9 of the server: its supervisor and every worker at once."""
        assert self.proc is not None
        kill_group(self.proc)
        self.proc = None

    def log(self, tail: int = 8000) -> str:
        """The last ``tail`` characters the latest `huying serve` wrote."""
        return (self.log_dir / f"serve-{self.starts}.log").read_text(errors="replace")[-tail:]

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=HTTP_PATIENCE)

    def cleanup(self) -> None:
        """Kill what still runs. A server that ended by itself says how, on the test's output
        (shown when it failed): a signal, a crash's tracebacks in its log, or an exit status."""
        if self.proc is not None and self.proc.poll() is not None:
            print(f"huying serve (pid {self.proc.pid}) ended by itself: {self.proc.returncode}")
            print(self.log())
        for proc in self.started:
            kill_group(proc)

    def call_ids(self) -> set[str]:
        with raw_events(self.settings) as store:
            return {str(i) for i in store.originator_ids()}

    def stored(self) -> tuple[int, int]:
        """(distinct calls, events) in the event store."""
        with raw_events(self.settings) as store:
            return store.counts()
