"""The authorisation matrix for directives (令行禁止) and joint meetings (联席会议), over HTTP:
every endpoint under /api/v1/directives and /api/v1/meetings, asked by every role from units
inside and outside the jurisdiction, answers exactly what the contract says.

The oracle is written here from docs/directives.md and docs/meetings.md: outside what a unit
may see → 404, not named by the table's ``who`` → 403, else 200/201. Only *which parties may
act* is read from each ``TABLE``; which parties an asker *is* and what it may see are worked out
here from unit codes alone, so a bug in huying's ``parties()`` or ``jurisdiction`` shows up.
Each move is tried in a state that allows it (the "allowed when" column is the gate's unit
tests' business). Refusals share one aggregate per state, checked untouched after; every
expected success gets a fresh one. One test per endpoint loops over the askers and reports
every mismatch at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from httpx import Response

from backends import Backend
from huying.domain import directive_transitions as directive_table
from huying.domain import meeting_transitions as meeting_table
from huying.domain.directive_transitions import Party as DirectiveParty
from huying.domain.meeting_transitions import Party as MeetingParty

from .matrix import Asker, ModuleHuying, check, judged, module_huying

MONDAY_MORNING = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
DIRECTIVES, MEETINGS = "/api/v1/directives", "/api/v1/meetings"
DISTRICT_WIDE = {"supervisor", "auditor", "admin"}

ASKERS = (
    Asker("grid_worker", "LW-LN-01-G01", "a grid of community LW-LN-01"),
    Asker("grid_worker", "LW-HL-01-G01", "a grid of another street"),
    Asker("community", "LW-LN-01", "a community of street LW-LN"),
    Asker("community", "LW-LN-02", "another community of street LW-LN"),
    Asker("community", "LW-HL-01", "a community of another street"),
    Asker("street", "LW-LN", "the street 岭南"),
    Asker("street", "LW-HL", "another street"),
    Asker("department", "CG", "a department"),
    Asker("department", "ZJ", "another department"),
    Asker("member", "LW-LN-M01", "a member unit of LW-LN's 大工委"),
    Asker("member", "LW-LN-M02", "another member unit of LW-LN's 大工委"),
    Asker("supervisor", "LW", "district"),
    Asker("auditor", "LW", "district"),
    Asker("admin", "LW", "district"),
)
ROLE_OF = {a.unit: a.role for a in ASKERS if a.role not in DISTRICT_WIDE}


# --- the oracle, from the contract ------------------------------------------------------------


def at_or_below(unit: str, above: str) -> bool:
    """Unit codes name their parents (LW-LN-01-G01 in LW-LN-01 in LW-LN; members too)."""
    return unit == above or unit.startswith(above + "-")


def reads_unit(asker: Asker, unit: str) -> bool:
    """A unit's own affairs and those below it (a grid worker: its community's); a department
    or member unit: its own; the district-wide roles: all."""
    if asker.role in DISTRICT_WIDE:
        return True
    if asker.role in {"department", "member"}:
        return unit == asker.unit
    home = asker.unit.rsplit("-", 1)[0] if asker.role == "grid_worker" else asker.unit
    return at_or_below(unit, home)


@dataclass(frozen=True)
class Addressed:
    """A directive of the matrix: who issues it, to whom, and the target the moves act on."""

    name: str
    issuer: Asker
    targets: tuple[str, ...]

    @property
    def target(self) -> str:
        return self.targets[0]

    def seen_by(self, asker: Asker) -> bool:
        """docs/directives.md: what it issued, what targets it, what is below it; a member
        unit only the tasks it is a target of."""
        if asker.role == "member":
            return asker.unit in self.targets
        return any(reads_unit(asker, u) for u in (self.issuer.unit, *self.targets))

    def parties(self, asker: Asker) -> set[directive_table.Party]:
        found = set()
        if asker.who == self.issuer.who:
            found.add(DirectiveParty.ISSUER)
        if asker.unit == self.target and asker.role not in DISTRICT_WIDE | {"grid_worker"}:
            found.add(DirectiveParty.TARGET)
        if asker.role == "supervisor":
            found.add(DirectiveParty.SUPERVISOR)
        return found


PLACES = (
    Addressed("street-to-community", Asker("street", "LW-LN", "issuer"), ("LW-LN-01",)),
    Addressed("district-to-department", Asker("supervisor", "LW", "issuer"), ("CG", "LW-HL")),
    # a joint meeting's decision: LW-LN's 大工委 makes member LW-LN-M01 lead and CG assist
    Addressed("meeting-task-to-member", Asker("street", "LW-LN", "convener"), ("LW-LN-M01", "CG")),
)

D = directive_table.Action
STATE_FOR = {  # a state in which each move is allowed
    D.RECEIVE: "issued",
    D.SUPERVISE: "issued",
    D.CANCEL: "issued",
    D.PROGRESS: "received",
    D.REPORT: "received",
    D.REQUEST_EXTENSION: "received",
    D.ACCEPT: "reported",
    D.SEND_BACK: "reported",
    D.GRANT_EXTENSION: "extension-pending",
    D.DENY_EXTENSION: "extension-pending",
}


def expected_move(asker: Asker, place: Addressed, action: directive_table.Action) -> int:
    if not place.seen_by(asker):
        return 404
    return 200 if directive_table.TABLE[action].who & place.parties(asker) else 403


CONVENER = Asker("street", "LW-LN", "the convener")
INVITED = ("LW-LN-M01", "LW-LN-01", "CG")


# --- the module's huying ----------------------------------------------------------------------


class World:
    """The module's huying, with one untouched directive (meeting) per place and state for
    the refusals to share."""

    def __init__(self, h: ModuleHuying) -> None:
        self.h = h
        self._shared: dict[tuple[str, str], dict[str, Any]] = {}
        self._keys = 0

    def post(self, asker: Asker, path: str, body: dict[str, Any] | None = None) -> Response:
        self._keys += 1
        headers = self.h.tokens.headers(*asker.who, key=f"matrix-{self._keys}")
        return self.h.client.post(path, json=body, headers=headers)

    def get(self, asker: Asker, path: str) -> Response:
        return self.h.client.get(path, headers=self.h.tokens.headers(*asker.who))

    def made(self, asker: Asker, path: str, body: dict[str, Any] | None, status: int = 200) -> Any:
        response = self.post(asker, path, body)
        assert response.status_code == status, f"setting up: POST {path} as {asker}: {response.text}"
        return response.json()

    def later(self, days: int) -> str:
        return (self.h.clock.now() + timedelta(days=days)).isoformat()

    # directives

    def directive(self, place: Addressed, state: str, *, fresh: bool) -> dict[str, Any]:
        if fresh:
            return self._drive_directive(place, state)
        if (place.name, state) not in self._shared:
            self._shared[place.name, state] = self._drive_directive(place, state)
        return self._shared[place.name, state]

    def _drive_directive(self, place: Addressed, state: str) -> dict[str, Any]:
        if place.name == "meeting-task-to-member":
            meeting = self._drive_meeting("held")
            decided = self.made(place.issuer, f"{MEETINGS}/{meeting['id']}/decisions", self.decision())
            d = self.h.client.get(
                f"{DIRECTIVES}/{decided['decisions'][0]['task_id']}",
                headers=self.h.tokens.headers("admin", "LW"),
            ).json()
        else:
            body = {"title": "消防通道清理", "targets": list(place.targets), "working_days": 5}
            d = self.made(place.issuer, DIRECTIVES, body, 201)
        target = Asker(ROLE_OF[place.target], place.target, "the target")
        on = f"{DIRECTIVES}/{d['id']}/targets/{place.target}"
        if state != "issued":
            d = self.made(target, f"{on}/receive", None)
        if state == "reported":
            d = self.made(target, f"{on}/report", {"result": "已办结"})
        if state == "extension-pending":
            d = self.made(target, f"{on}/request-extension", self.extension(d, place))
        return d

    def extension(self, d: dict[str, Any], place: Addressed) -> dict[str, Any]:
        due = next(t["due"] for t in d["targets"] if t["unit"] == place.target)
        until = datetime.fromisoformat(due.replace("Z", "+00:00")) + timedelta(days=2)
        return {"until": until.isoformat(), "reason": "需协调"}

    def directive_body(self, action: directive_table.Action, d: dict[str, Any], place: Addressed) -> Any:
        match action:
            case D.PROGRESS:
                return {"note": "正在处理"}
            case D.REPORT:
                return {"result": "已办结"}
            case D.REQUEST_EXTENSION:
                return self.extension(d, place)
            case D.RECEIVE | D.ACCEPT | D.GRANT_EXTENSION:
                return None
        return {"reason": "依规办理"}

    def last_event_is(self, asker: Asker, path: str, event: str) -> None:
        """A move that succeeded recorded its event, by the asker."""
        last = self.get(asker, f"{path}/history").json()["data"][-1]
        assert (last["type"], last["actor"]) == (event, {"role": asker.role, "unit": asker.unit})

    def untouched(self, kind: str, path: str, shared: dict[str, Any]) -> None:
        now = self.get(Asker("admin", "LW", ""), f"{path}/{shared['id']}").json()
        assert now["version"] == shared["version"], f"a refusal on the shared {kind} wrote an event"

    # meetings

    def decision(self) -> dict[str, Any]:
        return {
            "title": "占道经营整治",
            "lead_unit": "LW-LN-M01",
            "assisting_units": ["CG"],
            "responsible": {"name": "王五", "post": "副主任"},
            "deadline": self.later(20),
        }

    def meeting(self, state: str, *, fresh: bool) -> dict[str, Any]:
        if fresh:
            return self._drive_meeting(state)
        if ("meeting", state) not in self._shared:
            self._shared["meeting", state] = self._drive_meeting(state)
        return self._shared["meeting", state]

    def _drive_meeting(self, state: str) -> dict[str, Any]:
        m = self.made(CONVENER, MEETINGS, self.convening(), 201)
        if state == "held":
            minutes = {"attended": ["LW-LN", "LW-LN-M01", "CG"], "discussion": "议定"}
            m = self.made(CONVENER, f"{MEETINGS}/{m['id']}/minutes", minutes)
        return m

    def convening(self, invited: tuple[str, ...] = INVITED) -> dict[str, Any]:
        return {
            "kind": "other",
            "title": "联席会议",
            "scheduled_for": self.later(2),
            "invited": list(invited),
        }

    def meeting_body(self, action: meeting_table.Action, call_id: str) -> dict[str, Any] | None:
        match action:
            case M.PROPOSE:
                return {"title": "议题"}
            case M.TABLE_CALL:
                return {"call_id": call_id}
            case M.RECORD_MINUTES:
                return {"attended": [CONVENER.unit], "discussion": "讨论"}
            case M.DECIDE:
                return self.decision()
            case M.CANCEL:
                return {"reason": "改期"}
        return None

    def held_call(self) -> str:
        """A call its community (LW-LN-01) holds, in hand."""
        body = {
            "item_code": "C01-01",
            "grid_code": "LW-LN-01-G01",
            "title": "难题",
            "description": "清运责任不清",
            "channel": "grid_worker",
        }
        call = self.made(Asker("grid_worker", "LW-LN-01-G01", ""), "/api/v1/calls", body, 201)
        self.made(Asker("community", "LW-LN-01", ""), f"/api/v1/calls/{call['id']}/acknowledge", None)
        return str(call["id"])


@pytest.fixture(scope="module")
def world(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with module_huying(backend, tmp_path_factory, MONDAY_MORNING) as h:
        yield World(h)


# --- directives -------------------------------------------------------------------------------


@pytest.mark.parametrize("action", list(STATE_FOR), ids=str)
@pytest.mark.parametrize("place", PLACES, ids=lambda p: p.name)
def test_each_move_on_a_directive(world: World, place: Addressed, action: directive_table.Action) -> None:
    state, mismatches = STATE_FOR[action], []
    for asker in ASKERS:
        expected = expected_move(asker, place, action)
        d = world.directive(place, state, fresh=expected == 200)
        path = (
            f"{DIRECTIVES}/{d['id']}/cancel"
            if action is D.CANCEL
            else f"{DIRECTIVES}/{d['id']}/targets/{place.target}/{action.value}"
        )
        response = world.post(asker, path, world.directive_body(action, d, place))
        mismatches.append(judged(asker, f"{action.value} on a {state} target", response, expected))
        if expected == 200 and response.status_code == 200:
            world.last_event_is(asker, f"{DIRECTIVES}/{d['id']}", directive_table.TABLE[action].event)
    check(mismatches)
    world.untouched("directive", DIRECTIVES, world.directive(place, state, fresh=False))


@pytest.mark.parametrize("place", PLACES, ids=lambda p: p.name)
def test_each_read_of_a_directive(world: World, place: Addressed) -> None:
    d = world.directive(place, "issued", fresh=False)
    base, mismatches = f"{DIRECTIVES}/{d['id']}", []
    for asker in ASKERS:
        sees = 200 if place.seen_by(asker) else 404
        for path in (base, f"{base}/history", f"{base}/board?min_position={d['position']}"):
            mismatches.append(judged(asker, f"GET {path}", world.get(asker, path), sees))
        listed = world.get(asker, f"{DIRECTIVES}?min_position={d['position']}&limit=500").json()["data"]
        if (d["id"] in {x["id"] for x in listed}) != (sees == 200):
            mismatches.append(f"{asker}: the list {'lacks' if sees == 200 else 'shows'} the directive")
        for unit, side in ((place.target, "target"), (place.issuer.unit, "issuer")):
            readable = 200 if reads_unit(asker, unit) else 404
            for path in (
                f"{DIRECTIVES}/pending?unit={unit}&side={side}",
                f"{DIRECTIVES}/figures?unit={unit}",
            ):
                mismatches.append(judged(asker, f"GET {path}", world.get(asker, path), readable))
    check(mismatches)


def test_who_may_issue_a_directive_to_a_community(world: World) -> None:
    """A supervisor directs any street, community or department; a street its own communities
    (another unit is a wrong target: 422 naming it); a community issues only a meeting's tasks
    (so no target is its to name here); the other roles issue nothing (403), whatever the body."""
    mismatches: list[str | None] = []
    for asker in ASKERS:
        if asker.role == "supervisor" or asker.who == ("street", "LW-LN"):
            expected = 201
        else:
            expected = 422 if asker.role in {"street", "community"} else 403
        body = {"title": "整治", "targets": ["LW-LN-01"], "working_days": 3}
        mismatches.append(judged(asker, "issue to LW-LN-01", world.post(asker, DIRECTIVES, body), expected))
    check(mismatches)


# --- meetings ---------------------------------------------------------------------------------

M = meeting_table.Action
MEETING_STATE_FOR = {
    M.PROPOSE: "convened",
    M.TABLE_CALL: "convened",
    M.RECORD_MINUTES: "convened",
    M.CANCEL: "convened",
    M.DECIDE: "held",
    M.CLOSE: "held",
}
MEETING_PATH = {
    M.PROPOSE: "agenda/proposals",
    M.TABLE_CALL: "agenda/calls",
    M.RECORD_MINUTES: "minutes",
    M.DECIDE: "decisions",
    M.CLOSE: "close",
    M.CANCEL: "cancel",
}


def sees_meeting(asker: Asker) -> bool:
    """docs/meetings.md: the district; the convener and the units above it; the streets and
    communities below it (they bring matters to it); every invited unit."""
    if asker.role in DISTRICT_WIDE or asker.unit in INVITED:
        return True
    if asker.role not in {"street", "community"}:
        return False
    return at_or_below(CONVENER.unit, asker.unit) or at_or_below(asker.unit, CONVENER.unit)


def meeting_parties(asker: Asker) -> set[meeting_table.Party]:
    found = set()
    if asker.who == CONVENER.who:
        found.add(MeetingParty.CONVENER)
    if asker.role in {"street", "community"} and at_or_below(asker.unit, CONVENER.unit):
        found.add(MeetingParty.SUBMITTER)
    if asker.unit in INVITED:
        found.add(MeetingParty.INVITEE)
    return found


def sees_the_call(asker: Asker) -> bool:
    """The tabled call is raised in grid LW-LN-01-G01 and held by its community (api.md)."""
    if asker.role in DISTRICT_WIDE:
        return True
    if asker.role == "grid_worker":
        return asker.unit.startswith("LW-LN-01-")
    return asker.role in {"community", "street"} and at_or_below("LW-LN-01", asker.unit)


def expected_meeting_move(asker: Asker, action: meeting_table.Action) -> int:
    if not sees_meeting(asker):
        return 404
    if not meeting_table.TABLE[action].who & meeting_parties(asker):
        return 403
    if action is M.TABLE_CALL:  # and the call's own table: only its holder puts it on an agenda
        if not sees_the_call(asker):
            return 404
        return 200 if asker.who == ("community", "LW-LN-01") else 403
    return 200


@pytest.mark.parametrize("action", list(MEETING_STATE_FOR), ids=str)
def test_each_move_on_a_meeting(world: World, action: meeting_table.Action) -> None:
    state, mismatches = MEETING_STATE_FOR[action], []
    call_id = world.held_call()
    for asker in ASKERS:
        expected = expected_meeting_move(asker, action)
        m = world.meeting(state, fresh=expected == 200)
        body = world.meeting_body(action, call_id)
        response = world.post(asker, f"{MEETINGS}/{m['id']}/{MEETING_PATH[action]}", body)
        mismatches.append(judged(asker, f"{action.value} on a {state} meeting", response, expected))
        if expected == 200 and response.status_code == 200:
            world.last_event_is(asker, f"{MEETINGS}/{m['id']}", meeting_table.TABLE[action].event)
    check(mismatches)
    world.untouched("meeting", MEETINGS, world.meeting(state, fresh=False))


def test_each_read_of_a_meeting(world: World) -> None:
    m = world.meeting("convened", fresh=False)
    base, mismatches = f"{MEETINGS}/{m['id']}", []
    for asker in ASKERS:
        sees = 200 if sees_meeting(asker) else 404
        for path in (base, f"{base}/history"):
            mismatches.append(judged(asker, f"GET {path}", world.get(asker, path), sees))
        listing = world.get(asker, f"{MEETINGS}?unit={CONVENER.unit}&min_position={m['position']}")
        mismatches.append(judged(asker, "GET the convener's meetings", listing, 200))
        if listing.is_success and (m["id"] in {x["id"] for x in listing.json()["data"]}) != (sees == 200):
            mismatches.append(
                f"{asker}: the convener's list {'lacks' if sees == 200 else 'shows'} the meeting"
            )
    check(mismatches)


def test_who_may_convene(world: World) -> None:
    """Any street or community convenes (a joint meeting of its own); no one else."""
    mismatches: list[str | None] = []
    for asker in ASKERS:
        expected = 201 if asker.role in {"street", "community"} else 403
        response = world.post(asker, MEETINGS, world.convening(("CG",)))
        mismatches.append(judged(asker, "convene", response, expected))
    check(mismatches)
