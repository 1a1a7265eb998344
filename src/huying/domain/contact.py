"""A reporter's contact details: validated, and masked for everyone who does not need them.

They never enter an event; events carry an opaque reference (see ``services.contacts``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from uuid import UUID

from huying.domain.principal import Principal, Role

# ASCII only: Python's \d also matches fullwidth and other scripts' digits (１３８…, ١٣٨…).
_MOBILE = re.compile(r"^(?:\+?86[- ]?)?(1[3-9]\d{9})$", re.ASCII)
# Area codes: 010 and 020–029 have three digits, all others four (0755, 0757…).
_LANDLINE = re.compile(r"^(0(?:[12]\d|[3-9]\d{2}))-?(\d{7,8})(?:-(\d{1,6}))?$", re.ASCII)


class InvalidContact(ValueError):
    pass


@dataclass(frozen=True)
class Contact:
    """How to reach a reporter. Name and phone come from every channel; civic apps (Open311) may
    also give an email address, their device's id and the reporter's account id there."""

    name: str | None
    phone: str | None
    email: str | None = None
    device_id: str | None = None
    account_id: str | None = None

    def details(self) -> dict[str, str | None]:
        """Each detail by its field name, in a fixed order (how they are sealed and logged)."""
        return {field: getattr(self, field) for field in CONTACT_FIELDS}


CONTACT_FIELDS = ("name", "phone", "email", "device_id", "account_id")
# What people are ever shown of a contact (the 回访 calls the phone); what civic apps add — email,
# device and account ids — is kept with it, and erased with it, but not shown.
SHOWN_FIELDS = ("name", "phone")


def ascii_digits_only(text: str) -> str:
    """Digits in a reporter's name or phone are 0–9. Fullwidth (１３８…) or other scripts' digits
    (١٣٨…) would be stored as something else than the number they look like, and slip past
    masking and comparison as "other characters"."""
    if any(ch.isdigit() and not ch.isascii() for ch in text):
        raise InvalidContact("digits must be ASCII 0-9, not fullwidth or another script's digits")
    return text


def normalise_phone(raw: str) -> str:
    """Mainland mobile (13812345678, +86 138…) or landline (020-81234567, 02081234567)."""
    text = re.sub(r"[\s()]", "", raw)
    if m := _MOBILE.match(text.replace("-", "")):  # 138-1234-5678, +86 138-1234-5678
        return m.group(1)
    if m := _LANDLINE.match(text):
        area, number, ext = m.groups()
        return f"{area}-{number}" + (f"-{ext}" if ext else "")
    raise InvalidContact(
        "not a mainland mobile (11 digits starting 13–19) or landline (area code + 7–8 digits)"
    )


def mask_name(name: str) -> str:
    """张三 → 张*; 欧阳娜娜 → 欧***."""
    return name[:1] + "*" * max(len(name) - 1, 1) if name else name


def mask_phone(phone: str) -> str:
    """13812345678 → 138****5678; 020-81234567 → 020-8123****."""
    if len(phone) == 11 and phone.isdigit():
        return f"{phone[:3]}****{phone[-4:]}"
    head, _, rest = phone.partition("-")
    number = rest.split("-")[0] if rest else phone
    return f"{head}-{number[:-4]}****" if rest else f"{phone[:-4]}****"


def sees_contact_in_full(principal: Principal, community_code: str) -> bool:
    """Only the origin community and supervisors (who run the 回访 follow-up) see it all."""
    if principal.role is Role.SUPERVISOR:
        return True
    return principal.role is Role.COMMUNITY and principal.unit == community_code


def shown_to(principal: Principal, community_code: str, contact: Contact) -> Contact:
    return contact if sees_contact_in_full(principal, community_code) else masked(contact)


@dataclass(frozen=True)
class Raiser:
    """Who raises a call with a reporter's contact, and the call: the raise's own answer shows
    the contact back to them — in full or masked, as ``sees_contact_in_full`` says."""

    principal: Principal
    call_id: UUID
    community_code: str

    def sees_in_full(self) -> bool:
        return sees_contact_in_full(self.principal, self.community_code)


@dataclass(frozen=True)
class ShownBack:
    """A raise's answer, showing the reporter back to the raiser: that showing was recorded
    with the contact when the raise kept it (``Raiser``). ``given``: the contact as the raise
    gave it, shown as given rather than read back — None for a retry answered from the store,
    which shows what the store has (nothing, once erased)."""

    given: Contact | None


def masked(contact: Contact) -> Contact:
    """What others see: name and phone masked; nothing else."""
    return Contact(
        name=mask_name(contact.name) if contact.name else None,
        phone=mask_phone(contact.phone) if contact.phone else None,
    )


def in_full(contact: Contact) -> list[str]:
    """Which details a contact shown in full discloses (what the access log records)."""
    return [field for field in SHOWN_FIELDS if getattr(contact, field)]


# The UUID versions of random refs (``record_keys.random_ref``): version 4 until 2026-12-06, then
# 7 (random but for the millisecond it was made).
RANDOM_REF_VERSIONS = frozenset({4, 7})


def shown_ref(ref: str | None) -> str | None:
    """A call's ``reporter_ref`` as history, the feed and exports show it. Refs are random
    (``RANDOM_REF_VERSIONS``); versions before them derived the ref from the raise's body,
    reporter included (uuid5), so a stored legacy ref would give the phone away to anyone trying
    the digits a mask hides. Events are forever and keep it; it is never shown."""
    if ref is None:
        return None
    try:
        return ref if UUID(ref).version in RANDOM_REF_VERSIONS else None
    except ValueError:
        return None
