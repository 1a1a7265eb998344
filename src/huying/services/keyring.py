"""The master keys (the key ring) that wrap every reporter record's own data key.

``HUYING_SECRET_KEY`` is the newest master key: record keys are wrapped under it when made.
``HUYING_OLD_SECRET_KEYS`` lists earlier ones, which still unwrap what was wrapped under them
until ``huying keys rotate`` has re-wrapped it under the newest; then an old key can be retired
(destroyed), and every copy of a record key wrapped under it — in a backup, a WAL, a free page —
becomes useless. Each master key is known by an id derived from it, stored beside what it wraps.

Contacts kept before record keys existed are Fernet tokens under a key derived from the master
secret itself ("legacy"); they are read with the ring too, and re-sealed by ``keys rotate``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from huying.settings import UnsafeSettings

_NONCE_BYTES = 12
RECORD_KEY_BYTES = 32  # AES-256-GCM


class KeyUnavailable(UnsafeSettings):
    """Something was sealed under a master key the settings do not hold (any more)."""


def seal(key: bytes, plaintext: bytes, context: str) -> bytes:
    """AES-256-GCM: a fresh nonce, then the ciphertext and tag. ``context`` (what and whose the
    bytes are) is authenticated, so a ciphertext cannot be moved to another record or field."""
    nonce = _NONCES.next()
    return nonce + AESGCM(key).encrypt(nonce, plaintext, context.encode())


class Nonces:
    """Fresh random 96-bit nonces, drawn from the system's random source ``batch`` at a time.

    Each ``os.urandom`` is a system call during which the calling thread gives up the
    interpreter — for a raise, the event loop's thread, twice (the contact's name and phone),
    waiting to get it back mid-request. Drawn in batches the nonces are as random; none is
    handed out twice: a process forked while some are drawn and not handed out starts with
    none (``os.register_at_fork``), so parent and child never seal with the same one."""

    def __init__(self, batch: int = 256) -> None:
        self._batch = batch
        self._lock = threading.Lock()
        self._drawn, self._at = b"", 0
        forget = weakref.WeakMethod(self.forget)
        os.register_at_fork(after_in_child=lambda: _call(forget()))

    def next(self) -> bytes:
        with self._lock:
            if self._at >= len(self._drawn):
                self._drawn, self._at = os.urandom(_NONCE_BYTES * self._batch), 0
            nonce = self._drawn[self._at : self._at + _NONCE_BYTES]
            self._at += _NONCE_BYTES
            return nonce

    def forget(self) -> None:
        """None drawn; a new lock (one held by another thread at a fork is never let go in the
        child)."""
        self._lock = threading.Lock()
        self._drawn, self._at = b"", 0


def _call(method: Callable[[], None] | None) -> None:
    if method is not None:  # None: its object is gone
        method()


_NONCES = Nonces()


def unseal(key: bytes, sealed: bytes, context: str) -> bytes:
    """The plaintext; ``InvalidTag`` if the key, the context or the bytes are not the sealed ones."""
    return AESGCM(key).decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], context.encode())


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret)


@dataclass(frozen=True)
class MasterKey:
    id: str
    wrapping_key: bytes
    legacy: Fernet  # what contacts were sealed with before record keys

    @classmethod
    def from_secret(cls, secret: str) -> MasterKey:
        raw = secret.encode()
        return cls(
            id=_derive(raw, b"huying master key id").hex()[:16],
            wrapping_key=_derive(raw, b"huying reporter record key wrapping"),
            legacy=Fernet(base64.urlsafe_b64encode(hashlib.sha256(raw).digest())),
        )


class KeyRing:
    """The master keys, newest first: it wraps new record keys; any of them unwraps."""

    def __init__(self, secrets: Sequence[str]) -> None:
        keys = [MasterKey.from_secret(s) for s in dict.fromkeys(s for s in secrets if s)]
        if not keys:
            raise ValueError("the key ring needs at least one master key")
        self.newest = keys[0]
        self._by_id = {k.id: k for k in keys}

    @property
    def ids(self) -> list[str]:
        return list(self._by_id)

    def wrap(self, record_key: bytes, ref: str) -> tuple[str, bytes]:
        """(master key id, the record key wrapped under the newest master key)."""
        return self.newest.id, seal(self.newest.wrapping_key, record_key, f"record key|{ref}")

    def unwrap(self, master_id: str, wrapped: bytes, ref: str) -> bytes:
        master = self._by_id.get(master_id)
        if master is None:
            raise KeyUnavailable(
                f"record key of {ref} is wrapped under master key {master_id}, which is not in "
                "HUYING_SECRET_KEY nor HUYING_OLD_SECRET_KEYS"
            )
        try:
            return unseal(master.wrapping_key, wrapped, f"record key|{ref}")
        except InvalidTag:
            raise KeyUnavailable(
                f"record key of {ref} does not unwrap under master key {master_id}"
            ) from None

    def open_legacy(self, token: bytes) -> bytes:
        """A contact detail sealed before record keys: a Fernet token under one of the masters."""
        for master in self._by_id.values():
            try:
                return master.legacy.decrypt(token)
            except InvalidToken:
                continue
        raise KeyUnavailable("a contact sealed before record keys opens with none of the master keys")


class NoKeys(KeyRing):
    """The ring of a process that opens no contact (the read-only commands): it holds no master
    key, so whatever is sealed stays sealed (``KeyUnavailable``) and nothing new can be sealed."""

    def __init__(self) -> None:
        self._by_id = {}

    def wrap(self, record_key: bytes, ref: str) -> tuple[str, bytes]:
        raise KeyUnavailable("this process holds no master key: it seals no reporter's contact")
