"""What the application services need of the world outside the event log, as small interfaces.

The SQL-backed implementations (``huying.services.contacts.ContactBook``,
``huying.services.attachments.AttachmentIndex``) are wired in one place, ``huying.bootstrap``;
unit tests give in-memory ones and run every command on the library's in-memory event store.
"""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from huying.domain.contact import Contact, Raiser
from huying.domain.principal import Principal
from huying.groupcommit import Beside
from huying.services.attachments import Attachment


class Contacts(Protocol):
    """Reporters' contact details, kept beside the events (never in them) and erasable."""

    def new_ref(self) -> str:
        """A fresh opaque reference for a call's events to carry: nothing about the reporter."""
        ...

    def keeping(self, ref: str, contact: Contact, raiser: Raiser | None = None) -> Beside:
        """The contact to keep, stored before the event naming ``ref`` (``CommandPath.create``'s
        ``beside``); with ``raiser``, the raise's answer showing it back to them is recorded
        with it when in full."""
        ...

    def discard(self, ref: str) -> None:
        """Forget a contact kept for a raise that was never stored."""
        ...

    def may_be(self, ref: str | None, contact: Contact | None) -> bool:
        """Whether a retried raise naming ``contact`` may be the one that stored ``ref``."""
        ...

    def erase(self, ref: str, by: str | None = None) -> bool:
        """个人信息删除: erase on request; True if something was left to erase."""
        ...


class PhotoIndex(Protocol):
    """随手拍: which photos exist, who uploaded each, which calls name it."""

    def get(self, attachment_id: str) -> Attachment | None: ...

    def uploaded_by(self, attachment_id: str, principal: Principal) -> bool: ...

    def refer(self, attachment_ids: list[str], call_id: UUID) -> None:
        """The call names these photos (recorded before its event is stored)."""
        ...

    def calls_naming(self, attachment_id: str) -> list[UUID]: ...
