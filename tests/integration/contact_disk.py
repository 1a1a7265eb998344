"""What someone holding a copy of the deployment could recover of an erased reporter contact:
every byte of every file in the data directory (SQLite's databases with their -wal, -shm and
-journal files) and, on PostgreSQL, every live row of the deployment's schema, tried with every
key the directory holds.

Contacts sealed the old way are Fernet tokens under a key derived from the master secret; that
format is re-implemented here rather than imported, so the check does not lean on the code it
checks. Record keys (crypto-shredding) are read from the key store as stored and unwrapped with
the master key from ``secret.key``.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import text

from backends import stored_rows
from huying.settings import Settings

_FERNET_TOKEN = re.compile(rb"gAAAAA[A-Za-z0-9_\-]{50,}={0,2}")


@dataclass(frozen=True)
class Erased:
    """A contact as it was stored before its erasure, and what would give it away."""

    ref: str
    name: str
    phone: str
    sealed: dict[str, bytes]  # "name"/"phone" → the ciphertext as it was stored
    record_key: bytes = b""  # the contact's own key (none before crypto-shredding)
    wrapped_key: bytes = b""  # … as it was stored
    giveaways: dict[str, bytes] = field(init=False)

    def __post_init__(self) -> None:
        found = {"name": self.name.encode(), "phone": self.phone.encode()}
        if self.record_key:
            found |= {"record key": self.record_key, "wrapped record key": self.wrapped_key}
        object.__setattr__(self, "giveaways", found)


def secret(data_dir: Path) -> str:
    return (data_dir / "secret.key").read_text().strip()


def _select(settings: Settings, keys: bool, sql: str, **params: str) -> list[tuple[object, ...]]:
    """Rows as stored, through the deployment's own databases (either backend): the record keys'
    (``keys``) or the contacts'."""
    from huying.db import make_engine
    from huying.services.contact_store import contact_store
    from huying.services.record_keys import key_store

    main = make_engine(settings)
    engine = key_store(settings, main) if keys else contact_store(settings, main)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params)]
    finally:
        for e in {main, engine}:
            e.dispose()


def record_keys(settings: Settings) -> dict[str, tuple[bytes, bytes]]:
    """ref → (wrapped, unwrapped) for every record key stored."""
    from huying.services.keyring import KeyRing

    ring = KeyRing([secret(settings.data_dir)])
    found = {}
    for ref, master_id, wrapped in _select(
        settings, True, "SELECT ref, master_key_id, wrapped FROM reporter_keys"
    ):
        assert isinstance(ref, str) and isinstance(master_id, str) and isinstance(wrapped, bytes)
        found[ref] = (wrapped, ring.unwrap(master_id, wrapped, ref))
    return found


def capture(settings: Settings, ref: str, name: str, phone: str) -> Erased:
    """The contact ``ref`` as stored now (call before erasing it)."""
    [(name_enc, phone_enc)] = _select(
        settings, False, "SELECT name_enc, phone_enc FROM reporter_contacts WHERE ref = :ref", ref=ref
    )
    assert isinstance(name_enc, bytes) and isinstance(phone_enc, bytes)
    sealed = {"name": name_enc, "phone": phone_enc}
    keys = record_keys(settings)
    if ref not in keys:
        return Erased(ref, name, phone, sealed)  # sealed before record keys existed
    wrapped, key = keys[ref]
    return Erased(ref, name, phone, sealed, key, wrapped)


def recoverable(settings: Settings, erased: list[Erased]) -> list[str]:
    """Every way found to recover an erased contact from the data directory (on SQLite, every
    byte of the databases and their WAL) and, on PostgreSQL, from every live row of the
    deployment's schema (what lingers in dead tuples, WAL and backups there is docs/privacy.md
    §3's subject: wrapped under the master key); empty if there is none."""
    data_dir = settings.data_dir
    files = {p: p.read_bytes() for p in sorted(data_dir.rglob("*")) if p.is_file()}
    if settings.on_postgres:
        files[Path("postgres rows")] = stored_rows(settings)
    found = [
        f"{path.name} holds the {what} of {e.ref}"
        for e in erased
        for path, data in files.items()
        for what, needle in e.giveaways.items()
        if needle in data
    ]
    legacy = Fernet(base64.urlsafe_b64encode(hashlib.sha256(secret(data_dir).encode()).digest()))
    for path, data in files.items():
        for token in set(_FERNET_TOKEN.findall(data)):
            try:
                opened = legacy.decrypt(token)
            except InvalidToken:
                continue
            found += [
                f"a Fernet token in {path.name} decrypts to {opened.decode()!r}"
                for e in erased
                if opened in e.giveaways.values()
            ]
    if any(e.record_key for e in erased):
        found += _opened_by_stored_keys(settings, erased)
    return found


def _opened_by_stored_keys(settings: Settings, erased: list[Erased]) -> list[str]:
    from cryptography.exceptions import InvalidTag

    from huying.services.keyring import unseal

    found = []
    for ref, (_, key) in record_keys(settings).items():
        for e in erased:
            for detail, blob in e.sealed.items():
                try:
                    unseal(key, blob, f"{detail}|{e.ref}")
                except InvalidTag:
                    continue
                found.append(f"the stored record key of {ref} opens the erased {detail} of {e.ref}")
    return found
