"""A PostgreSQL cluster of the project's own: throwaway for a test session, kept for benchmarks.

The test session's (``Cluster.start``): ``initdb`` into a fresh temporary directory, ``postgres``
on a free loopback port with fsync off (the data is worth nothing after the session), one
database for the whole session; each test then gets its own schema (``Cluster.new_schema``),
which costs a copy of the worker's migrated template schema (tests/deployment_templates.py)
instead of a database or a cluster.

The benchmarks' (``Cluster.kept``): a directory of the benchmarks' cache, made the first time and
started on its data at each run after, so the synthetic districts stored in it are made once. It
runs with PostgreSQL's durable defaults (fsync, synchronous commit, full-page writes): a
benchmark measures what a deployment would see, and a 201 there means flushed to disk.

PostgreSQL refuses to run as root. As root (CI), the directory is handed to the ``postgres``
system user that Debian's package creates and the server binaries run as that user through
``setpriv``; as anyone else they run as that user. ``setpriv --pdeathsig`` makes the server quit
if the test process dies without cleaning up, so no server outlives its session; the directory
is removed at the end, on failure and on interrupt too — by a process of its own, which the
session does not wait for (``_removed_apart``).
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

START_DEADLINE = 60.0
STOP_DEADLINE = 20.0
SUPERUSER = "huying"
DATABASE = "huying_test"
INITDB_OPTIONS = ("--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions")
SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "500",
    "shared_buffers": "64MB",
}


def quarter_of_memory() -> str:
    """A quarter of the machine's memory (at least PostgreSQL's default 128 MB, at most 8 GB): the
    manual's "reasonable starting value for shared_buffers" on a dedicated database server. With
    the default 128 MB a million calls' read models were read from the operating system's cache
    page by page: the SLA dashboard's p95 was 61 ms against 40 ms with 4 GB (2026-12-03)."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return f"{min(max(total // 4 // 2**20, 128), 8192)}MB"


# The benchmarks': durable, as deployed (PostgreSQL's defaults for everything about flushing),
# with the memory a deployment would give it.
DURABLE_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "max_connections": "500",
    "shared_buffers": quarter_of_memory(),
}


class ClusterError(RuntimeError):
    """The PostgreSQL test cluster could not be made or started."""


def bin_dir() -> Path:
    """Where ``initdb`` and ``postgres`` are: Debian keeps them out of PATH, per major version."""
    found = shutil.which("initdb")
    if found is not None:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not versions:
        raise ClusterError(
            "PostgreSQL's initdb is not installed: `make test` installs Debian's postgresql package "
            "(apt-get install -y postgresql); or run pytest --backend sqlite"
        )
    return versions[-1].parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _as_server_user(root: Path) -> list[str]:
    """The command prefix that runs the server binaries unprivileged (and quits with us)."""
    prefix = ["setpriv", "--pdeathsig", "QUIT"]
    if os.geteuid() != 0:
        return prefix
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        raise ClusterError(
            "running as root and there is no `postgres` user to run PostgreSQL as "
            "(Debian's postgresql package creates it)"
        ) from None
    os.chown(root, user.pw_uid, user.pw_gid)
    return [*prefix, "--reuid", "postgres", "--regid", "postgres", "--init-groups"]


@dataclass
class Cluster:
    root: Path
    settings: Mapping[str, str] = field(default_factory=lambda: SERVER_SETTINGS)
    keep: bool = False  # the benchmarks' cluster: ``stop`` shuts it down cleanly and leaves its files
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    _schemas: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "postgres.log"

    def url(self, database: str = DATABASE) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def conninfo(self, database: str = DATABASE) -> str:
        return f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname={database}"

    @classmethod
    def start(cls) -> Cluster:
        """A throwaway cluster in a temporary directory, removed by ``stop``."""
        return cls(Path(tempfile.mkdtemp(prefix="huying-pg-")))._started()

    @classmethod
    def kept(cls, root: Path) -> Cluster:
        """The durable cluster kept in ``root``: made there the first time, started on its data
        after."""
        root.mkdir(parents=True, exist_ok=True)
        return cls(root, DURABLE_SETTINGS, keep=True)._started()

    def _started(self) -> Cluster:
        try:
            if self.keep and (self.data / "PG_VERSION").exists():
                self.port = free_port()
                self._launch()
            else:
                self._init_and_start()
        except BaseException:
            self.stop()
            raise
        return self

    def _init_and_start(self) -> None:
        initdb = subprocess.run(
            self._command("initdb", "-U", SUPERUSER, *INITDB_OPTIONS),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if initdb.returncode != 0:
            raise ClusterError(f"initdb failed ({initdb.returncode}):\n{initdb.stdout}\n{initdb.stderr}")
        self.port = free_port()
        self._launch()
        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")

    def _launch(self) -> None:
        settings = {**self.settings, "port": str(self.port), "unix_socket_directories": str(self.root)}
        args = [f"--{k.replace('_', '-')}={v}" for k, v in settings.items()]
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                self._command("postgres", *args),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self._wait_ready()

    def _command(self, binary: str, *args: str) -> list[str]:
        """One of the server's binaries on this cluster's data, run as the server's user."""
        return [*_as_server_user(self.root), str(bin_dir() / binary), "-D", str(self.data), *args]

    def halt(self) -> None:
        """``pg_ctl stop -m fast``, as an operator or a failover would: every session is ended
        and new connections are refused until ``resume``."""
        assert self.process is not None
        stopped = subprocess.run(
            self._command("pg_ctl", "stop", "-m", "fast"),
            capture_output=True,
            text=True,
            timeout=STOP_DEADLINE,
        )
        if stopped.returncode != 0:
            raise ClusterError(f"pg_ctl stop failed:\n{stopped.stdout}\n{stopped.stderr}")
        self.process.wait(timeout=STOP_DEADLINE)

    def resume(self) -> None:
        """The server started again on the same port and data (after ``halt``)."""
        self._launch()

    def create_database(self, name: str) -> str:
        """An empty database of its own in this cluster; its SQLAlchemy URL."""
        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_DEADLINE
        while True:
            if self.process.poll() is not None:
                raise ClusterError(f"postgres exited with {self.process.returncode}:\n{self.log()}")
            try:
                psycopg.connect(self.conninfo("postgres"), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise ClusterError(
                        f"postgres not ready after {START_DEADLINE} s:\n{self.log()}"
                    ) from None
                time.sleep(0.05)

    def new_schema(self) -> str:
        """A fresh, empty schema name for one test (created by huying's own migrate)."""
        return f"t{next(self._schemas)}"

    def log(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self) -> None:
        """A throwaway cluster: immediate shutdown (nothing here needs a checkpoint) and every
        file removed. A kept one: a fast shutdown (a checkpoint, so the next start needs no
        recovery), its files left for the next run."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT if self.keep else signal.SIGQUIT)
            try:
                self.process.wait(timeout=STOP_DEADLINE)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_DEADLINE)
        if not self.keep:
            _removed_apart(self.root)


def _removed_apart(root: Path) -> None:
    """A throwaway cluster's files, removed by an ``rm -rf`` of its own that the caller does not
    wait for. A test session's cluster ends with a schema per test in it: ~150,000 files on a CI
    worker, which took 17–19 s to unlink at the end of every run (the last thing each worker
    did). The server has exited: nothing writes there any more."""
    try:
        subprocess.Popen(
            ["rm", "-rf", "--", str(root)],
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    except OSError:  # no rm to run: remove them here
        shutil.rmtree(root, ignore_errors=True)
