"""Reporters' contact details, kept apart from the immutable events so they can be masked,
encrypted at rest and erased on request while history and scores stay intact."""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from uuid import uuid4

from cryptography.fernet import Fernet
from sqlalchemy import Engine, delete, select, update

from huying.clock import Clock
from huying.db import reporter_contacts
from huying.domain.contact import Contact


class ContactBook:
    def __init__(self, engine: Engine, secret_key: str, clock: Clock) -> None:
        self._engine = engine
        key = base64.urlsafe_b64encode(hashlib.sha256(secret_key.encode()).digest())
        self._fernet = Fernet(key)
        self._clock = clock

    @property
    def engine(self) -> Engine:
        """The service-table database the contacts live in."""
        return self._engine

    @staticmethod
    def new_ref() -> str:
        """The opaque reference a call's events carry: random, so that nothing stored in an event
        or served from one is a function of the reporter (a retry of a raise is answered from the
        record, with the ref the first attempt stored)."""
        return str(uuid4())

    def keep(self, ref: str, contact: Contact) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                reporter_contacts.insert().values(
                    ref=ref,
                    name_enc=self._seal(contact.name),
                    phone_enc=self._seal(contact.phone),
                    created_at=self._clock.now(),
                )
            )

    def get(self, ref: str) -> Contact | None:
        row = self._row(ref)
        if row is None or row.erased_at is not None:
            return None
        return self._contact(row)

    def discard(self, ref: str) -> None:
        """A contact kept for a raise that was never stored (a concurrent twin won): gone."""
        with self._engine.begin() as conn:
            conn.execute(delete(reporter_contacts).where(reporter_contacts.c.ref == ref))

    def _row(self, ref: str) -> Any:
        with self._engine.connect() as conn:
            return conn.execute(select(reporter_contacts).where(reporter_contacts.c.ref == ref)).first()

    def _contact(self, row: Any) -> Contact:
        return Contact(name=self._open(row.name_enc), phone=self._open(row.phone_enc))

    def may_be(self, ref: str | None, contact: Contact | None) -> bool:
        """Whether a retried raise naming ``contact`` may be the one that stored ``ref``: both
        without a reporter, or the same contact. Once erased nothing is left to compare, so any
        reporter may be (the retry gets the original answer, reporter: null)."""
        if ref is None or contact is None:
            return ref is None and contact is None
        kept = self._row(ref)
        return kept is None or kept.erased_at is not None or self._contact(kept) == contact

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
