"""Schema upgrades for the read-model and service tables, run by `huying migrate` and at serve;
and the event store's own tables, which the eventsourcing library creates."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from huying.locks import exclusively
from huying.services.record_keys import prepare_key_store
from huying.settings import Settings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(settings: Settings) -> Config:
    if not MIGRATIONS.is_dir():
        raise FileNotFoundError(f"migrations not found at {MIGRATIONS} (install with pip -e)")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["settings"] = settings
    return config


def upgrade(settings: Settings) -> None:
    """Create or upgrade every schema; idempotent. One process at a time: the processes of a
    deployment start together (API workers, projector, watchdog), and two CREATE TABLEs of one
    table at once fail even with IF NOT EXISTS."""
    if settings.database_url.startswith("sqlite:///"):
        Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    with exclusively(settings, "migrate"):
        command.upgrade(alembic_config(settings), "head")
        prepare_key_store(settings)
        _create_event_store(settings)


def _create_event_store(settings: Settings) -> None:
    """The library creates its tables when missing as an application starts; here, under the
    lock, so that the first start of several workers at once does not race to create them."""
    from eventsourcing.persistence import InfrastructureFactory
    from eventsourcing.utils import Environment

    from huying.application import HuyingApplication

    env = Environment(HuyingApplication.name, {**settings.eventsourcing_env(), "CREATE_TABLE": "y"})
    factory = InfrastructureFactory.construct(env)
    try:
        factory.application_recorder()  # creates its tables when missing
    finally:
        factory.close()
