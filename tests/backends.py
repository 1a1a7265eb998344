"""The storage backends every integration and e2e test runs on: one fixture parameter.

``sqlite`` is the embedded default (two files under the test's data directory); ``postgres`` a
schema of its own in the session's throwaway cluster (``postgres_cluster``), events and read
models alike. Like the eventsourcing library's own test_application_with_{popo,sqlite,postgres},
the tests are written once and the backend is the only thing that changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from postgres_cluster import Cluster

from huying.settings import Settings

BACKENDS = ("sqlite", "postgres")


@dataclass(frozen=True)
class Backend:
    name: str
    cluster: Cluster | None = None

    def __str__(self) -> str:
        return self.name

    def settings(self, data_dir: Path, **overrides: Any) -> Settings:
        """Settings for one fresh, empty deployment (demo mode, fake clock unless overridden)."""
        fields: dict[str, Any] = {"data_dir": data_dir, "demo": True, "fake_clock": True}
        if self.cluster is not None:
            fields.update(
                database_url=self.cluster.url(),
                database_schema=self.cluster.new_schema(),
                # Tests open many short-lived services; the pools need not be warm.
                database_pool_size=1,
                database_max_overflow=9,
            )
        return Settings(**{**fields, **overrides})


def settings_env(settings: Settings) -> dict[str, str]:
    """The HUYING_* variables that give a child process (``huying …``) the same deployment."""
    env = {
        "HUYING_DATA_DIR": str(settings.data_dir),
        "HUYING_DATABASE_URL": settings.database_url,
        "HUYING_EVENTS_URL": settings.events_url,
        "HUYING_DEMO": "1" if settings.demo else "0",
        "HUYING_FAKE_CLOCK": "1" if settings.fake_clock else "0",
    }
    if settings.on_postgres:
        env.update(
            HUYING_DATABASE_SCHEMA=settings.database_schema,
            HUYING_DATABASE_POOL_SIZE=str(settings.database_pool_size),
            HUYING_DATABASE_MAX_OVERFLOW=str(settings.database_max_overflow),
        )
    return env
