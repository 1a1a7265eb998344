"""``huying keys rotate``: every reporter record key re-wrapped under the newest master key, so the
older ones can be retired (docs/privacy.md)."""

from __future__ import annotations

import typer

from huying.services.keyring import KeyRing, KeyUnavailable
from huying.settings import Settings, UnsafeSettings

keys_cli = typer.Typer(help="Master keys for reporters' contact details: rotate.", no_args_is_help=True)


@keys_cli.command("rotate")
def rotate() -> None:
    """Re-wrap every record key under HUYING_SECRET_KEY and re-seal contacts kept before record
    keys, reading what older master keys (HUYING_OLD_SECRET_KEYS) wrapped; then say which of
    those are no longer needed."""
    from huying.bootstrap import make_clock
    from huying.db import make_engine
    from huying.migrate import upgrade
    from huying.services.contact_store import contact_store
    from huying.services.contacts import ContactBook
    from huying.services.record_keys import RecordKeys, key_store

    settings = Settings()
    try:
        ring = KeyRing(settings.master_secrets())
    except UnsafeSettings as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    upgrade(settings)
    engine = make_engine(settings)
    clock = make_clock(settings)
    keys = RecordKeys(key_store(settings, engine), ring, clock)
    kept = contact_store(settings, engine)
    try:
        resealed = ContactBook(kept, keys, clock).reseal_legacy()
        rewrapped = keys.rewrap()
        wrapping = keys.by_master_key()
    except KeyUnavailable as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None
    finally:
        keys.engine.dispose()
        kept.dispose()
        engine.dispose()
    _report(ring, resealed, rewrapped, wrapping)


def _report(ring: KeyRing, resealed: int, rewrapped: int, wrapping: dict[str, int]) -> None:
    newest = ring.newest.id
    typer.echo(
        f"re-sealed {resealed} contacts kept before record keys; re-wrapped {rewrapped} record keys; "
        f"{sum(wrapping.values())} record keys, all under master key {newest}",
        err=True,
    )
    if retired := [i for i in ring.ids if i != newest]:
        typer.echo(
            f"no record key needs master key {', '.join(retired)} any more: remove it from "
            "HUYING_OLD_SECRET_KEYS and destroy it",
            err=True,
        )
    if resealed:
        typer.echo(
            "contacts kept before record keys were sealed under the master key itself: old copies "
            "of them (free pages, a WAL, backups) open with it until it is retired — rotate to a new "
            "HUYING_SECRET_KEY and destroy the old one",
            err=True,
        )
