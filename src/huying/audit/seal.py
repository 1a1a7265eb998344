"""封印 — every stored event carries a keyed MAC, written by huying's mapper with the event.

A row that huying did not write cannot carry a valid seal without the key, so it is found
wherever the log is read — whether or not the hash chain has reached it yet. The seal sits at
the end of the event's stored JSON state, so the state stays valid JSON::

    state = body[:-1] ‖ ',"_seal":"' ‖ kid ‖ ':' ‖ after ‖ ':' ‖ mac ‖ '"}'

``body`` is the state the library's transcoder wrote (a JSON object), ``kid`` 8 hex digits
naming the key, ``after`` the newest log position the writer had seen when it wrote the event
(the event must lie beyond it, and an event must be there: this is what reveals reordered and
removed events before they are chained), and::

    K   = HMAC-SHA256(seal key, "huying event seal v1")
    kid = hex(HMAC-SHA256(K, "key id")[:4])
    mac = hex(HMAC-SHA256(K, "huying event seal v1" ‖ 0x00 ‖ u64(len id) ‖ id ‖ i64(version)
                             ‖ u64(len topic) ‖ topic ‖ i64(after) ‖ body))

(big-endian; ``id`` is the originator id as stored — 32 lowercase hex digits for a UUID —
and ``topic`` the stored topic, both UTF-8). Nothing here knows which aggregate an event
belongs to: directives and meetings are sealed the same way as calls.

The seal key is 32 random bytes made once per deployment and kept like a reporter record's key
(``stored_seal_key``): wrapped by the master key ring (``HUYING_SECRET_KEY``, and
``HUYING_OLD_SECRET_KEYS`` until ``huying keys rotate`` re-wraps it), never shredded. A master
key can so be rotated and retired without a single seal becoming unverifiable — a seal cannot
be made again, since events are never rewritten.
"""

from __future__ import annotations

import hmac
import re
import struct
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, NamedTuple
from uuid import UUID

from sqlalchemy.exc import IntegrityError

if TYPE_CHECKING:
    from huying.services.record_keys import RecordKeys

_LABEL = b"huying event seal v1"
_I64 = struct.Struct(">q")
_U64 = struct.Struct(">Q")
_FIELD = b'"_seal":"'
_VALUE = re.compile(rb"([0-9a-f]{8}):(0|[1-9][0-9]{0,18}):([0-9a-f]{64})\"\}")
_LONGEST = 1 + len(_FIELD) + 8 + 1 + 19 + 1 + 64 + 2  # ',"_seal":"' … '"}' at most

# The newest log position the writing code has seen: set around each save.
_written_after: ContextVar[int] = ContextVar("huying_written_after", default=0)


@contextmanager
def writing_after(position: int) -> Iterator[None]:
    """Events sealed inside this block record that the log already reached ``position``."""
    token = _written_after.set(position)
    try:
        yield
    finally:
        _written_after.reset(token)


def stored_id(originator_id: UUID | str) -> str:
    """The originator id as the store keeps it (what the MAC binds)."""
    return originator_id.hex if isinstance(originator_id, UUID) else str(originator_id)


class Seal(NamedTuple):  # a tuple: made for every event read, so made cheaply
    kid: str
    after: int
    mac: str


class SealKeys:
    """The seal keys: new events are sealed under the first; any of them verifies (rotation)."""

    def __init__(self, secrets: Sequence[bytes | str]) -> None:
        if not secrets or not all(secrets):
            raise ValueError("sealing events needs a secret key")
        raw = [s.encode() if isinstance(s, str) else s for s in secrets]
        derived = [hmac.digest(s, _LABEL, "sha256") for s in raw]
        # Each key's HMAC with the key already taken in, copied for every MAC: half the work of
        # taking the key in again each time (P2's and P3's paths MAC every event).
        self._keyed = {
            hmac.digest(k, b"key id", "sha256")[:4].hex(): hmac.new(k, digestmod="sha256") for k in derived
        }
        self.current = next(iter(self._keyed))

    def knows(self, kid: str) -> bool:
        return kid in self._keyed

    def mac(self, kid: str, originator_id: str, version: int, topic: str, after: int, body: bytes) -> str:
        oid, top = originator_id.encode(), topic.encode()
        message = b"".join(
            (
                _LABEL,
                b"\x00",
                _U64.pack(len(oid)),
                oid,
                _I64.pack(version),
                _U64.pack(len(top)),
                top,
                _I64.pack(after),
                body,
            )
        )
        keyed = self._keyed[kid].copy()
        keyed.update(message)
        return keyed.hexdigest()

    def seal(self, originator_id: str, version: int, topic: str, body: bytes) -> bytes:
        """``body`` (a JSON object) with its seal inside, as the last field."""
        if body[:1] != b"{" or body[-1:] != b"}":
            raise ValueError("only a JSON object state can carry a seal")
        after = _written_after.get()
        mac = self.mac(self.current, originator_id, version, topic, after, body)
        value = f'{self.current}:{after}:{mac}"}}'.encode()
        return body[:-1] + (b"," if body != b"{}" else b"") + _FIELD + value

    def holds(self, seal: Seal, originator_id: str, version: int, topic: str, body: bytes) -> bool:
        expected = self.mac(seal.kid, originator_id, version, topic, seal.after, body)
        return hmac.compare_digest(expected, seal.mac)


def split(state: bytes) -> tuple[bytes, Seal | None]:
    """The body huying's transcoder wrote, and the seal after it (None: the state has none)."""
    at = state.rfind(_FIELD, max(len(state) - _LONGEST, 0))
    if at < 1:
        return state, None
    found = _VALUE.fullmatch(state, at + len(_FIELD))
    if found is None:
        return state, None
    before = state[at - 1 : at]
    if before == b",":
        body = state[: at - 1] + b"}"
    elif before == b"{" and at == 1:
        body = b"{}"
    else:
        return state, None
    kid, after, mac = found.groups()
    return body, Seal(kid.decode(), int(after), mac.decode())


# The record key the event log's seals are made with (``services.record_keys``: a reporter's
# ref is a uuid4, so this one is nobody's).
SEAL_KEY_REF = "huying:event-seal"


def stored_seal_key(keys: RecordKeys) -> bytes:
    """The deployment's seal key: made at random the first time, then read (unwrapped)."""
    found = keys.get(SEAL_KEY_REF)
    if found is None:
        try:
            found = keys.make(SEAL_KEY_REF)
        except IntegrityError:  # another process made it first
            found = keys.get(SEAL_KEY_REF)
    assert found is not None
    return found
