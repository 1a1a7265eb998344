"""What the authorisation-matrix modules share: who asks, one huying per module (on the test's
backend, a fake clock, one token per principal) and how a refusal must look.

Each module writes its own oracle from the contract; only the machinery lives here."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from httpx import Client, Response

from backends import Backend
from huying.api.app import create_app
from huying.bootstrap import Services, build_services
from huying.clock import FakeClock
from huying.demo import principal_for_token
from huying.domain.principal import Principal
from huying.migrate import upgrade
from in_loop import in_loop


@dataclass(frozen=True)
class Asker:
    role: str
    unit: str
    relation: str  # how the unit stands to what is asked about, for messages

    def __str__(self) -> str:
        return f"{self.role}@{self.unit}"

    @property
    def who(self) -> tuple[str, str]:
        return (self.role, self.unit)


class ModuleTokens:
    """One bearer token per principal, made on first use and kept for the module."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._made: dict[Principal, str] = {}

    def headers(self, role: str, unit: str, key: str | None = None, **extra: str) -> dict[str, str]:
        principal = principal_for_token(self._services.app.org, role, unit)
        if principal not in self._made:
            _, self._made[principal] = self._services.tokens.create(principal, label="matrix")
        headers = {"Authorization": f"Bearer {self._made[principal]}", **extra}
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers


@dataclass(frozen=True)
class ModuleHuying:
    client: Client
    services: Services
    clock: FakeClock
    tokens: ModuleTokens


@contextmanager
def module_huying(
    backend: Backend, tmp_path_factory: pytest.TempPathFactory, start: datetime
) -> Iterator[ModuleHuying]:
    """A migrated deployment on ``backend`` and an app over it, for a whole test module; the
    settings come from the backend alone (no HUYING_* of the environment)."""
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith("HUYING_"):
                mp.delenv(name)
        data_dir: Path = tmp_path_factory.mktemp("matrix") / "var"
        settings = backend.settings(data_dir)
        upgrade(settings)
        clock = FakeClock(start=start)
        services = build_services(settings, clock)
    try:
        with in_loop(create_app(services=services)) as client:
            yield ModuleHuying(client, services, clock, ModuleTokens(services))
    finally:
        services.close()


PROBLEM_TYPE = {
    403: "/problems/not-permitted",
    404: "/problems/not-found",
    409: "/problems/transition-not-allowed",
    422: "/problems/invalid-request",
}


def refusal_mismatch(response: Response, expected: int) -> str | None:
    """How a refusal falls short of the contract (problem+json of the expected status and
    type, with a detail), or None."""
    if response.status_code != expected:
        return f"expected {expected}, got {response.status_code} {response.text[:300]}"
    if not response.headers["content-type"].startswith("application/problem+json"):
        return f"{expected} is not problem+json: {response.headers['content-type']}"
    problem = response.json()
    if problem.get("status") != expected or problem.get("type") != PROBLEM_TYPE[expected]:
        return f"problem {problem.get('status')} {problem.get('type')} for {expected}"
    return None if problem.get("detail") else "a problem with no detail"


def judged(asker: Asker, what: str, response: Response, expected: int) -> str | None:
    """The mismatch of one answer, or None: a success its status, a refusal also its shape."""
    if expected in (200, 201):
        wrong = None if response.status_code == expected else f"{response.status_code} {response.text[:300]}"
    else:
        wrong = refusal_mismatch(response, expected)
    return None if wrong is None else f"{asker} ({asker.relation}) {what}: expected {expected}: {wrong}"


def check(mismatches: list[str | None]) -> None:
    """Every mismatch of a test's answers at once."""
    found = [m for m in mismatches if m is not None]
    assert not found, f"{len(found)} answers differ from the contract:\n" + "\n".join(found)
