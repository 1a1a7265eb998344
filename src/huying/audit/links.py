"""防篡改 arithmetic — the hash chain over the event log, as anyone can recompute it.

For the stored event at log position n::

    C(n)    = i64(position) ‖ u64(len id) ‖ id ‖ i64(version) ‖ u64(len topic) ‖ topic
              ‖ u64(len state) ‖ state                      (big-endian; id and topic UTF-8)
    link(0) = 32 zero bytes
    link(n) = SHA-256(link(previous) ‖ C(n))
    digest(n) = SHA-256(C(n))

``id`` is the originator id as the store keeps it (32 lowercase hex digits for a call),
``state`` the stored bytes, seal included. No key is needed: an auditor can recompute the chain
without huying.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from huying.audit.log import StoredRow

TRACKING_NAME = "audit-chain"
GENESIS = bytes(32)
_I64 = struct.Struct(">q")
_U64 = struct.Struct(">Q")
END_OF_LOG = 2**63 - 1


def canonical(row: StoredRow, position: int | None = None) -> bytes:
    """C(n): the stored event's bytes in one unambiguous order (at ``position`` if given)."""
    oid, topic = row.originator_id.encode(), row.topic.encode()
    return b"".join(
        (
            _I64.pack(row.position if position is None else position),
            _U64.pack(len(oid)),
            oid,
            _I64.pack(row.version),
            _U64.pack(len(topic)),
            topic,
            _U64.pack(len(row.state)),
            row.state,
        )
    )


def digest_of(row: StoredRow, position: int | None = None) -> str:
    return hashlib.sha256(canonical(row, position)).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainLink:
    """One row of the chain: which event sat at the position, its digest and the link."""

    position: int
    originator_id: str
    originator_version: int
    digest: str
    link: str


def extend(previous: bytes, rows: Iterable[StoredRow]) -> Iterator[ChainLink]:
    """The links that follow ``previous`` over ``rows`` (in log order)."""
    for row in rows:
        c = canonical(row)
        h = hashlib.sha256(previous)
        h.update(c)
        previous = h.digest()
        yield ChainLink(
            row.position, row.originator_id, row.version, hashlib.sha256(c).hexdigest(), previous.hex()
        )
