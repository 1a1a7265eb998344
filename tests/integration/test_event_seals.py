"""封印: a row huying did not write is always found — before the hash chain reaches it as well as
after — and the chain keeper never chains it.

A history is written through the application and chained; more is written after the chained
head (not chained yet: what a stopped keeper leaves, or what a keeper sees before it catches up).
Then the event store is edited behind huying's back (``tests/tampering.py``): a forged row
appended, one event's state, topic, version or originator altered, two states swapped, JSON
corrupted, an event removed, two events reordered. Each must be named by verify at its position
with its kind, and refused by the keeper, which raises the alarm instead of chaining it.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update
from typer.testing import CliRunner

from backends import use_in_env
from huying.api.app import create_app
from huying.audit.seal import SEAL_KEY_REF, split, stored_seal_key
from huying.audit.tables import audit_chain
from huying.audit.verify import Tamper
from huying.audit.vouch import LEGACY_THROUGH, Voucher
from huying.bootstrap import Services, build_services
from huying.cli import cli
from huying.clock import FakeClock
from huying.db import reporter_keys
from huying.projections.tables import projection_tracking
from huying.settings import Settings
from tampering import StoredEvents, events_of

from .chained import assert_break, log_length, verify, write_more
from .histories import Shape, drive

__all__ = ["log_length"]  # the fixture, shared


@dataclass(frozen=True)
class Tail:
    """The unchained part of the log: positions ``first`` … ``head``."""

    first: int
    head: int

    @property
    def middle(self) -> int:
        return (self.first + self.head) // 2


@pytest.fixture
def tail(services: Services, clock: FakeClock, log_length: int) -> Tail:
    head = write_more(services, clock, calls=4)
    assert head - log_length >= 12
    return Tail(log_length + 1, head)


def unsealed(state: bytes) -> bytes:
    return split(state)[0]


def chained_positions(services: Services) -> list[int]:
    with services.engine.connect() as conn:
        return list(conn.execute(select(audit_chain.c.position).order_by(audit_chain.c.position)).scalars())


def assert_refused(services: Services, position: int, kind: Tamper) -> None:
    """The keeper chains everything before ``position``, raises the alarm there, and chains
    nothing at or after it, however often it runs."""
    services.chain.catch_up()
    services.chain.catch_up()
    alarm = services.chain.alarm
    assert alarm is not None and (alarm.position, alarm.kind) == (position, kind), alarm
    assert services.chain.tracked_position() < position
    assert max(chained_positions(services), default=0) < position
    assert services.chain.inspect() == alarm, "judged afresh, the same"


# --- a forged row appended after the chain head (the finding) ----------------------------------


def forge_after_head(events: StoredEvents, tail: Tail, seal: str) -> int:
    """Append a plausible next event of a call: its state copied from a genuine one."""
    model = events.at(tail.middle)
    state = {"none": unsealed(model.state), "copied": model.state}[seal]
    return events.insert(
        model.originator_id, events.last_version(model.originator_id) + 1, model.topic, state
    )


@pytest.mark.parametrize(("seal", "kind"), [("none", Tamper.FORGED), ("copied", Tamper.ALTERED)])
def test_a_row_appended_after_the_head_is_found_and_never_chained(
    services: Services, settings: Settings, tail: Tail, seal: str, kind: Tamper
) -> None:
    forged = forge_after_head(events_of(settings), tail, seal)
    assert forged == tail.head + 1
    assert_break(verify(services), forged, kind)
    assert_refused(services, forged, kind)
    assert services.chain.tracked_position() == tail.head, "everything before it is chained"


def test_a_forged_new_call_is_found(services: Services, settings: Settings, tail: Tail) -> None:
    events = events_of(settings)
    raised = events.at(events.first("Raised", after=tail.first - 1))
    forged = events.insert(uuid.uuid4().hex, 1, raised.topic, unsealed(raised.state))
    assert_break(verify(services), forged, Tamper.FORGED)
    assert_refused(services, forged, Tamper.FORGED)


def test_the_keeper_goes_on_once_the_forged_row_is_removed(
    services: Services, settings: Settings, clock: FakeClock, tail: Tail
) -> None:
    events = events_of(settings)
    forged = forge_after_head(events, tail, "none")
    assert_refused(services, forged, Tamper.FORGED)
    events.delete(forged)
    head = write_more(services, clock, calls=1, seed=8)
    services.chain.catch_up()
    assert services.chain.alarm is None
    assert services.chain.tracked_position() == head
    assert verify(services).ok


@pytest.mark.parametrize("command", [["project", "--once"], ["rebuild"]])
def test_commands_that_follow_the_log_stop_at_a_forged_row_and_say_so(
    services: Services, settings: Settings, tail: Tail, command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    forged = forge_after_head(events_of(settings), tail, "none")
    use_in_env(monkeypatch, settings)
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == 1, result.output
    assert f"halted at position {forged}: forged" in result.output
    assert services.projector.tracked_position() == tail.head


def test_a_replay_that_meets_an_altered_event_says_so(
    services: Services, settings: Settings, tail: Tail, monkeypatch: pytest.MonkeyPatch
) -> None:
    services.projector.catch_up()  # the live read models went past it before it was altered
    position, _ = _state(events_of(settings), tail)
    use_in_env(monkeypatch, settings)
    result = CliRunner().invoke(cli, ["audit", "replay"])
    assert result.exit_code == 1, result.output
    assert f"the replay halted at position {position}: altered" in result.output


# --- events beyond the head altered, removed or reordered ----------------------------------------

Edit = Callable[[StoredEvents, Tail], tuple[int, Tamper]]


def _state(events: StoredEvents, tail: Tail) -> tuple[int, Tamper]:
    was = events.at(tail.middle)  # a time moved back a year: still valid, plausible JSON
    assert b'"_data_":"2026-' in was.state
    events.rewrite(tail.middle, state=was.state.replace(b'"_data_":"2026-', b'"_data_":"2025-', 1))
    return tail.middle, Tamper.ALTERED


def _bit(events: StoredEvents, tail: Tail) -> tuple[int, Tamper]:
    flipped = bytearray(events.at(tail.middle).state)
    flipped[len(flipped) // 3] ^= 0x01
    events.rewrite(tail.middle, state=bytes(flipped))
    return tail.middle, Tamper.ALTERED


def _topic(events: StoredEvents, tail: Tail) -> tuple[int, Tamper]:
    target = events.first("Acknowledged", after=tail.first - 1)
    events.rewrite(target, topic=events.at(target).topic.replace("Acknowledged", "Resolved"))
    return target, Tamper.ALTERED


def _version(events: StoredEvents, tail: Tail) -> tuple[int, Tamper]:
    events.rewrite(tail.head, version=events.at(tail.head).version + 1)
    return tail.head, Tamper.ALTERED


def _originator(events: StoredEvents, tail: Tail) -> tuple[int, Tamper]:
    events.rewrite(tail.middle, originator_id=uuid.uuid4().hex)
    return tail.middle, Tamper.ALTERED


def _swapped_states(events: StoredEvents, tail: Tail) -> tuple[int, Tamper]:
    a, b = events.at(tail.first + 1), events.at(tail.head - 1)
    events.rewrite(a.position, state=b.state)
    events.rewrite(b.position, state=a.state)
    return a.position, Tamper.ALTERED


def _broken_json(events: StoredEvents, tail: Tail) -> tuple[int, Tamper]:
    events.rewrite(tail.middle, state=events.at(tail.middle).state[:-7])
    return tail.middle, Tamper.ALTERED


def _not_json(events: StoredEvents, tail: Tail) -> tuple[int, Tamper]:
    events.rewrite(tail.middle, state=b"\xff\xfe not json at all")
    return tail.middle, Tamper.FORGED


def _as_text(events: StoredEvents, tail: Tail) -> tuple[int, Tamper]:
    events.state_as_text(tail.middle)
    return tail.middle, Tamper.ALTERED


def seen_by_the_next(events: StoredEvents, tail: Tail) -> int:
    """A position in the tail whose next event was written after it (in a later save)."""
    for position in range(tail.middle, tail.head):
        seal = split(events.at(position + 1).state)[1]
        if seal is not None and seal.after == position:
            return position
    raise AssertionError("no event in the tail was written after the one before it")


def _removed(events: StoredEvents, tail: Tail) -> tuple[int, Tamper]:
    target = seen_by_the_next(events, tail)
    events.delete(target)
    return target + 1, Tamper.MISSING  # the next event was written when it was there


def _removed_first(events: StoredEvents, tail: Tail) -> tuple[int, Tamper]:
    events.delete(tail.first)
    return tail.first + 1, Tamper.MISSING


def _swapped(events: StoredEvents, tail: Tail) -> tuple[int, Tamper]:
    events.swap(tail.first + 1, tail.head - 1)
    return tail.first + 1, Tamper.REORDERED  # the later event now lies before what it followed


def _neighbours_swapped(events: StoredEvents, tail: Tail) -> tuple[int, Tamper]:
    target = seen_by_the_next(events, tail)
    events.swap(target, target + 1)
    return target, Tamper.REORDERED


def _moved_to_the_end(events: StoredEvents, tail: Tail) -> tuple[int, Tamper]:
    target = seen_by_the_next(events, tail)
    events.move(target, tail.head + 1)
    return target + 1, Tamper.MISSING  # the event written after it finds its place empty


EDITS: dict[str, Edit] = {
    "state altered": _state,
    "one bit flipped": _bit,
    "topic altered": _topic,
    "version altered": _version,
    "originator altered": _originator,
    "two events' states swapped": _swapped_states,
    "JSON cut short": _broken_json,
    "state replaced by garbage": _not_json,
    "an event removed": _removed,
    "the first unchained event removed": _removed_first,
    "two events swapped": _swapped,
    "neighbours swapped": _neighbours_swapped,
    "an event moved to the end": _moved_to_the_end,
}


@pytest.mark.parametrize("edit", EDITS)
def test_tampering_beyond_the_chain_head_is_found_and_never_chained(
    services: Services,
    settings: Settings,
    tail: Tail,
    edit: str,
    tokens: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    position, kind = EDITS[edit](events_of(settings), tail)
    report = verify(services)
    assert_break(report, position, kind)
    assert report.broken is not None and report.broken.intact_through < position
    assert_as_verify_says(services, settings, tokens, monkeypatch, position, kind)
    assert_refused(services, position, kind)


def assert_as_verify_says(
    services: Services,
    settings: Settings,
    tokens: Any,
    monkeypatch: pytest.MonkeyPatch,
    position: int,
    kind: Tamper,
) -> None:
    """The same break from ``huying audit verify`` (exit 1) and ``GET /api/v1/audit/verify``."""
    use_in_env(monkeypatch, settings)
    result = CliRunner().invoke(cli, ["audit", "verify", "--json"])
    assert result.exit_code == 1, result.output
    verdict = json.loads(result.stdout[result.stdout.index("{") :])
    assert (verdict["break"]["position"], verdict["break"]["kind"]) == (position, kind.value)
    api = TestClient(create_app(services=services))  # no lifespan: nothing runs in the background
    answer = api.get("/api/v1/audit/verify", headers=tokens.headers("auditor", "LW")).json()
    assert (answer["ok"], answer["break"]["position"], answer["break"]["kind"]) == (
        False,
        position,
        kind.value,
    )


@pytest.mark.sqlite_only(reason="a state stored as TEXT: a type PostgreSQL's bytea cannot hold")
def test_a_state_stored_as_another_type_beyond_the_head_is_found(
    services: Services, settings: Settings, tail: Tail
) -> None:
    position, kind = _as_text(events_of(settings), tail)
    assert_break(verify(services), position, kind)
    assert_refused(services, position, kind)


def test_an_untouched_tail_is_vouched_for_by_its_seals(services: Services, tail: Tail) -> None:
    report = verify(services)
    assert report.ok, report.broken
    assert report.checked == report.log_head == tail.head
    assert report.unchained == tail.head - tail.first + 1
    services.chain.catch_up()
    assert services.chain.alarm is None and services.chain.tracked_position() == tail.head


# --- what a seal is -----------------------------------------------------------------------------


def test_every_stored_event_carries_a_seal_inside_valid_json(
    services: Services, settings: Settings, tail: Tail
) -> None:
    events = events_of(settings)
    for position in (1, tail.first, tail.head):
        state = events.at(position).state
        body, seal = split(state)
        assert seal is not None and seal.kid == services.app.voucher.keys.current
        assert 0 <= seal.after < position
        decoded = json.loads(state)
        assert decoded.pop("_seal") == f"{seal.kid}:{seal.after}:{seal.mac}"
        assert decoded == json.loads(body)
    event = services.app.mapper.to_domain_event(
        services.app.recorder.select_notifications(start=1, limit=1)[0]
    )
    assert "_seal" not in event.__dict__


def test_events_sealed_under_a_key_the_deployment_lost_are_not_vouched_for(
    services: Services, settings: Settings, tail: Tail, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The seal key's row removed from the key store: the next start makes a new seal key, and
    verify says the log was sealed under one this deployment does not hold."""
    with services.contacts.keys.engine.begin() as conn:
        conn.execute(delete(reporter_keys).where(reporter_keys.c.ref == SEAL_KEY_REF))
    use_in_env(monkeypatch, settings)
    result = CliRunner().invoke(cli, ["audit", "verify"])
    assert result.exit_code == 1, result.output
    assert "BROKEN at position 1: forged" in result.output
    assert "sealed under key" in result.output and "does not hold" in result.output


def test_a_process_that_loses_the_race_to_make_the_seal_key_takes_the_one_made_first(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workers starting on a fresh deployment both find no seal key and both make one: the
    second's insert is refused (its key's row is there), and it takes the first's — it does not
    die at start. (Its refusal comes back through the group commit of the key store's rows.)"""
    keys = services.contacts.keys
    made_first = stored_seal_key(keys)
    looked = keys.get

    def not_there_yet(ref: str) -> bytes | None:
        monkeypatch.setattr(keys, "get", looked)  # the next look finds it
        return None

    monkeypatch.setattr(keys, "get", not_there_yet)
    assert stored_seal_key(keys) == made_first


def test_the_seal_key_is_wrapped_by_the_master_keys_and_survives_their_rotation(
    services: Services, settings: Settings, tail: Tail, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``huying keys rotate`` re-wraps the seal key with the contacts' keys: once the old master
    key is retired, the log still verifies, and new events are sealed under the same key."""
    old = settings.resolved_secret_key()
    use_in_env(monkeypatch, settings)
    monkeypatch.setenv("HUYING_SECRET_KEY", "a new master key")
    monkeypatch.setenv("HUYING_OLD_SECRET_KEYS", old)
    rotated = CliRunner().invoke(cli, ["keys", "rotate"])
    assert rotated.exit_code == 0, rotated.output
    monkeypatch.setenv("HUYING_OLD_SECRET_KEYS", "")  # the old master key retired
    verified = CliRunner().invoke(cli, ["audit", "verify"])
    assert verified.exit_code == 0, verified.output
    retired = build_services(settings.model_copy(update={"secret_key": "a new master key"}), FakeClock())
    try:
        assert retired.app.voucher.keys.current == services.app.voucher.keys.current
    finally:
        retired.close()


# --- events written before seals existed ----------------------------------------------------------


@pytest.fixture
def legacy(services: Services, settings: Settings, clock: FakeClock) -> int:
    """A log written before seals existed (its events' seals stripped before any keeper ran):
    how far it goes."""
    drive(services, clock, random.Random(9), Shape.tame(calls=5, concurrency=2))
    events = events_of(settings)
    for position in range(1, events.head() + 1):
        events.rewrite(position, state=unsealed(events.at(position).state))
    return events.head()


def test_legacy_events_are_vouched_for_by_the_chain_up_to_where_seals_began(
    services: Services, clock: FakeClock, legacy: int
) -> None:
    services.chain.catch_up()
    assert services.app.voucher.legacy_through() == legacy
    assert services.chain.alarm is None and services.chain.tracked_position() == legacy
    head = write_more(services, clock, calls=2)
    services.chain.catch_up()
    assert services.chain.tracked_position() == head
    assert verify(services).ok
    old_call = services.chain.log.page(0, 1, 1)[0].originator_id
    assert services.calls.current(uuid.UUID(hex=old_call)) is not None, "commands read legacy calls"
    assert services.projector.catch_up() == head and services.projector.halted is None


def test_an_unsealed_event_beyond_the_boundary_is_forged(
    services: Services, settings: Settings, clock: FakeClock, legacy: int
) -> None:
    services.chain.catch_up()
    head = write_more(services, clock, calls=2)
    events = events_of(settings)
    events.rewrite(head - 1, state=unsealed(events.at(head - 1).state))
    assert_break(verify(services), head - 1, Tamper.FORGED)
    assert_refused(services, head - 1, Tamper.FORGED)


def test_moving_the_boundary_by_hand_vouches_for_nothing_after_sealed_events(
    services: Services, settings: Settings, clock: FakeClock, legacy: int
) -> None:
    services.chain.catch_up()
    head = write_more(services, clock, calls=2)
    with services.engine.begin() as conn:
        conn.execute(
            update(projection_tracking)
            .where(projection_tracking.c.name == LEGACY_THROUGH)
            .values(position=10**6)
        )
    events = events_of(settings)
    events.rewrite(head - 1, state=unsealed(events.at(head - 1).state))
    restarted = build_services(settings, clock)  # reads the boundary afresh
    try:
        assert restarted.app.voucher.legacy_through() == 10**6
        report = verify(restarted)
        assert_break(report, head - 1, Tamper.FORGED)
        assert report.broken is not None and "after sealed events" in report.broken.detail
        assert_refused(restarted, head - 1, Tamper.FORGED)
    finally:
        restarted.close()


def test_a_legacy_event_altered_is_found_by_the_chain(
    services: Services, settings: Settings, legacy: int
) -> None:
    services.chain.catch_up()
    events = events_of(settings)
    events.rewrite(legacy // 2, state=events.at(legacy // 2).state.replace(b'"', b"'", 2))
    assert_break(verify(services), legacy // 2, Tamper.ALTERED)


def test_the_boundary_is_recorded_again_the_same_if_its_row_is_removed(
    services: Services, clock: FakeClock, legacy: int
) -> None:
    services.chain.catch_up()
    write_more(services, clock, calls=2)
    with services.engine.begin() as conn:
        conn.execute(delete(projection_tracking).where(projection_tracking.c.name == LEGACY_THROUGH))
    restarted = Voucher(services.app.voucher.keys, services.engine)
    assert restarted.legacy_through() == 0, "until recorded, no event is legacy"
    assert restarted.record_boundary(services.chain.log) == legacy


def test_on_a_fresh_log_no_event_is_legacy(services: Services, settings: Settings, clock: FakeClock) -> None:
    services.chain.catch_up()
    assert services.app.voucher.legacy_through() == 0
    events = events_of(settings)
    forged = events.insert(uuid.uuid4().hex, 1, "huying.domain.call:Call.Raised", b'{"title":"x"}')
    assert forged == 1
    assert_break(verify(services), 1, Tamper.FORGED)
    assert_refused(services, 1, Tamper.FORGED)
