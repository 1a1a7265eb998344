"""Master keys for reporters' contacts: new record keys wrapped under the newest; ``huying keys
rotate`` re-wraps the rest so an old master key can be retired; a key missing from the settings
stops start-up; contacts kept before record keys (Fernet under the master key itself) still open
after the upgrade, and ``keys rotate`` re-seals them under record keys of their own.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from httpx import Client
from sqlalchemy import select
from typer.testing import CliRunner

from backends import use_in_env
from huying.api.app import create_app
from huying.bootstrap import Services, build_services
from huying.cli import cli
from huying.clock import FakeClock
from huying.db import reporter_contacts
from huying.domain.contact import Contact, Raiser
from huying.groupcommit import StoredBy
from huying.services.keyring import KeyRing, KeyUnavailable
from huying.settings import Settings

from .contact_disk import secret
from .reporters import Http, raise_body

NEW_SECRET = "a-new-master-key-for-2027-0f4c9a1e7d3b"

# The event log's seal key is kept, wrapped, beside the contacts' keys (huying.audit.seal).
SEAL_KEY = 1


def stored_keys(services: Services, in_use: int) -> int:
    """Record keys stored: those in use, the seal key, and those made ahead for raises to come
    (``RecordKeys.new_ref``), which a rotation re-wraps too."""
    services.contacts.keys.settle()
    return in_use + SEAL_KEY + services.contacts.keys.ahead


@pytest.fixture
def http(client: Client, tokens: Any) -> Http:
    return Http(client, tokens)


@pytest.fixture
def keys_cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``huying keys …`` as an operator runs it on the same data directory, with these secrets."""

    def run(*args: str, secret_key: str = "", old: str = "") -> Any:
        use_in_env(monkeypatch, settings)
        monkeypatch.setenv("HUYING_SECRET_KEY", secret_key)
        monkeypatch.setenv("HUYING_OLD_SECRET_KEYS", old)
        return CliRunner().invoke(cli, ["keys", *args])

    yield run


def with_only_the_new_key(settings: Settings, clock: FakeClock) -> Services:
    """The services as they start once the old master key is retired (no projector: the reads
    here come from the event store)."""
    return build_services(
        settings.model_copy(update={"secret_key": NEW_SECRET, "run_projector": False}), clock
    )


def test_rotation_rewraps_every_record_key_so_the_old_master_key_can_be_retired(
    settings: Settings, services: Services, http: Http, tokens: Any, clock: FakeClock, keys_cli: Any
) -> None:
    old_secret = secret(settings.data_dir)
    kept = http.raise_call(raise_body("张三", "13812345678"))["id"]
    erased = http.raise_call(raise_body("李四", "13912345678"))["id"]
    http.erase(erased)
    old_id, new_id = KeyRing([old_secret]).newest.id, KeyRing([NEW_SECRET]).newest.id
    # the erased one is shredded; the other key is the event log's seal key (huying.audit.seal)
    assert services.contacts.keys.by_master_key() == {old_id: stored_keys(services, 1)}
    stored = stored_keys(services, 1)

    # A new master key alone cannot open what the old one wrapped: start-up says so.
    with pytest.raises(KeyUnavailable, match=old_id):
        with_only_the_new_key(settings, clock)

    rotated = keys_cli("rotate", secret_key=NEW_SECRET, old=old_secret)
    assert rotated.exit_code == 0, rotated.output
    rewrapped = f"re-wrapped {stored} record keys; {stored} record keys, all under master key {new_id}"
    assert rewrapped in rotated.output
    assert f"no record key needs master key {old_id} any more" in rotated.output
    assert services.contacts.keys.by_master_key() == {new_id: stored}

    # The old key retired: the new one alone opens every contact, and new ones go under it.
    retired = with_only_the_new_key(settings, clock)
    try:
        with TestClient(create_app(services=retired)) as client:
            after = Http(client, tokens)
            assert after.reporter(kept) == {"name": "张三", "phone": "13812345678"}
            assert after.reporter(erased) is None
            fresh = after.raise_call(raise_body("王五", "13712345678"))["id"]
            assert after.reporter(fresh) == {"name": "王五", "phone": "13712345678"}
            # the fresh key, and those this second process made ahead, under the new master key
            expected = stored_keys(services, 2) + retired.contacts.keys.ahead
    finally:
        retired.close()
    assert services.contacts.keys.by_master_key() == {new_id: expected}


def test_rotation_without_the_old_key_says_which_is_missing(
    settings: Settings, http: Http, keys_cli: Any
) -> None:
    http.raise_call(raise_body())
    old_id = KeyRing([secret(settings.data_dir)]).newest.id
    refused = keys_cli("rotate", secret_key=NEW_SECRET)
    assert refused.exit_code == 1
    assert refused.output.startswith("error: ") and old_id in refused.output
    assert len(refused.output.strip().splitlines()) == 1


# --- contacts kept before record keys ------------------------------------------------------------


def keep_the_old_way(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on contacts are kept as versions before record keys kept them: Fernet tokens
    under a key derived from the master secret, in a row without a ``sealing`` (so the
    migration's default, "master")."""
    legacy = Fernet(
        base64.urlsafe_b64encode(hashlib.sha256(services.settings.resolved_secret_key().encode()).digest())
    )

    def keep(ref: str, contact: Contact, raiser: Raiser | None = None) -> None:  # (no access log then)
        with services.contacts.engine.begin() as conn:
            conn.execute(
                reporter_contacts.insert().values(
                    ref=ref,
                    name_enc=legacy.encrypt(contact.name.encode()) if contact.name else None,
                    phone_enc=legacy.encrypt(contact.phone.encode()) if contact.phone else None,
                    created_at=services.clock.now(),
                )
            )

    def keeping(ref: str, contact: Contact, raiser: Raiser | None = None) -> StoredBy:
        return StoredBy(lambda: keep(ref, contact, raiser))

    monkeypatch.setattr(services.contacts, "keeping", keeping)


def sealing(services: Services) -> dict[str, str]:
    with services.contacts.engine.connect() as conn:
        return {r.ref: r.sealing for r in conn.execute(select(reporter_contacts))}


def test_contacts_kept_before_record_keys_open_erase_and_are_resealed_by_rotate(
    settings: Settings,
    services: Services,
    http: Http,
    tokens: Any,
    keys_cli: Any,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with monkeypatch.context() as patched:
        keep_the_old_way(services, patched)
        old = [
            http.raise_call(raise_body(name, f"1381234567{i}"))["id"]
            for i, name in enumerate(("张三", "李四", "王五"))
        ]
    assert set(sealing(services).values()) == {"master"}
    assert http.reporter(old[0]) == {"name": "张三", "phone": "13812345670"}
    http.erase(old[1])
    assert http.reporter(old[1]) is None

    old_secret = secret(settings.data_dir)
    rotated = keys_cli("rotate", secret_key=NEW_SECRET, old=old_secret)
    assert rotated.exit_code == 0, rotated.output
    assert "re-sealed 2 contacts kept before record keys" in rotated.output
    assert "open with it until it is retired" in rotated.output
    assert sorted(sealing(services).values()) == ["master", "record", "record"]  # the erased one stays
    new_id = KeyRing([NEW_SECRET]).newest.id
    assert services.contacts.keys.by_master_key() == {new_id: stored_keys(services, 2)}

    retired = with_only_the_new_key(settings, clock)
    try:
        with TestClient(create_app(services=retired)) as client:
            after = Http(client, tokens)
            assert after.reporter(old[0]) == {"name": "张三", "phone": "13812345670"}
            assert after.reporter(old[2]) == {"name": "王五", "phone": "13812345672"}
            assert after.reporter(old[1]) is None
    finally:
        retired.close()
