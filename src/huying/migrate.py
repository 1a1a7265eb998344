"""Schema upgrades for the read-model and service tables, run by `huying migrate` and at serve."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

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
    """Create or upgrade every schema; idempotent."""
    if settings.database_url.startswith("sqlite:///"):
        Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(settings), "head")
    prepare_key_store(settings)
