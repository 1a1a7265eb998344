"""Reporters' contact details, kept apart from the immutable events so they can be masked,
encrypted at rest and erased on request while history and scores stay intact."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from functools import cached_property
from uuid import UUID, uuid5

from cryptography.fernet import Fernet
from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError

from huying.clock import Clock
from huying.db import reporter_contacts
from huying.domain.contact import Contact

_REF_NAMESPACE = UUID("6f1d4c1e-3a52-4f0e-9a55-6b9d2f1c0a77")


class ContactBook:
    def __init__(self, engine: Engine, secret_key: Callable[[], str], clock: Clock) -> None:
        self._engine = engine
        self._secret_key = secret_key
        self._clock = clock

    @cached_property
    def _fernet(self) -> Fernet:
        """Made at first use: a process that never opens a contact needs no key."""
        key = base64.urlsafe_b64encode(hashlib.sha256(self._secret_key().encode()).digest())
        return Fernet(key)

    @property
    def engine(self) -> Engine:
        """The service-table database the contacts live in."""
        return self._engine

    @staticmethod
    def ref_for(call_id: UUID, fingerprint: str | None) -> str:
        """The opaque reference a call's events carry: the same for every retry of one request,
        different for a request with another body (so it can never borrow another's contact)."""
        return str(uuid5(_REF_NAMESPACE, f"{call_id}|{fingerprint or ''}"))

    def keep(self, ref: str, contact: Contact) -> None:
        """Stores the contact under its ref once (a retry of the same raise finds it there)."""
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    reporter_contacts.insert().values(
                        ref=ref,
                        name_enc=self._seal(contact.name),
                        phone_enc=self._seal(contact.phone),
                        created_at=self._clock.now(),
                    )
                )
        except IntegrityError:
            pass  # already kept by the first attempt of this very request

    def get(self, ref: str) -> Contact | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(reporter_contacts).where(reporter_contacts.c.ref == ref)).first()
        if row is None or row.erased_at is not None:
            return None
        return Contact(name=self._open(row.name_enc), phone=self._open(row.phone_enc))

    def erase(self, ref: str, by: str | None = None) -> bool:
        """个人信息删除: the contact is gone; the call's history keeps only the bare ref. Who
        erased it and when are kept (accountability), never what was erased. True if there was
        something left to erase."""
        with self._engine.begin() as conn:
            result = conn.execute(
                update(reporter_contacts)
                .where(reporter_contacts.c.ref == ref, reporter_contacts.c.erased_at.is_(None))
                .values(name_enc=None, phone_enc=None, erased_at=self._clock.now(), erased_by=by)
            )
        return bool(result.rowcount)

    def _seal(self, text: str | None) -> bytes | None:
        return self._fernet.encrypt(text.encode()) if text else None

    def _open(self, blob: bytes | None) -> str | None:
        return self._fernet.decrypt(blob).decode() if blob else None
