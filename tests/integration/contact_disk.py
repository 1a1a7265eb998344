"""What someone holding a copy of the data directory could recover of an erased reporter contact:
every byte of every file in it (the databases with their -wal, -shm and -journal files), tried
with every key the directory holds.

Contacts sealed the old way are Fernet tokens under a key derived from the master secret; that
format is re-implemented here rather than imported, so the check does not lean on the code it
checks. Record keys (crypto-shredding) are read straight from every SQLite file that has a
``reporter_keys`` table and unwrapped with the master key from ``secret.key``.
"""

from __future__ import annotations

import base64
import hashlib
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

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


def _rows(db: Path, sql: str, *args: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return list(conn.execute(sql, args))
    except sqlite3.OperationalError:  # no such table in this file
        return []
    finally:
        conn.close()


def _databases(data_dir: Path) -> list[Path]:
    return sorted(data_dir.rglob("*.db"))


def record_keys(data_dir: Path) -> dict[str, tuple[bytes, bytes]]:
    """ref → (wrapped, unwrapped) for every record key stored anywhere in the directory."""
    from huying.services.keyring import KeyRing

    ring = KeyRing([secret(data_dir)])
    found = {}
    for db in _databases(data_dir):
        for ref, master_id, wrapped in _rows(db, "SELECT ref, master_key_id, wrapped FROM reporter_keys"):
            assert isinstance(ref, str) and isinstance(master_id, str) and isinstance(wrapped, bytes)
            found[ref] = (wrapped, ring.unwrap(master_id, wrapped, ref))
    return found


def capture(data_dir: Path, ref: str, name: str, phone: str) -> Erased:
    """The contact ``ref`` as stored now (call before erasing it)."""
    [(name_enc, phone_enc)] = _rows(
        data_dir / "huying.db", "SELECT name_enc, phone_enc FROM reporter_contacts WHERE ref = ?", ref
    )
    assert isinstance(name_enc, bytes) and isinstance(phone_enc, bytes)
    sealed = {"name": name_enc, "phone": phone_enc}
    if not any(_rows(db, "SELECT 1 FROM reporter_keys") for db in _databases(data_dir)):
        return Erased(ref, name, phone, sealed)  # sealed before record keys existed
    wrapped, key = record_keys(data_dir)[ref]
    return Erased(ref, name, phone, sealed, key, wrapped)


def recoverable(data_dir: Path, erased: list[Erased]) -> list[str]:
    """Every way found to recover an erased contact from the directory; empty if there is none."""
    files = {p: p.read_bytes() for p in sorted(data_dir.rglob("*")) if p.is_file()}
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
        found += _opened_by_stored_keys(data_dir, erased)
    return found


def _opened_by_stored_keys(data_dir: Path, erased: list[Erased]) -> list[str]:
    from cryptography.exceptions import InvalidTag

    from huying.services.keyring import unseal

    found = []
    for ref, (_, key) in record_keys(data_dir).items():
        for e in erased:
            for detail, blob in e.sealed.items():
                try:
                    unseal(key, blob, f"{detail}|{e.ref}")
                except InvalidTag:
                    continue
                found.append(f"the stored record key of {ref} opens the erased {detail} of {e.ref}")
    return found
