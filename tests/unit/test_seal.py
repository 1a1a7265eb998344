"""封印: the seal's format and what its MAC binds (``huying.audit.seal``)."""

from __future__ import annotations

import hashlib
import hmac
import json
import struct

import pytest

from huying.audit.seal import SealKeys, split, writing_after

OID, TOPIC = "7c0e4f1a2b3c4d5e6f708192a3b4c5d6", "huying.domain.call:Call.Raised"
BODY = '{"title":"井盖松动","location":{"_seal":"00000000:0:' + "0" * 64 + '"},"n":1}'


def test_a_sealed_state_is_the_body_plus_one_last_field_and_splits_back() -> None:
    keys = SealKeys(["secret"])
    with writing_after(41):
        state = keys.seal(OID, 3, TOPIC, BODY.encode())
    body, seal = split(state)
    assert body == BODY.encode(), "a look-alike field inside the body is not taken for the seal"
    assert seal is not None and (seal.kid, seal.after) == (keys.current, 41)
    assert json.loads(state)["_seal"] == f"{seal.kid}:41:{seal.mac}"
    assert keys.holds(seal, OID, 3, TOPIC, body)


def test_the_mac_is_the_one_the_module_docstring_gives() -> None:
    """Computed here from the written formula, apart from the code: seals stored by any earlier
    version of it must go on verifying."""
    label = b"huying event seal v1"
    k = hmac.digest(b"secret", label, hashlib.sha256)
    oid, topic = OID.encode(), TOPIC.encode()
    head = [label, b"\x00", struct.pack(">Q", len(oid)), oid, struct.pack(">q", 3)]
    tail = [struct.pack(">Q", len(topic)), topic, struct.pack(">q", 41), BODY.encode()]
    message = b"".join([*head, *tail])
    keys = SealKeys(["secret"])
    with writing_after(41):
        _, seal = split(keys.seal(OID, 3, TOPIC, BODY.encode()))
    assert seal is not None
    assert seal.kid == hmac.digest(k, b"key id", hashlib.sha256)[:4].hex()
    assert seal.mac == hmac.digest(k, message, hashlib.sha256).hex()
    once, twice = (keys.seal(OID, 3, TOPIC, BODY.encode()) for _ in range(2))
    assert once == twice  # the prepared key is copied for each MAC, never fed itself


def test_an_empty_object_can_be_sealed() -> None:
    keys = SealKeys(["secret"])
    state = keys.seal(OID, 1, TOPIC, b"{}")
    assert split(state)[0] == b"{}" and json.loads(state).keys() == {"_seal"}


@pytest.mark.parametrize(
    ("oid", "version", "topic", "body"),
    [
        ("7c0e4f1a2b3c4d5e6f708192a3b4c5d7", 3, TOPIC, BODY),
        (OID, 4, TOPIC, BODY),
        (OID, 3, "huying.domain.call:Call.Closed", BODY),
        (OID, 3, TOPIC, BODY.replace("井盖", "路灯")),
    ],
)
def test_the_mac_binds_originator_version_topic_and_body(
    oid: str, version: int, topic: str, body: str
) -> None:
    keys = SealKeys(["secret"])
    sealed_body, seal = split(keys.seal(OID, 3, TOPIC, BODY.encode()))
    assert seal is not None and keys.holds(seal, OID, 3, TOPIC, sealed_body)
    assert not keys.holds(seal, oid, version, topic, body.encode())


def test_the_mac_binds_the_position_the_writer_had_seen() -> None:
    keys = SealKeys(["secret"])
    with writing_after(7):
        _, seal = split(keys.seal(OID, 3, TOPIC, BODY.encode()))
    assert seal is not None
    moved = type(seal)(seal.kid, 2, seal.mac)
    assert not keys.holds(moved, OID, 3, TOPIC, BODY.encode())


@pytest.mark.parametrize(
    "state",
    [
        BODY.encode(),  # none
        BODY.encode()[:-1] + b',"_seal":"abc"}',  # not a seal's shape
        BODY.encode()[:-1] + b',"_seal":"' + b"a" * 8 + b":1:" + b"b" * 64 + b'"} ',  # bytes after it
        b"not json",
    ],
)
def test_a_state_without_a_well_formed_last_seal_has_none(state: bytes) -> None:
    assert split(state) == (state, None)


def test_keys_rotate_new_events_under_the_first_old_ones_still_verify() -> None:
    old = SealKeys(["old secret"])
    body, seal = split(old.seal(OID, 3, TOPIC, BODY.encode()))
    rotated = SealKeys(["new secret", "old secret"])
    assert seal is not None and rotated.knows(seal.kid) and rotated.holds(seal, OID, 3, TOPIC, body)
    assert rotated.current != old.current
    assert not SealKeys(["new secret"]).knows(seal.kid)


def test_only_a_json_object_can_carry_a_seal() -> None:
    with pytest.raises(ValueError, match="JSON object"):
        SealKeys(["secret"]).seal(OID, 1, TOPIC, b"[1, 2]")
