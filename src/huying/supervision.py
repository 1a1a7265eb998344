"""The processes `huying serve` starts besides the one answering requests, and how they end.

- **Its children stop when it dies.** uvicorn's workers, and the duties' process below, are
  told the supervisor's pid (``HUYING_SUPERVISOR_PID``). When the supervisor is killed outright
  (SIGKILL, the OOM killer) nothing tells them, and an orphan would go on serving the old socket
  or holding duty locks while a restarted server cannot bind its port or take its duties. So a
  child whose parent is no longer the supervisor stops itself, in an orderly way (SIGTERM).
- **The duties' process**. The projector, the audit chain keeper and the webhook
  deliveries follow the log; in the API's process they took about a third of its one
  interpreter under load (the GIL), and requests and followers waited for each other. So
  `huying serve` runs them in a child, `huying project`, and its workers offer none of them
  themselves (on PostgreSQL too: there the worker holding them shared its interpreter with
  them, and P1 with four workers rose by about a tenth with them apart). The SLA watchdog
  stays (it sweeps seldom, and moves calls through the API's own application). A child is
  started again when it dies: the API's process does not take its duties over, which would
  put the work back on the interpreter it was moved off, for good.
- **The chain keeper's process**. Beside the projector, in one interpreter, the chain keeper
  made the read models late: under P1's load it chains ~1,000 events at a go, 45–90 ms of
  Python holding the GIL, and each of the projector's batches it overlapped took ~135–180 ms
  instead of ~57 (the batch's every statement waited for the GIL back) — P5's tail
  (docs/benchmarks.md, 2026-12-07). No request waits for the chain, every read-your-writes
  read waits for the projector: so the chain keeper is a child of its own, `huying chain`,
  and the two share the cores as processes, scheduled by the kernel, not by turns of one lock.
  News between the two travels through the files on SQLite (``huying.wakeups.SqliteWakeups``),
  by LISTEN/NOTIFY on PostgreSQL.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from huying.duties import Duty, log_to_stderr, offered_by
from huying.settings import Settings

log = logging.getLogger(__name__)

SUPERVISOR_PID = "HUYING_SUPERVISOR_PID"  # set by `huying serve` for the processes it starts
_LOOK_SECONDS = 0.5  # how often an orphan looks whether its supervisor is gone
# The duties a child of `huying serve` takes, and the setting that turns each off there.
APART = {
    Duty.PROJECTOR: "HUYING_RUN_PROJECTOR",
    Duty.CHAIN: "HUYING_RUN_CHAIN",
    Duty.WEBHOOKS: "HUYING_RUN_WEBHOOKS",
}
_STOP_SECONDS = 20.0  # a stopping child finishes its batch within this, or is killed
_QUICK_DEATH = 5.0  # a child that dies sooner than this after its start is started again later
_MAX_BACKOFF = 30.0


def stop_when_orphaned(supervisor: int | None = None) -> None:
    """In a child of `huying serve` (or of ``supervisor``, a process it was forked from): SIGTERM
    to itself once the supervisor is gone."""
    supervisor = supervisor or int(os.environ.get(SUPERVISOR_PID) or 0)
    if supervisor:
        threading.Thread(target=_orphaned, args=(supervisor,), name="huying-orphaned", daemon=True).start()


def _orphaned(supervisor: int) -> None:
    while os.getppid() == supervisor:
        time.sleep(_LOOK_SECONDS)
    log.warning("pid %d: the supervisor (pid %d) is gone; shutting down", os.getpid(), supervisor)
    os.kill(os.getpid(), signal.SIGTERM)


def handed_to_children(settings: Settings) -> list[Duty]:
    """The duties `huying serve` runs in its duties' process: unless HUYING_DUTIES_APART=0,
    those of the projector, chain keeper and webhooks it would offer. (A PostgreSQL deployment
    may run `huying project` as a service of its own instead, with HUYING_RUN_PROJECTOR=0 for
    its servers: docs/operations.md.)"""
    offered = offered_by(settings)
    if not settings.duties_apart or Duty.PROJECTOR not in offered:
        return []  # a projector run apart by the operator: the chain and webhooks stay here
    return [duty for duty in offered if duty in APART]


class DutyProcess:
    """One child doing ``duties`` kept running — `huying chain` for the chain alone, else
    `huying project`: started with the server, started again when it dies (at once, or after a
    backoff when it keeps dying young), stopped with the server."""

    def __init__(self, duties: list[Duty]) -> None:
        if duties == [Duty.CHAIN]:
            self.name = "the chain keeper's process"
            self._args = [sys.executable, "-m", "huying.cli", "chain"]
        else:
            self.name = "the duties' process"
            self._args = [sys.executable, "-m", "huying.cli", "project"]
            if Duty.CHAIN not in duties:
                self._args.append("--no-chain")
        self._env = {**os.environ, SUPERVISOR_PID: str(os.getpid())}
        if Duty.WEBHOOKS not in duties:
            self._env[APART[Duty.WEBHOOKS]] = "0"
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._spawn()
        self._thread = threading.Thread(target=self._keep, name="huying-duty-process", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._lock:
            self._stopping.set()
            proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                log.warning("%s (pid %d) ignored SIGTERM; killed", self.name, proc.pid)
                proc.kill()
                proc.wait()
        if self._thread is not None:
            self._thread.join(timeout=_STOP_SECONDS)

    def _spawn(self) -> None:
        with self._lock:
            if self._stopping.is_set():
                return
            # A session of its own: a Ctrl-C at the terminal reaches the server, which stops the
            # child after its own shutdown, rather than both at once (and the child restarted).
            self._proc = subprocess.Popen(self._args, env=self._env, start_new_session=True)
        log.info("pid %d: %s is pid %d", os.getpid(), self.name, self._proc.pid)

    def _keep(self) -> None:
        backoff = 1.0
        while self._proc is not None:
            started = time.monotonic()
            code = self._proc.wait()
            if self._stopping.is_set():
                return
            lived = time.monotonic() - started
            log.warning("%s (pid %d) exited with %d; starting another", self.name, self._proc.pid, code)
            if lived < _QUICK_DEATH:
                if self._stopping.wait(backoff):
                    return
                backoff = min(backoff * 2, _MAX_BACKOFF)
            else:
                backoff = 1.0
            self._spawn()


def _apart(duties: list[Duty]) -> list[list[Duty]]:
    """The duties by child: the chain keeper alone, the others together."""
    others: list[Duty] = [duty for duty in duties if duty is not Duty.CHAIN]
    groups: list[list[Duty]] = [others] if others else []
    if Duty.CHAIN in duties:
        groups.append([Duty.CHAIN])
    return groups


class _Terminated(BaseException):
    """SIGTERM, raised again by uvicorn once its server has shut down."""


def _terminated(*_: Any) -> None:
    raise _Terminated


@contextmanager
def duties_in_children(settings: Settings) -> Iterator[None]:
    """Around `huying serve`'s server (in its process): the duties ``handed_to_children`` run in
    ``DutyProcess`` children — the chain keeper in one of its own — and are not offered here;
    when the server ends — Ctrl-C, or SIGTERM, which uvicorn raises again after its shutdown —
    the children are stopped first, then the signal ends this process as it would have."""
    duties = handed_to_children(settings)
    if not duties:
        yield
        return
    log_to_stderr()  # their starts and deaths are told on stderr, beside the server's lines
    # Each gets the environment as it was: its duties on.
    children = [DutyProcess(group) for group in _apart(duties)]
    for duty in duties:
        os.environ[APART[duty]] = "0"  # the app of this process offers none of them
    previous = signal.signal(signal.SIGTERM, _terminated)
    terminated = False
    for child in children:
        child.start()
    try:
        yield
    except _Terminated:
        terminated = True
    finally:
        for child in reversed(children):
            child.stop()
        signal.signal(signal.SIGTERM, previous)
    if terminated:
        signal.raise_signal(signal.SIGTERM)
