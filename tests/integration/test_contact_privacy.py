"""个人信息保护: nothing stored in an event, nor served to anyone, is a function of a reporter's
personal data that could be enumerated; a retry is still told apart by its reporter; reporter
fields refuse what no name or phone contains; answers carrying a contact are never cached.

The attack this closes (issue 10): a street or department sees ``138****5678``; an auditor sees
every event's data. If anything served or stored were derived from the phone without a secret,
trying the 10,000 hidden digits would find the one that reproduces it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from uuid import UUID, uuid5

import pytest
from httpx import Client

from huying.bootstrap import Services
from huying.domain.principal import Principal, Role

from .reporters import (
    AUDITOR,
    CALLS,
    COMMUNITY,
    GRID_WORKER,
    NAME,
    PHONE,
    STREET,
    SUPERVISOR,
    Http,
    raise_body,
)

OTHER_PHONE = "13899995678"  # the same masked form, 138****5678, other hidden digits


@pytest.fixture
def http(client: Client, tokens: Any) -> Http:
    return Http(client, tokens)


def served_about(http: Http, call_id: str) -> dict[str, Any]:
    """Everything an auditor and a street (which sees the contact masked) are served about one call."""
    feed = http.get("/api/v1/events", AUDITOR, limit=500).json()["data"]
    export = [json.loads(line) for line in http.get("/api/v1/exports/events", AUDITOR).text.splitlines()]
    return {
        "history": http.get(f"{CALLS}/{call_id}/history", AUDITOR).json()["data"],
        "feed": [e for e in feed if e["call_id"] == call_id],
        "export": [e for e in export if e["call_id"] == call_id],
        "street": http.get(f"{CALLS}/{call_id}", STREET).json(),
        "auditor": http.get(f"{CALLS}/{call_id}", AUDITOR).json(),
    }


def refs_in(served: dict[str, Any]) -> set[str]:
    return {
        e["data"]["reporter_ref"]
        for part in ("history", "feed", "export")
        for e in served[part]
        if "reporter_ref" in e["data"]
    }


# --- the attack, as reported -------------------------------------------------------------------


def legacy_guesses(call_id: str, body: dict[str, Any], masked: str) -> dict[str, str]:
    """What the old code derived from a raise (its body fingerprint and the uuid5 reporter ref),
    for every phone the mask allows: 10,000 guesses."""
    namespace = UUID("6f1d4c1e-3a52-4f0e-9a55-6b9d2f1c0a77")
    head, tail = masked.split("****")
    guesses = {}
    for hidden in range(10_000):
        phone = f"{head}{hidden:04d}{tail}"
        tried = {**body, "reporter": {**body["reporter"], "phone": phone}}
        canonical = json.dumps(tried, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        fingerprint = hashlib.sha256(canonical.encode()).hexdigest()[:32]
        guesses[str(uuid5(namespace, f"{call_id}|{fingerprint}"))] = phone
        guesses[fingerprint] = phone
    return guesses


def test_a_street_and_an_auditor_cannot_recover_the_phone_by_trying_the_hidden_digits(
    http: Http, services: Services
) -> None:
    body = raise_body()
    call_id = http.raise_call(body)["id"]
    served = served_about(http, call_id)
    masked = served["street"]["reporter"]["phone"]
    assert masked == "138****5678"

    guesses = legacy_guesses(call_id, body, masked)
    found = {guesses[r] for r in refs_in(served) if r in guesses}
    assert not found, f"the served reporter_ref gives the phone away: {found}"
    stored = stored_raised(services, call_id)
    assert stored["fingerprint"] not in guesses, "the stored body fingerprint gives the phone away"


def test_a_legacy_ref_derived_from_the_reporter_is_kept_but_never_served(
    http: Http, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A call raised before refs were random carries the old uuid5 ref for ever (events are never
    rewritten). Its contact is still found by it; history, the feed and exports withhold it."""
    body = raise_body()
    call_id = str(services.calls.raise_id(Principal(Role.GRID_WORKER, GRID_WORKER[1]), "legacy-1"))
    guesses = legacy_guesses(call_id, body, "138****5678")
    legacy_ref = next(ref for ref, phone in guesses.items() if phone == PHONE and "-" in ref)
    monkeypatch.setattr(services.contacts, "new_ref", lambda: legacy_ref)  # as the old code did

    assert http.raise_call(body, key="legacy-1")["id"] == call_id
    assert stored_raised(services, call_id)["reporter_ref"] == legacy_ref
    served = served_about(http, call_id)
    assert legacy_ref not in json.dumps(served)
    for part in ("history", "feed", "export"):
        (raised,) = [e for e in served[part] if e["type"] == "Raised"]
        assert raised["data"]["reporter_ref"] is None, part
    assert http.get(f"{CALLS}/{call_id}", COMMUNITY).json()["reporter"] == {"name": NAME, "phone": PHONE}


def test_a_raise_recorded_with_the_old_whole_body_fingerprint_is_still_known_when_retried(
    http: Http, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Versions before random refs recorded the digest of the whole body, reporter included. A
    raise they stored, retried after the upgrade, is answered from the record; the same key with
    another reporter is refused. (The old digest is worked out only for such a retry.)"""
    import huying.api.deps as deps

    body = raise_body()
    with monkeypatch.context() as old_code:
        old_code.setattr(deps, "fingerprint", deps.legacy_fingerprint)  # as the old code recorded
        first = http.raise_call(body, key="before-upgrade-1")
    worked_out: list[str | None] = []
    digest = deps.legacy_fingerprint

    def counted(sent: Any) -> str | None:
        worked_out.append(digest(sent))
        return worked_out[-1]

    monkeypatch.setattr(deps, "legacy_fingerprint", counted)
    headers = http.tokens.headers(*GRID_WORKER, key="before-upgrade-1")
    again = http.client.post(CALLS, json=body, headers=headers)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first["id"] and worked_out != []
    other = http.client.post(CALLS, json=raise_body(phone="13900000000"), headers=headers)
    assert other.status_code == 422, other.text
    worked_out.clear()
    http.raise_call(raise_body(), key="after-upgrade-1")
    assert worked_out == [], "a new raise never works out the old digest"


# --- the class: nothing stored or served depends on the reporter -----------------------------------


def stored_raised(services: Services, call_id: str) -> dict[str, Any]:
    """The Raised event of a call as it lies in the event store."""
    for n in services.app.recorder.select_notifications(start=1, limit=10_000):
        if n.originator_id == UUID(call_id) and n.originator_version == 1:
            state: dict[str, Any] = json.loads(n.state)
            return state
    raise AssertionError(f"no Raised event of {call_id}")


def test_reporter_refs_are_random_never_derived(http: Http) -> None:
    """Two calls, the same body and the same reporter: two unrelated random refs (version 7:
    the millisecond, then random bits), which history shows."""
    first = refs_in(served_about(http, http.raise_call(raise_body())["id"]))
    second = refs_in(served_about(http, http.raise_call(raise_body())["id"]))
    assert len(first) == len(second) == 1 and first != second
    for ref in first | second:
        assert UUID(ref).version == 7, f"reporter_ref {ref} is not a random (version 7) uuid"
    (one,), (other,) = first, second
    assert UUID(one).int & (1 << 74) - 1 != UUID(other).int & (1 << 74) - 1  # not a counter


def test_stored_events_are_the_same_whoever_reported(http: Http, services: Services) -> None:
    """Raises that differ only in the reporter's hidden digits (or name) are stored alike, but
    for the random ref and the wall-clock timestamp."""
    stored = [
        stored_raised(services, http.raise_call(raise_body(name=name, phone=phone))["id"])
        for name, phone in ((NAME, PHONE), (NAME, OTHER_PHONE), ("李四", PHONE))
    ]
    # The seal is a keyed MAC over the whole stored event, random ref and timestamp included.
    ignored = {"timestamp", "reporter_ref", "_seal"}
    plain = [{k: v for k, v in s.items() if k not in ignored} for s in stored]
    assert plain[0] == plain[1] == plain[2]


def test_served_data_is_the_same_whoever_reported(http: Http) -> None:
    """What a street and an auditor are served about two calls that differ only in the
    reporter's hidden digits is the same, once each call's own id, position and ref are set aside."""
    served = [served_about(http, http.raise_call(raise_body(phone=p))["id"]) for p in (PHONE, OTHER_PHONE)]

    def without_identity(value: Any) -> Any:
        if isinstance(value, dict):
            skip = {"id", "call_id", "position", "recorded_at", "reporter_ref", "possible_duplicates"}
            return {k: without_identity(v) for k, v in value.items() if k not in skip}
        if isinstance(value, list):
            return [without_identity(v) for v in value]
        return value

    assert without_identity(served[0]) == without_identity(served[1])


# --- idempotency still tells a changed reporter apart -------------------------------------------------


@pytest.mark.parametrize(
    "retry",
    [
        pytest.param(raise_body(phone=OTHER_PHONE), id="only-the-phone-changed"),
        pytest.param(raise_body(name="李四"), id="only-the-name-changed"),
        pytest.param(raise_body(reporter=None), id="reporter-left-out"),
    ],
)
def test_the_same_key_with_another_reporter_is_refused(
    http: Http, client: Client, tokens: Any, retry: dict[str, Any]
) -> None:
    first = http.raise_call(raise_body(), key="raise-7")
    again = client.post(CALLS, json=retry, headers=tokens.headers(*GRID_WORKER, key="raise-7"))
    assert again.status_code == 422, again.text
    assert again.headers["content-type"].startswith("application/problem+json")
    shown = http.get(f"{CALLS}/{first['id']}", COMMUNITY).json()["reporter"]
    assert shown == {"name": NAME, "phone": PHONE}, "the first request's reporter is kept"


def test_the_same_key_adding_a_reporter_is_refused(http: Http, client: Client, tokens: Any) -> None:
    http.raise_call(raise_body(reporter=None), key="raise-8")
    again = client.post(CALLS, json=raise_body(), headers=tokens.headers(*GRID_WORKER, key="raise-8"))
    assert again.status_code == 422, again.text


def test_the_same_key_and_reporter_are_answered_from_the_record(
    http: Http, client: Client, tokens: Any, services: Services
) -> None:
    """The same phone written another way is the same request (phones are compared normalised)."""
    first = http.raise_call(raise_body(), key="raise-9")
    retry = raise_body(phone="+86 138-1234-5678")
    again = client.post(CALLS, json=retry, headers=tokens.headers(*GRID_WORKER, key="raise-9"))
    assert again.status_code == 201, again.text
    assert again.headers["Idempotent-Replayed"] == "true" and again.json() == first
    assert services.app.recorder.max_notification_id() == 1


def test_concurrent_keyed_raises_leave_one_contact(client: Client, tokens: Any, services: Services) -> None:
    """Twenty copies of one keyed raise race to the store: one call, and one kept contact — the
    losers' contacts are not left behind unreferenced."""
    from sqlalchemy import func, select

    from huying.db import reporter_contacts

    from .test_restart_and_idempotency import run_together

    headers = tokens.headers(*GRID_WORKER, key="burst-contact")
    answers = run_together(
        20, lambda c: c.post(CALLS, headers=headers, json=raise_body()), services, client.app, True
    )
    assert {a.status_code for a in answers} == {201}
    with services.contacts.engine.connect() as conn:
        kept = conn.execute(select(func.count()).select_from(reporter_contacts)).scalar_one()
    assert kept == 1


# --- reporter fields refuse what no name or phone contains -------------------------------------------

FULLWIDTH_PHONE = "１３８１２３４５６７８"
ARABIC_INDIC_PHONE = "١٣٨١٢٣٤٥٦٧٨"
DEVANAGARI_PHONE = "१३८१२३४५६७८"
FULLWIDTH_LANDLINE = "020-８１２３４５６７"


@pytest.mark.parametrize(
    ("reporter", "field"),
    [
        pytest.param({"name": "张\x00三", "phone": PHONE}, "reporter.name", id="nul-in-name"),
        pytest.param({"name": NAME, "phone": "138\x0012345678"}, "reporter.phone", id="nul-in-phone"),
        pytest.param({"name": NAME, "phone": FULLWIDTH_PHONE}, "reporter.phone", id="fullwidth-phone"),
        pytest.param({"name": NAME, "phone": ARABIC_INDIC_PHONE}, "reporter.phone", id="arabic-indic-phone"),
        pytest.param({"name": NAME, "phone": DEVANAGARI_PHONE}, "reporter.phone", id="devanagari-phone"),
        pytest.param({"name": NAME, "phone": "138１２３４5678"}, "reporter.phone", id="mixed-digits-phone"),
        pytest.param({"name": NAME, "phone": FULLWIDTH_LANDLINE}, "reporter.phone", id="fullwidth-landline"),
        pytest.param({"name": "张三１３８", "phone": PHONE}, "reporter.name", id="fullwidth-digits-in-name"),
        pytest.param({"name": "张三٣", "phone": PHONE}, "reporter.name", id="arabic-indic-digit-in-name"),
    ],
)
def test_reporter_fields_refuse_nul_and_non_ascii_digits(
    client: Client, tokens: Any, services: Services, reporter: dict[str, str], field: str
) -> None:
    refused = client.post(CALLS, json=raise_body(reporter=reporter), headers=tokens.headers(*GRID_WORKER))
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert [e["field"] for e in problem["errors"]] == [field], problem
    assert services.app.recorder.max_notification_id() is None, "a 422 writes nothing"


# --- answers carrying a contact are never cached -------------------------------------------------------


def test_every_answer_with_a_reporter_says_no_store(http: Http, client: Client, tokens: Any) -> None:
    raised = client.post(CALLS, json=raise_body(), headers=tokens.headers(*GRID_WORKER))
    call_id = raised.json()["id"]
    acknowledged = client.post(
        f"{CALLS}/{call_id}/acknowledge", json={"note": "收到"}, headers=tokens.headers(*COMMUNITY)
    )
    answers = {
        "raise (masked)": raised,
        "acknowledge (in full)": acknowledged,
        "read (in full)": http.get(f"{CALLS}/{call_id}", COMMUNITY),
        "read (masked)": http.get(f"{CALLS}/{call_id}", STREET),
        "as of a version (in full)": http.get(f"{CALLS}/{call_id}", SUPERVISOR, version=1),
    }
    for what, answer in answers.items():
        assert answer.json()["reporter"] is not None, what
        assert answer.headers.get("cache-control") == "no-store", f"{what}: {answer.headers}"
