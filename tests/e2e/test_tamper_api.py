"""防篡改 over HTTP: a stored event huying cannot vouch for is named — by verify, /readyz and
/metrics — and never breaks a read: the feed, the export and a call's history still answer,
naming it apart; the call itself is refused with a problem naming its position.

The server runs without its background projector and chain keeper here, so each test decides
when they catch up; the event store is edited behind huying's back through
``tests/tampering.py``. Forged rows are made as someone without the key would: from a genuine
row's JSON, with any field a forger cannot compute left out.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from httpx import Client
from typer.testing import CliRunner

from backends import Backend, use_in_env
from huying.bootstrap import Services, build_services
from huying.cli import cli
from huying.clock import FakeClock
from huying.settings import Settings
from tampering import StoredEvents, events_of

from .driver import Driver, Place

AUDITOR = ("auditor", "LW")
SUPERVISOR = ("supervisor", "LW")
WALL = datetime(2027, 3, 1, 4, 0, tzinfo=UTC)  # the chain keeper's wall clock, here


@pytest.fixture
def settings(backend: Backend, data_dir: Path) -> Settings:
    return backend.settings(data_dir, run_projector=False, run_chain=False, run_watchdog=False)


class Log:
    """A few calls' lives, projected and chained; then one more call, neither."""

    def __init__(self, client: Client, tokens: Any, clock: FakeClock, services: Services) -> None:
        self.client, self.tokens, self.services = client, tokens, services
        services.chain.clock = FakeClock(start=WALL)
        driver = Driver(client, tokens, clock)
        self.calls = [driver.drive(state, Place(grid)).id for state, grid in self.LIVES]
        services.projector.catch_up()
        services.chain.catch_up()
        self.chained = int(services.app.recorder.max_notification_id())
        self.late = driver.drive("dispatched").id  # written after the chain's head
        self.head = int(services.app.recorder.max_notification_id())
        self.events: StoredEvents = events_of(services.settings)

    LIVES = (("closed", "LW-LN-01-G01"), ("dispatched", "LW-HL-01-G01"))

    def get(self, path: str, who: tuple[str, str] = AUDITOR, **params: Any) -> Any:
        return self.client.get(path, params=params, headers=self.tokens.headers(*who))

    def forge(self) -> int:
        """A next event for the late call, as a forger writes it: a genuine row's JSON reused."""
        model = self.events.at(self.head)
        state = json.loads(model.state)
        state.pop("_seal", None)  # what a forger cannot compute
        body = json.dumps(state, separators=(",", ":"), ensure_ascii=False).encode()
        return self.events.insert(model.originator_id, model.version + 1, model.topic, body)

    def corrupt(self, position: int) -> bytes:
        """Break an event's JSON (a byte in its middle); returns the bytes it had."""
        was = self.events.at(position).state
        middle = len(was) // 2
        self.events.rewrite(position, state=was[:middle] + b"\x00" + was[middle + 1 :])
        return was

    def verdict(self) -> dict[str, Any]:
        answer = self.get("/api/v1/audit/verify")
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def ready(self) -> tuple[int, dict[str, Any]]:
        answer = self.client.get("/readyz")
        return answer.status_code, answer.json()["checks"]


@pytest.fixture
def log(client: Client, tokens: Any, clock: FakeClock, services: Services) -> Log:
    return Log(client, tokens, clock, services)


# --- a forged row after the chain head ------------------------------------------------------------


def test_verify_names_a_row_appended_after_the_chain_head(log: Log) -> None:
    forged = log.forge()
    verdict = log.verdict()
    assert verdict["ok"] is False, verdict
    assert verdict["break"] == {**verdict["break"], "position": forged, "kind": "forged"}
    assert verdict["break"]["intact_through"] == forged - 1


def test_verify_on_the_command_line_exits_non_zero_on_a_forged_row(
    log: Log, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    forged = log.forge()
    use_in_env(monkeypatch, settings)
    result = CliRunner().invoke(cli, ["audit", "verify"])
    assert result.exit_code == 1, result.output
    assert f"BROKEN at position {forged}: forged" in result.output
    as_json = CliRunner().invoke(cli, ["audit", "verify", "--json"])
    assert as_json.exit_code == 1
    verdict = json.loads(as_json.stdout[as_json.stdout.index("{") :])
    assert (verdict["break"]["position"], verdict["break"]["kind"]) == (forged, "forged")


def test_a_forged_row_is_never_chained(log: Log) -> None:
    forged = log.forge()
    log.services.chain.catch_up()
    head = log.get("/api/v1/audit/checkpoints").json()["head"]
    assert head["position"] == forged - 1, "chained up to the forged row, not through it"
    assert log.verdict()["break"]["position"] == forged


def test_readyz_names_a_forged_row_until_it_is_removed(log: Log) -> None:
    forged = log.forge()
    log.services.projector.catch_up()
    log.services.chain.catch_up()
    status, checks = log.ready()
    assert status == 503
    assert checks["audit_chain"]["ok"] is False
    assert checks["audit_chain"]["refused"] == {
        **checks["audit_chain"]["refused"],
        "position": forged,
        "kind": "forged",
    }
    assert checks["projections"]["halted_at"]["position"] == forged
    assert checks["projections"]["position"] == forged - 1, "the read models stop just before it"

    log.events.delete(forged)
    log.services.projector.catch_up()
    log.services.chain.catch_up()
    status, checks = log.ready()
    assert status == 200, checks
    assert checks["audit_chain"]["refused"] is None and checks["projections"]["halted_at"] is None
    assert checks["projections"]["position"] == checks["audit_chain"]["position"] == log.head


def test_metrics_show_the_alarm_with_its_position(log: Log) -> None:
    forged = log.forge()
    log.services.chain.catch_up()
    log.services.projector.catch_up()
    text = log.client.get("/metrics").text
    assert f'huying_audit_alarm_position{{check="chain",kind="forged"}} {float(forged)}' in text
    assert f'huying_audit_alarm_position{{check="projector",kind="forged"}} {float(forged)}' in text
    assert 'huying_audit_alarm{check="chain"} 1.0' in text
    assert f'huying_projection_position{{projection="audit-chain"}} {float(forged - 1)}' in text
    assert f"huying_log_head {float(forged)}" in text


def test_metrics_show_no_alarm_on_a_sound_log(log: Log) -> None:
    log.services.chain.catch_up()
    text = log.client.get("/metrics").text
    assert 'huying_audit_alarm{check="chain"} 0.0' in text
    assert "huying_audit_alarm_position{" not in text


def test_metrics_stay_up_when_a_store_does_not_answer(log: Log, monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable() -> int:
        raise ConnectionError("the event store does not answer")

    monkeypatch.setattr(log.services.app.recorder, "max_notification_id", unreachable)
    answer = log.client.get("/metrics")
    assert answer.status_code == 200
    assert "huying_audit_checks_up 0.0" in answer.text
    assert "huying_http_requests_total" in answer.text


# --- a corrupt stored event: reads answer, naming it --------------------------------------------


def test_a_corrupt_event_does_not_break_the_feed(log: Log) -> None:
    target = log.chained - 2
    log.corrupt(target)
    page = log.get("/api/v1/events", limit=500)
    assert page.status_code == 200, page.text
    body = page.json()
    assert target not in [e["position"] for e in body["data"]]
    assert len(body["data"]) == log.head - 1
    assert [(u["position"], u["kind"]) for u in body["unvouched"]] == [(target, "altered")]


def test_a_corrupt_event_is_named_in_its_place_in_an_export(log: Log) -> None:
    target = log.chained - 2
    log.corrupt(target)
    answer = log.get("/api/v1/exports/events")
    assert answer.status_code == 200
    lines = [json.loads(line) for line in answer.text.splitlines()]
    assert [line["position"] for line in lines] == list(range(1, log.head + 1))
    flagged = lines[target - 1]
    assert flagged["unvouched"]["kind"] == "altered" and "data" not in flagged


def test_a_corrupt_event_does_not_break_a_calls_history(log: Log) -> None:
    target = log.head - 1  # an event of the late call
    log.corrupt(target)
    answer = log.get(f"/api/v1/calls/{log.late}/history", SUPERVISOR)
    assert answer.status_code == 200, answer.text
    history = answer.json()
    assert [u["position"] for u in history["unvouched"]] == [target]
    assert target not in [e["position"] for e in history["data"]]
    assert history["data"][-1]["position"] == log.head, "the events after it are still shown"


def test_a_call_with_a_corrupt_event_is_refused_naming_the_position(log: Log) -> None:
    target = log.head - 1
    log.corrupt(target)
    answer = log.get(f"/api/v1/calls/{log.late}", SUPERVISOR)
    assert answer.status_code == 409
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert problem["type"] == "/problems/event-unvouched"
    assert f"position {target}: altered" in problem["detail"]


@pytest.mark.parametrize("who", [AUDITOR, SUPERVISOR, ("street", "LW-LN")])
def test_the_past_of_a_call_is_refused_for_a_corrupt_event_after_the_moment_asked_about(
    log: Log, who: tuple[str, str]
) -> None:
    """The past before the corrupt event needs none of what came after it decoded, but a read
    of the call still vouches for every event it has (an auditor's and a supervisor's reads
    decode only up to the moment asked about)."""
    target = log.head  # the late call's last event
    log.corrupt(target)
    for moment in ({"version": 1}, {"as_of": "2020-01-01T00:00:00+08:00"}):
        answer = log.get(f"/api/v1/calls/{log.late}", who, **moment)
        assert answer.status_code == 409, (moment, answer.text)
        assert f"position {target}: altered" in answer.json()["detail"]


def test_an_event_read_before_and_altered_since_is_named_in_the_history(log: Log) -> None:
    """The events of a past read are remembered (``PastEvents``) by their stored bytes: a row
    changed since is judged afresh, not answered from memory."""
    before = log.get(f"/api/v1/calls/{log.late}/history", SUPERVISOR).json()
    assert before["unvouched"] == [] and len(log.services.app.past_events) >= len(before["data"])
    target = log.head - 1
    log.corrupt(target)
    after = log.get(f"/api/v1/calls/{log.late}/history", SUPERVISOR).json()
    assert [u["position"] for u in after["unvouched"]] == [target]
    assert [e for e in after["data"] if e["position"] != target] == [
        e for e in before["data"] if e["position"] != target
    ]


@pytest.mark.parametrize("moment", [{"version": 1}, {"version": 2}])
def test_the_past_read_before_an_event_was_altered_is_refused_after(log: Log, moment: dict[str, int]) -> None:
    path = f"/api/v1/calls/{log.late}"
    assert log.get(path, AUDITOR, **moment).status_code == 200
    target = log.head - 1
    was = log.corrupt(target)
    answer = log.get(path, AUDITOR, **moment)
    assert answer.status_code == 409, answer.text
    assert f"position {target}: altered" in answer.json()["detail"]
    log.events.rewrite(target, state=was)  # restored byte for byte: vouched for again
    assert log.get(path, AUDITOR, **moment).status_code == 200


def test_the_projector_halts_at_a_corrupt_event_and_goes_on_once_it_is_restored(log: Log) -> None:
    target = log.chained + 2  # not projected yet
    was = log.corrupt(target)
    log.services.projector.catch_up()
    status, checks = log.ready()
    assert status == 503
    assert checks["projections"]["position"] == target - 1
    assert checks["projections"]["halted_at"] == {**checks["projections"]["halted_at"], "position": target}
    assert "cannot vouch" not in (checks["projections"]["error"] or ""), "an alarm, not a crash"

    log.events.rewrite(target, state=was)  # restored from a backup
    log.services.projector.catch_up()
    status, checks = log.ready()
    assert checks["projections"]["halted_at"] is None
    assert checks["projections"]["position"] == log.head


def test_an_earlier_event_altered_after_projection_halts_the_projector_naming_it(log: Log) -> None:
    """The projector reloads a call it no longer holds: an altered earlier event is found there."""
    raised = log.events.first("Raised", after=log.chained)
    log.services.projector.run_once(limit=raised - log.services.projector.tracked_position())
    log.services.projector.cache.clear()  # as after a restart
    log.corrupt(raised)
    log.services.projector.catch_up()
    _, checks = log.ready()
    assert checks["projections"]["halted_at"]["position"] == raised
    assert checks["projections"]["position"] == raised


# --- a whole-log check now and then ----------------------------------------------------------------


def test_readyz_shows_the_last_whole_log_check(log: Log) -> None:
    log.services.chain.catch_up()
    log.services.chain.verify()
    _, checks = log.ready()
    assert checks["audit_chain"]["verified"]["ok"] is True
    target = log.chained // 2
    log.events.delete(target)
    log.services.chain.verify()
    status, checks = log.ready()
    assert status == 503
    verified = checks["audit_chain"]["verified"]
    assert datetime.fromisoformat(verified["at"]) == WALL
    assert verified["break"] == {**verified["break"], "position": target, "kind": "missing"}
    assert 'huying_audit_alarm_position{check="verify",kind="missing"}' in log.client.get("/metrics").text


def test_readyz_and_metrics_show_the_verdict_of_a_keeper_in_another_process(
    log: Log, clock: FakeClock
) -> None:
    """`huying serve` on SQLite keeps the chain in its child `huying project` (and a PostgreSQL
    deployment in a `huying project` of its own): the whole-log check it runs at start and every
    hour must reach the API's /readyz and /metrics, not stay in the keeper's log."""
    log.services.chain.catch_up()
    target = log.chained // 2
    log.events.delete(target)
    keeper = build_services(log.services.settings, clock)  # the process that keeps the chain
    try:
        keeper.chain.clock = FakeClock(start=WALL)
        assert keeper.chain.verify().broken is not None
    finally:
        keeper.close()
    status, checks = log.ready()
    assert status == 503, checks
    verified = checks["audit_chain"]["verified"]
    assert datetime.fromisoformat(verified["at"]) == WALL
    assert verified["break"] == {**verified["break"], "position": target, "kind": "missing"}
    metrics = log.client.get("/metrics").text
    assert f'huying_audit_alarm_position{{check="verify",kind="missing"}} {float(target)}' in metrics


@pytest.mark.parametrize(
    "claim",
    ["999999:" + "a" * 64, "3:" + "0" * 64],
    ids=["beyond the head", "a wrong link"],
)
def test_checkpoints_a_caller_gives_are_answered_but_do_not_raise_the_alarm(log: Log, claim: str) -> None:
    """A checkpoint given to verify is the caller's claim: the answer says whether the log
    matches it, but a made-up one (a typo, a fuzzer) must not put /readyz to 503 nor raise the
    tamper alarm in /metrics for everyone — nothing in this process would ever clear it."""
    log.services.chain.catch_up()
    assert log.verdict()["ok"] is True
    answer = log.get("/api/v1/audit/verify", checkpoint=claim)
    assert answer.status_code == 200, answer.text
    assert answer.json()["ok"] is False, "the caller learns the log does not match its checkpoint"
    status, checks = log.ready()
    assert status == 200, checks
    assert checks["audit_chain"]["verified"]["ok"] is True
    assert 'huying_audit_alarm{check="verify"} 0.0' in log.client.get("/metrics").text


# --- checkpoint times: one meaning (defect 6) -------------------------------------------------------


def test_checkpoint_times_are_wall_clock_time_in_the_api_and_the_cli(
    log: Log, clock: FakeClock, settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    log.services.chain.checkpoint_every = 3
    log.services.chain.catch_up()
    page = log.get("/api/v1/audit/checkpoints").json()
    assert {at(c) for c in page["data"]} == {WALL}
    assert at(page["head"]) == WALL, "the head, read now: the same clock"

    use_in_env(monkeypatch, settings)
    monkeypatch.setenv("HUYING_FAKE_CLOCK", "1")
    clock_file = settings.data_dir / "fake-clock.txt"
    clock_file.write_text(clock.now().isoformat())  # the CLI sees the same business time
    kept = tmp_path / "checkpoints.jsonl"
    assert CliRunner().invoke(cli, ["audit", "checkpoints", "--out", str(kept)]).exit_code == 0
    lines = [json.loads(line) for line in kept.read_text().splitlines()]
    assert [at(line) for line in lines[:-1]] == [at(c) for c in page["data"]]
    assert lines[-1]["head"] and at(lines[-1]) != clock.now(), "wall-clock time, not business time"


def at(checkpoint: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(checkpoint["at"])
