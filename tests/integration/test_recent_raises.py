"""重复提示 from the recent raises kept in memory (``projections.recent``): the same answers as the
read models give (``duplicates.at_raise``), and given at once — a new call is told its
possible duplicates without waiting for the projector."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from httpx import Client

from backends import Backend
from huying.api.app import create_app
from huying.api.schemas.calls import DuplicateHint
from huying.bootstrap import Services, build_services
from huying.clock import FakeClock
from huying.domain.principal import Principal, Role
from huying.migrate import upgrade
from huying.projections.recent import RecentRaises
from huying.queries.duplicates import LATER_BY, Subject, at_raise
from huying.queries.warming import warm
from huying.service_layer.calls import CallDraft, Outcome
from huying.service_layer.command_path import Submission

COMMUNITIES = {"LW-LN-01": ["LW-LN-01-G01", "LW-LN-01-G02"], "LW-LN-02": ["LW-LN-02-G01"]}
ITEMS = ["C01-01", "C02-01"]
BASE = (23.1180, 113.2520)
VIEWERS = [
    Principal(Role.SUPERVISOR, "LW"),
    Principal(Role.COMMUNITY, "LW-LN-01"),
    Principal(Role.STREET, "LW-LN"),
    Principal(Role.GRID_WORKER, "LW-LN-02-G01"),
]


class District:
    """Random raises, withdrawals, mergers and closings over three grids, two items and ten
    days of business time, some located within a few hundred metres of each other."""

    def __init__(self, services: Services, clock: FakeClock, seed: int) -> None:
        self.services, self.clock, self.rng = services, clock, random.Random(seed)
        self.raised: list[Outcome] = []

    def raise_some(self, n: int) -> None:
        app, rng = self.services.calls, self.rng
        for _ in range(n):
            self.clock.advance(rng.choice([60, 600, 3600, 6 * 3600]))
            community = rng.choice(sorted(COMMUNITIES))
            grid = rng.choice(COMMUNITIES[community])
            located = rng.random() < 0.6
            where = {"lat": BASE[0] + rng.uniform(-0.003, 0.003), "lon": BASE[1]} if located else None
            draft = CallDraft(
                rng.choice(ITEMS), grid, f"第{len(self.raised)}号", "巷口", "hotline", location=where
            )
            self.raised.append(app.raise_call(Principal(Role.SUPERVISOR, "LW"), draft, Submission()))
            if rng.random() < 0.3:
                self.finish(rng.choice(self.raised).call.id)

    def finish(self, call_id: UUID) -> None:
        app = self.services.calls
        call = app.current(call_id)
        assert call is not None
        holder = Principal(Role.COMMUNITY, call.community_code)
        if call.status.value not in ("awaiting_response", "in_progress"):
            return
        if self.rng.random() < 0.5:
            app.withdraw(holder, call_id, Submission(), "居民已自行处理")
        else:
            open_ones = [
                o.call
                for o in self.raised
                if o.call.id != call_id and o.call.community_code == call.community_code
            ]
            target = app.current(self.rng.choice(open_ones).id) if open_ones else None
            if target is None or target.status.value in ("closed", "withdrawn", "merged"):
                return
            app.merge(holder, call_id, Submission(), target.id, "同一事项")

    def read_models_answer(self, viewer: Principal, outcome: Outcome) -> list[dict[str, Any]]:
        s, call = self.services, outcome.call
        subject = Subject.of(str(call.id), call.item_code, call.grid_code, call.location)
        with s.engine.connect() as conn:
            return at_raise(conn, viewer, s.app.org, subject, s.recent.rule, call.raised_at, outcome.position)

    def memory_answer(self, recent: RecentRaises, viewer: Principal, outcome: Outcome) -> Any:
        call = outcome.call
        subject = Subject.of(str(call.id), call.item_code, call.grid_code, call.location)
        return recent.at_raise(viewer, subject, call.raised_at, outcome.position)


def shown(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What an answer shows of the hints."""
    return [DuplicateHint(id=r["call_id"], **r).model_dump() for r in rows]


def answered_alike(district: District, recent: RecentRaises, outcomes: list[Outcome]) -> int:
    answered = 0
    for outcome in outcomes:
        for viewer in VIEWERS:
            memory = district.memory_answer(recent, viewer, outcome)
            if memory is not None:
                answered += 1
                assert shown(memory) == shown(district.read_models_answer(viewer, outcome)), (viewer, outcome)
    return answered


def primed(services: Services, clock: FakeClock) -> RecentRaises:
    """Recent raises loaded now: they load at their first question, and answer only for raises
    after what they loaded."""
    recent = RecentRaises(services.app, services.engine, services.recent.rule)
    nowhere = Subject("", ITEMS[0], "LW-LN-01-G01")
    assert recent.at_raise(VIEWERS[0], nowhere, clock.now(), services.projector.tracked_position()) is None
    return recent


@pytest.mark.parametrize("seed", [1, 2])
def test_the_recent_raises_answer_as_the_read_models_do(
    services: Services, clock: FakeClock, seed: int
) -> None:
    district = District(services, clock, seed)
    from_the_start = primed(services, clock)
    district.raise_some(60)
    services.projector.catch_up()
    loaded_midway = primed(services, clock)
    assert district.memory_answer(loaded_midway, VIEWERS[0], district.raised[-1]) is None, "before it loaded"
    district.raise_some(60)
    services.projector.catch_up()

    assert answered_alike(district, from_the_start, district.raised) == 120 * len(VIEWERS)
    assert answered_alike(district, loaded_midway, district.raised[60:]) == 60 * len(VIEWERS)
    hinted = [h for o in district.raised if (h := district.read_models_answer(VIEWERS[0], o))]
    assert len(hinted) > 20, "the comparison saw hints, not only empty lists"
    department = Principal(Role.DEPARTMENT, "D-CG")
    assert district.memory_answer(from_the_start, department, district.raised[-1]) is None


def test_this_process_takes_its_own_saves_as_saved_and_reads_only_the_others_from_the_log(
    services: Services, elsewhere: Services, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A serving process's recent raises take what it saved itself as it saved it, and read
    from the log only the positions another process wrote between: the answers stay the read
    models'."""
    recent = services.recent
    nowhere = Subject("", ITEMS[0], "LW-LN-01-G01")
    assert recent.at_raise(VIEWERS[0], nowhere, clock.now(), services.projector.tracked_position()) is None
    here, there = District(services, clock, 4), District(elsewhere, clock, 5)
    read: list[int] = []
    recorder = services.app.recorder
    select = recorder.select_notifications

    def reading(*args: Any, **kwargs: Any) -> Any:
        found = select(*args, **kwargs)
        read.extend(n.id for n in found)
        return found

    monkeypatch.setattr(recorder, "select_notifications", reading)
    rng = random.Random(6)
    answers: dict[int, list[Any]] = {}  # by position: each viewer's answer to a raise made here
    for _ in range(16):
        asked = len(here.raised)
        (here if rng.random() < 0.5 else there).raise_some(rng.randint(1, 4))
        for outcome in here.raised[asked:]:
            answers[outcome.position] = [here.memory_answer(recent, v, outcome) for v in VIEWERS]

    ours = {o.position for o in here.raised}
    theirs = {o.position for o in there.raised if o.position < max(ours)}
    assert len(ours) > 10 and len(theirs) > 10
    assert not ours & set(read), "a raise this process saved was read back from the log"
    assert theirs <= set(read), "another process's raise was not read from the log"
    assert sum(bool(a[0]) for a in answers.values()) > 5, "the comparison saw hints, not only empty lists"
    services.projector.catch_up()
    for outcome in here.raised:
        for viewer, memory in zip(VIEWERS, answers[outcome.position], strict=True):
            assert memory is not None
            assert shown(memory) == shown(here.read_models_answer(viewer, outcome)), (viewer, outcome)


def test_a_serving_process_loads_them_before_its_first_request(services: Services, clock: FakeClock) -> None:
    """``huying serve``'s warm-up (``queries.warming``) loads the recent raises and reads the
    log to its head: the next raises are answered from memory without reading anything — what a
    raise on the event loop asks (``reading=False``). Not warmed, the first raise cannot be."""
    district = District(services, clock, seed=8)
    district.raise_some(30)
    services.projector.catch_up()
    district.raise_some(3)  # the log ahead of the read models, read by the warm-up
    cold = RecentRaises(services.app, services.engine, services.recent.rule)
    warmed = services.recent
    warmed_up = warm(services)
    assert 0 < warmed_up.recent_calls <= len(district.raised)

    asked = len(district.raised)
    district.raise_some(8)  # this process's saves, as a serving process takes them
    services.projector.catch_up()
    first = district.raised[asked]
    subject = Subject.of(str(first.call.id), first.call.item_code, first.call.grid_code, first.call.location)
    assert cold.at_raise(VIEWERS[0], subject, first.call.raised_at, first.position, reading=False) is None
    answered = 0
    for outcome in district.raised[asked:]:
        call = outcome.call
        subject = Subject.of(str(call.id), call.item_code, call.grid_code, call.location)
        for viewer in VIEWERS:
            memory = warmed.at_raise(viewer, subject, call.raised_at, outcome.position, reading=False)
            assert memory is not None, (viewer, outcome)
            assert shown(memory) == shown(district.read_models_answer(viewer, outcome))
            answered += bool(memory)
    assert answered > 0, "the comparison saw hints, not only empty lists"


@pytest.fixture
def no_projector(backend: Backend, tmp_path: Path, clock: FakeClock) -> Iterator[Client]:
    settings = backend.settings(tmp_path / "var", run_watchdog=False, run_projector=False)
    upgrade(settings)
    services = build_services(settings, clock)
    try:
        with TestClient(create_app(services=services)) as client:
            yield client
    finally:
        services.close()


def test_a_new_call_is_told_its_duplicates_though_no_projector_runs(no_projector: Client) -> None:
    from huying.demo import principal_for_token

    services: Services = no_projector.app.state.services  # type: ignore[attr-defined]
    _, token = services.tokens.create(principal_for_token(services.app.org, "supervisor", "LW"))
    headers = {"Authorization": f"Bearer {token}"}
    body = {
        "item_code": "C01-01",
        "grid_code": "LW-LN-01-G01",
        "title": "垃圾",
        "description": "巷口",
        "channel": "hotline",
    }
    first = no_projector.post("/api/v1/calls", json=body, headers=headers)
    second = no_projector.post("/api/v1/calls", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert [h["id"] for h in second.json()["possible_duplicates"]] == [first.json()["id"]]
    assert services.projector.position() == 0, "the read models never moved"


def test_far_behind_the_log_they_load_again_rather_than_read_it_all(
    services: Services, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huying.projections import recent as module

    monkeypatch.setattr(module, "_FAR_BEHIND", 10)
    district = District(services, clock, seed=3)
    lagging = primed(services, clock)
    district.raise_some(20)  # more than 10 positions it has not read
    services.projector.catch_up()
    assert district.memory_answer(lagging, VIEWERS[0], district.raised[-1]) is None, (
        "loaded again, at the end"
    )
    district.raise_some(5)
    services.projector.catch_up()
    assert answered_alike(district, lagging, district.raised[-5:]) == 5 * len(VIEWERS)


def test_a_call_stored_first_but_stamped_later_is_a_hint_within_the_hour(
    services: Services, clock: FakeClock
) -> None:
    """Workers take a command's time and then commit in whatever order they finish: a report
    stored first may carry the later time. Within ``LATER_BY`` it is still a hint of the call
    stored after it; beyond, it is not — and the recent raises and the read models agree."""
    district = District(services, clock, 3)
    recent = primed(services, clock)
    supervisor = VIEWERS[0]

    def raised_at(seconds_back: float) -> Outcome:
        clock.set(clock.now() - timedelta(seconds=seconds_back))
        draft = CallDraft(ITEMS[0], "LW-LN-01-G01", "垃圾", "巷口", "hotline")
        outcome = services.calls.raise_call(supervisor, draft, Submission())
        district.raised.append(outcome)
        return outcome

    stamped_later = raised_at(0)
    stored_after = raised_at(30)  # stamped 30 s before the call stored ahead of it
    clock.advance(86_400)
    far_ahead = raised_at(0)
    stored_much_after = raised_at((LATER_BY + timedelta(minutes=1)).total_seconds())
    services.projector.catch_up()

    def hints(outcome: Outcome) -> list[str]:
        return [h["call_id"] for h in district.read_models_answer(supervisor, outcome)]

    assert str(stamped_later.call.id) in hints(stored_after)
    assert str(far_ahead.call.id) not in hints(stored_much_after)
    assert answered_alike(district, recent, district.raised) == 4 * len(VIEWERS)
