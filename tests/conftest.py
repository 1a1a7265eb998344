"""Shared fixtures: a real huying on each storage backend (``backend``: SQLite files in a temp
directory, or a schema of its own in a throwaway PostgreSQL cluster), a fake clock, tokens.

Every test that asks for ``settings`` (directly or through ``services``, ``client``, ``tokens``)
runs once per backend, its id saying which: ``test_x[sqlite]``, ``test_x[postgres]``. Unit tests
ask for none of them and run once. ``pytest --backend sqlite`` runs one backend only.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from bench.postgres_cluster import Cluster

from backends import BACKENDS, Backend
from deployment_templates import Template, Templates
from huying.api.app import create_app
from huying.bootstrap import Services, build_services
from huying.clock import FakeClock
from huying.demo import principal_for_token
from huying.domain.principal import Principal, Role
from huying.settings import Settings
from in_loop import InLoopClient, in_loop

# Monday 23 November 2026, 09:00 in Guangzhou.
MONDAY_MORNING = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend",
        action="append",
        choices=BACKENDS,
        help="run the integration and e2e tests on this backend (repeatable; default: all)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("backend") or list(BACKENDS)
        for only in BACKENDS:
            marker = metafunc.definition.get_closest_marker(f"{only}_only")
            if marker is not None:
                # A test of one engine's own machinery; the reason says where the other's is.
                reason = marker.kwargs.get("reason")
                assert reason, f"{metafunc.definition.nodeid}: {only}_only needs a reason"
                chosen = [b for b in chosen if b == only]
        metafunc.parametrize("backend", chosen, indirect=True, scope="session")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """How many tests ran on each backend (and how many on none: the unit tests)."""
    counts: Counter[tuple[str, str]] = Counter()
    for outcome in ("passed", "failed", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            if report.when == "call" or outcome != "passed":
                params = report.nodeid.partition("[")[2]
                ran_on = next((b for b in BACKENDS if params.startswith(b)), "no backend")
                counts[ran_on, outcome] += 1
    if counts:
        terminalreporter.section("backends")
        for ran_on in (*BACKENDS, "no backend"):
            line = ", ".join(
                f"{counts[ran_on, o]} {o}" for o in ("passed", "failed", "error") if counts[ran_on, o]
            )
            terminalreporter.write_line(f"{ran_on}: {line or 'none'}")


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster]:
    """One throwaway PostgreSQL cluster for the session, started only if a test needs it."""
    cluster = Cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "postgres":
        return Backend("postgres", request.getfixturevalue("postgres_cluster"))
    return Backend(request.param)


@pytest.fixture(autouse=True)
def _no_ambient_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never pick up HUYING_* from the developer's shell."""
    import os

    for name in list(os.environ):
        if name.startswith("HUYING_"):
            monkeypatch.delenv(name)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "var"


@pytest.fixture
def settings(backend: Backend, data_dir: Path) -> Settings:
    # The watchdog acts on its own as the fake clock moves; tests that want it start it or sweep.
    return backend.settings(data_dir, run_watchdog=False)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=MONDAY_MORNING)


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Templates:
    return Templates(tmp_path_factory.mktemp("templates"))


@pytest.fixture
def template(backend: Backend, templates: Templates) -> Template:
    """This worker's migrated deployment on the backend, copied for each test that wants one
    (deployment_templates.py); migrated the first time a test asks."""
    return templates.of(backend)


@pytest.fixture
def services(settings: Settings, clock: FakeClock, template: Template) -> Iterator[Services]:
    template.deploy(settings)  # as upgrade(settings) would, in a fraction of its time
    built = build_services(settings, clock)
    yield built
    built.close()


@pytest.fixture
def elsewhere(settings: Settings, clock: FakeClock, services: Services) -> Iterator[Services]:
    """The same deployment, as another process would open it."""
    other = build_services(settings, clock)
    yield other
    other.close()


@pytest.fixture
def client(services: Services) -> Iterator[InLoopClient]:
    with in_loop(create_app(services=services)) as c:
        yield c


class Tokens:
    """Bearer tokens made on demand for any (role, unit) of the demo org: one per principal,
    however many threads ask for it at once (thirty threads released together each made their
    own, thirty inserts for a pool of ten connections; in CI three waited past its timeout)."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._made: dict[Principal, str] = {}
        self._making = threading.Lock()

    def token(self, role: str, unit: str) -> str:
        principal = principal_for_token(self._services.app.org, role, unit)
        with self._making:
            if principal not in self._made:
                _, self._made[principal] = self._services.tokens.create(principal, label="test")
            return self._made[principal]

    def headers(self, role: str, unit: str, key: str | None = None, **extra: str) -> dict[str, str]:
        h = {"Authorization": f"Bearer {self.token(role, unit)}", **extra}
        if key is not None:
            h["Idempotency-Key"] = key
        return h

    def district(self, role: Role) -> dict[str, str]:
        return self.headers(role.value, self._services.app.org.district.code)


@pytest.fixture
def tokens(services: Services) -> Tokens:
    return Tokens(services)
