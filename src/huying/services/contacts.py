"""Reporters' contact details, kept apart from the immutable events so they can be masked,
encrypted at rest and erased on request while history and scores stay intact.

Each contact is sealed under a key of its own (``record_keys``); erasing it shreds that key, so
no copy of its ciphertexts left anywhere decrypts again. Who is shown a contact in full is
recorded (``contact_access``).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import Engine, delete, select, update

from huying.clock import Clock
from huying.db import reporter_contacts
from huying.domain.contact import (
    CONTACT_FIELDS,
    Contact,
    Raiser,
    ShownBack,
    in_full,
    masked,
    sees_contact_in_full,
)
from huying.domain.principal import Principal
from huying.groupcommit import GroupedInserts, Rows, RowsBeside
from huying.services.contact_access import ContactAccessLog
from huying.services.keyring import KeyUnavailable, seal, unseal
from huying.services.record_keys import RecordKeys


class ContactBook:
    def __init__(self, engine: Engine, keys: RecordKeys, clock: Clock) -> None:
        self._engine = engine
        self.keys = keys
        self._clock = clock
        # A raise's contact and who was shown it: many requests' rows in one transaction.
        self._writes = GroupedInserts(engine)
        self.accesses = ContactAccessLog(engine, clock, self._writes)

    @property
    def engine(self) -> Engine:
        """The database the contacts live in (``contact_store``: on SQLite a file of their own)."""
        return self._engine

    def new_ref(self) -> str:
        """The opaque reference a call's events carry: random, so that nothing stored in an event
        or served from one is a function of the reporter (a retry of a raise is answered from the
        record, with the ref the first attempt stored). Its record key is already stored
        (``RecordKeys.new_ref``), so keeping the contact waits for one commit, not two."""
        return self.keys.new_ref()

    def keeping(self, ref: str, contact: Contact, raiser: Raiser | None = None) -> RowsBeside:
        """The contact's rows, for its raise's event to carry (``RowsBeside``): the events'
        leader commits them before the events, in the same turn of the group commit.

        ``raiser``: the raise that gave the contact, whose answer shows it back to them. Shown
        in full (``Raiser.sees_in_full``), that showing is recorded in the access log in the same
        transaction as the contact — one write for the raise, not two — and its answer
        (``shown_to`` with ``ShownBack``) records nothing more. A retry of a raise stored
        before keeps its contact and showing too, until the store refuses it: then the contact
        is discarded, and the showing stands for the retry's answer."""
        showing = (
            [self.accesses.rows(raiser.principal, raiser.call_id, in_full(contact))]
            if raiser is not None and raiser.sees_in_full()
            else []
        )
        return self._writes.beside(self._rows([(ref, contact)]), *showing)

    def keep(self, ref: str, contact: Contact, raiser: Raiser | None = None) -> None:
        """``keeping``'s rows stored at once, alone."""
        self.keeping(ref, contact, raiser).store()

    def keep_many(self, contacts: list[tuple[str, Contact]]) -> None:
        """``keep`` for several contacts at once (bulk writers: ``huying seed --synthetic``)."""
        if contacts:
            self._writes.insert(self._rows(contacts))

    def _rows(self, contacts: list[tuple[str, Contact]]) -> Rows:
        """The contacts sealed, as rows to insert. Their keys are committed first (or already,
        when ``new_ref`` gave the ref), then the contacts — each with other requests' in one
        transaction — so a stored contact never lacks its key."""
        keys = self.keys.for_records([ref for ref, _ in contacts])
        now = self._clock.now()
        return reporter_contacts, [
            {"ref": ref, **_sealed(key, ref, contact), "sealing": "record", "created_at": now}
            for (ref, contact), key in zip(contacts, keys, strict=True)
        ]

    def get(self, ref: str) -> Contact | None:
        """The contact, unless erased (or never kept)."""
        row = self._row(ref)
        return self._open(row) if row is not None and row.erased_at is None else None

    def shown_to(
        self,
        viewer: Principal,
        call_id: UUID,
        community_code: str,
        ref: str,
        back: ShownBack | None = None,
    ) -> Contact | None:
        """The contact as ``viewer`` may see it on this call: in full for the origin community and
        supervisors — and then recorded in the access log — masked for everyone else. ``back``:
        a raise's answer to its raiser, whose showing ``keep`` recorded already."""
        contact = back.given if back is not None and back.given is not None else self.get(ref)
        if contact is None:
            return None
        if not sees_contact_in_full(viewer, community_code):
            return masked(contact)
        if back is None:
            self.accesses.record(viewer, call_id, in_full(contact))
        return contact

    def may_be(self, ref: str | None, contact: Contact | None) -> bool:
        """Whether a retried raise naming ``contact`` may be the one that stored ``ref``: both
        without a reporter, or the same contact. Once erased nothing is left to compare, so any
        reporter may be (the retry gets the original answer, reporter: null)."""
        if ref is None or contact is None:
            return ref is None and contact is None
        kept = self.get(ref)
        return kept is None or kept == contact

    def erase(self, ref: str, by: str | None = None) -> bool:
        """个人信息删除: the record's key is shredded first — from then on its ciphertexts, wherever
        a copy lies, open with nothing — then the ciphertexts themselves are dropped. Who erased
        it and when are kept (accountability), never what was erased. True if there was something
        left to erase."""
        self.keys.shred(ref)
        with self._engine.begin() as conn:
            result = conn.execute(
                update(reporter_contacts)
                .where(reporter_contacts.c.ref == ref, reporter_contacts.c.erased_at.is_(None))
                .values(**dict.fromkeys(_COLUMNS), erased_at=self._clock.now(), erased_by=by)
            )
        return bool(result.rowcount)

    def discard(self, ref: str) -> None:
        """A contact kept for a raise that was never stored (a concurrent twin won): gone."""
        self.keys.shred(ref)
        with self._engine.begin() as conn:
            conn.execute(delete(reporter_contacts).where(reporter_contacts.c.ref == ref))

    def check_keys(self) -> None:
        """At start-up: the ring holds every master key the stored contacts need (rather than
        failing call by call once a key is missing from the settings)."""
        missing = sorted(set(self.keys.by_master_key()) - set(self.keys.ring.ids))
        if missing:
            raise KeyUnavailable(
                f"reporter record keys are wrapped under master key {', '.join(missing)}, which neither "
                "HUYING_SECRET_KEY nor HUYING_OLD_SECRET_KEYS holds"
            )
        with self._engine.connect() as conn:
            legacy = conn.execute(
                select(reporter_contacts)
                .where(reporter_contacts.c.sealing == "master", reporter_contacts.c.erased_at.is_(None))
                .limit(1)
            ).first()
        if legacy is not None:
            self._open_legacy(legacy)

    def reseal_legacy(self) -> int:
        """Contacts kept before record keys (Fernet under the master key itself), each re-sealed
        under a record key of its own; how many were."""
        legacy = reporter_contacts.c.sealing == "master"
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(reporter_contacts).where(legacy, reporter_contacts.c.erased_at.is_(None))
            ).all()
        resealed = 0
        for row in rows:
            contact = self._open_legacy(row)
            self.keys.shred(row.ref)  # one left by an interrupted earlier run
            sealed = _sealed(self.keys.make(row.ref), row.ref, contact)
            with self._engine.begin() as conn:
                done = conn.execute(
                    update(reporter_contacts)
                    .where(
                        reporter_contacts.c.ref == row.ref, legacy, reporter_contacts.c.erased_at.is_(None)
                    )
                    .values(**sealed, sealing="record")
                ).rowcount
            if not done:  # erased meanwhile: its new key goes too
                self.keys.shred(row.ref)
            resealed += done
        return resealed

    def _row(self, ref: str) -> Any:
        with self._engine.connect() as conn:
            return conn.execute(select(reporter_contacts).where(reporter_contacts.c.ref == ref)).first()

    def _open(self, row: Any) -> Contact | None:
        """The row's contact; None if its record key is gone (an erasure interrupted after the
        shredding)."""
        if row.sealing == "master":
            return self._open_legacy(row)
        key = self.keys.get(row.ref)
        if key is None:
            return None
        return Contact(
            **{
                field: unseal(key, blob, f"{field}|{row.ref}").decode() if blob else None
                for field, blob in ((field, getattr(row, f"{field}_enc")) for field in CONTACT_FIELDS)
            }
        )

    def _open_legacy(self, row: Any) -> Contact:
        name, phone = (
            self.keys.ring.open_legacy(b).decode() if b else None for b in (row.name_enc, row.phone_enc)
        )
        return Contact(name, phone)


# One sealed column per detail: name_enc, phone_enc, email_enc, device_id_enc, account_id_enc.
_COLUMNS = tuple(f"{field}_enc" for field in CONTACT_FIELDS)


def _sealed(key: bytes, ref: str, contact: Contact) -> dict[str, bytes | None]:
    """Each detail sealed under the record key, bound to its field and ref."""
    return {
        f"{field}_enc": seal(key, value.encode(), f"{field}|{ref}") if value else None
        for field, value in contact.details().items()
    }
