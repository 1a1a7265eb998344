"""The call search (``GET /api/v1/calls``) finds what a new user asked it for: free text in
Chinese, a raised-date range, channel and urgency, and what a street has to decide — calls ready
to resolve, extension requests, returned orders — and says what is wrong with a bad filter.

Calls, raised on Monday 23 November 2026 (Guangzhou) unless said otherwise, all in street LW-LN
except R5:

  R1  LW-LN-01  "垃圾桶满溢" / "小区东门垃圾堆放无人清运"   photo, normal
  R2  LW-LN-01  "路灯不亮" / "LED路灯整夜熄灭，行人摔倒"     hotline, urgent
  R3  LW-LN-02  "噪音扰民" / "工地夜间施工"                 walk_in, normal; raised Tue 24th
  R4  LW-LN-02  "井盖松动" / "井盖一侧翘起，有垃圾"         grid_worker, emergency; raised Wed 25th
  R5  LW-HL-01  "垃圾" / "垃圾"                             photo, normal (another street)

Then R1, R2 and R4 are escalated and dispatched to CG (R2 with ZJ assisting): CG completes R1
(ready to resolve), asks an extension on R2 (pending), and returns R4 (退单); ZJ returns its
assisting order on R2.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import pytest
from httpx import Client
from sqlalchemy import event, select

from backends import Backend
from conftest import MONDAY_MORNING
from conftest import Tokens as IssuedTokens
from deployment_templates import Templates, module_services
from huying.api.app import create_app
from huying.bootstrap import Services
from huying.clock import FakeClock
from huying.projections.tables import rm_calls
from huying.projections.text import LIKE, by_text, searched, terms, text_index, words
from in_loop import in_loop

STREET = ("street", "LW-LN")
SUPERVISOR = ("supervisor", "LW")
CALLS = "/api/v1/calls"


class Tokens(Protocol):
    def headers(self, role: str, unit: str, key: str | None = None, **extra: str) -> dict[str, str]: ...


class Desk:
    def __init__(self, client: Client, tokens: Tokens, clock: FakeClock) -> None:
        self.client, self.tokens, self.clock = client, tokens, clock
        self.position = 0
        self.ids: dict[str, str] = {}

    def post(self, path: str, who: tuple[str, str], body: dict[str, Any] | None = None) -> dict[str, Any]:
        r = self.client.post(path, json=body, headers=self.tokens.headers(*who))
        assert r.status_code in (200, 201), r.text
        answer: dict[str, Any] = r.json()
        self.position = max(self.position, answer["position"])
        return answer

    def raise_call(self, name: str, grid: str, title: str, description: str, **more: str) -> None:
        body = {"item_code": "C01-01", "grid_code": grid, "title": title, "description": description, **more}
        self.ids[name] = self.post(CALLS, ("grid_worker", grid), body)["id"]

    def to_department(self, name: str, community: str, *assist: str) -> None:
        self.clock.advance(600)
        self.post(f"{CALLS}/{self.ids[name]}/escalate", ("community", community), {"reason": "上呼"})
        self.post(f"{CALLS}/{self.ids[name]}/acknowledge", STREET)
        body = {"lead_department": "CG", "assisting_departments": list(assist), "instructions": "处理"}
        self.post(f"{CALLS}/{self.ids[name]}/dispatch", STREET, body)

    def order(
        self, name: str, n: int, department: str, action: str, body: dict[str, Any] | None = None
    ) -> None:
        self.clock.advance(60)
        self.post(f"/api/v1/work-orders/{self.ids[name]}-w{n}/{action}", ("department", department), body)

    def read(self, path: str, who: tuple[str, str] = SUPERVISOR, **params: str) -> dict[str, Any]:
        """A read that must succeed. A read model waits for the last write; a call's own state
        is read from the event store and takes no ``min_position``."""
        if not path.startswith(f"{CALLS}/"):
            params["min_position"] = str(self.position)
        r = self.client.get(path, params=params, headers=self.tokens.headers(*who))
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def get(self, path: str, who: tuple[str, str] = SUPERVISOR, **params: str) -> tuple[int, dict[str, Any]]:
        r = self.client.get(
            path, params={**params, "min_position": str(self.position)}, headers=self.tokens.headers(*who)
        )
        return r.status_code, r.json()

    def found(self, who: tuple[str, str] = SUPERVISOR, **params: str) -> set[str]:
        status, body = self.get(CALLS, who, **params)
        assert status == 200, body
        names = {v: k for k, v in self.ids.items()}
        return {names[c["id"]] for c in body["data"]}


# Each call's title and description as the search sees them (a word must occur in one of them).
TEXTS = {
    name: [" ".join(words(title)), " ".join(words(description))]
    for name, title, description in (
        ("R1", "垃圾桶满溢", "小区东门垃圾堆放无人清运"),
        ("R2", "路灯不亮", "LED路灯整夜熄灭，行人摔倒"),
        ("R3", "噪音扰民", "工地夜间施工"),
        ("R4", "井盖松动", "井盖一侧翘起，有垃圾"),
        ("R5", "垃圾", "垃圾"),
    )
}


def at_the_desk(client: Client, tokens: Tokens, clock: FakeClock) -> Desk:
    d = Desk(client, tokens, clock)
    clock.set(datetime(2026, 11, 23, 1, 0, tzinfo=UTC))  # Mon 09:00 in Guangzhou
    d.raise_call("R1", "LW-LN-01-G01", "垃圾桶满溢", "小区东门垃圾堆放无人清运", channel="photo")
    d.raise_call(
        "R2", "LW-LN-01-G02", "路灯不亮", "LED路灯整夜熄灭，行人摔倒", channel="hotline", urgency="urgent"
    )
    d.raise_call("R5", "LW-HL-01-G01", "垃圾", "垃圾", channel="photo")
    clock.set(datetime(2026, 11, 24, 1, 0, tzinfo=UTC))
    d.raise_call("R3", "LW-LN-02-G01", "噪音扰民", "工地夜间施工", channel="walk_in")
    clock.set(datetime(2026, 11, 25, 1, 0, tzinfo=UTC))
    d.raise_call(
        "R4", "LW-LN-02-G02", "井盖松动", "井盖一侧翘起，有垃圾", channel="grid_worker", urgency="emergency"
    )
    d.to_department("R1", "LW-LN-01")
    d.to_department("R2", "LW-LN-01", "ZJ")
    d.to_department("R4", "LW-LN-02")
    d.order("R1", 1, "CG", "sign")
    d.order("R1", 1, "CG", "complete", {"result": "已清运"})
    d.order("R2", 1, "CG", "sign")
    until = (clock.now() + timedelta(days=10)).isoformat()
    d.order("R2", 1, "CG", "request-extension", {"until": until, "reason": "需采购灯具"})
    d.order("R2", 2, "ZJ", "return", {"reason": "不属本部门职责"})
    d.order("R4", 1, "CG", "return", {"reason": "不属本部门职责"})
    return d


@pytest.fixture
def own_desk(client: Client, tokens: Tokens, clock: FakeClock) -> Desk:
    """The calls on the test's own deployment, for a test that writes to it."""
    return at_the_desk(client, tokens, clock)


@pytest.fixture(scope="module")
def shared_services(
    backend: Backend, templates: Templates, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Services]:
    """A deployment of the module's own, for ``desk``."""
    data_dir = tmp_path_factory.mktemp("search") / "var"
    with module_services(
        backend, templates, data_dir, FakeClock(start=MONDAY_MORNING), run_watchdog=False
    ) as services:
        yield services


@pytest.fixture(scope="module")
def desk(shared_services: Services) -> Iterator[Desk]:
    """The calls, raised once per backend: the tests that share them only read them (GETs, no
    clock moved), so none can change what another sees; a test that writes has an ``own_desk``."""
    clock = shared_services.clock
    assert isinstance(clock, FakeClock)
    with in_loop(create_app(services=shared_services)) as client:
        yield at_the_desk(client, IssuedTokens(shared_services), clock)


# --- free text ------------------------------------------------------------------------------


def test_free_text_finds_chinese_words_without_spaces(desk: Desk) -> None:
    assert desk.found(q="垃圾") == {"R1", "R4", "R5"}  # title, description, both
    assert desk.found(q="垃圾堆放") == {"R1"}  # a longer word is matched whole, not pair by pair
    assert desk.found(q="堆垃圾") == set()  # its pairs are in R1 (垃圾, 堆放…) but not this word
    assert desk.found(q="灯") == {"R2"}  # one character
    assert desk.found(q="井盖 垃圾") == {"R4"}  # every word must occur
    assert desk.found(q="井盖，垃圾") == {"R4"}  # punctuation separates words too
    assert desk.found(q="ｌｅｄ路灯") == {"R2"}  # full-width and case do not matter
    assert desk.found(q="垃圾", unit="LW-LN") == {"R1", "R4"}  # with the other filters
    assert desk.found(STREET, q="垃圾") == {"R1", "R4"}  # and never beyond the jurisdiction
    assert desk.found(q="电梯") == set()


def test_a_calls_text_is_written_when_it_is_raised_and_never_again(
    own_desk: Desk, services: Services
) -> None:
    """Only the raise gives a call its words, so the projector writes its search text once: a
    later event of the call leaves the text (and each database's index over it) untouched."""
    written: list[str] = []

    def watch(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "rm_call_text" in statement and statement.lstrip().upper().startswith(
            ("INSERT", "DELETE", "UPDATE")
        ):
            written.append(statement.split(None, 1)[0].upper())

    event.listen(services.engine, "before_cursor_execute", watch)
    try:
        own_desk.clock.advance(600)
        own_desk.post(f"{CALLS}/{own_desk.ids['R3']}/escalate", ("community", "LW-LN-02"), {"reason": "上呼"})
        assert own_desk.found(q="噪音") == {"R3"}  # read after the escalation was projected
        assert written == []
        own_desk.raise_call("R6", "LW-LN-02-G01", "噪音", "广场舞音响", channel="walk_in")
        assert own_desk.found(q="噪音") == {"R3", "R6"}
        assert written == ["INSERT"]
    finally:
        event.remove(services.engine, "before_cursor_execute", watch)


def test_free_text_pages_with_the_cursor_in_raise_order(desk: Desk) -> None:
    seen, after = [], "0"
    while after is not None:
        status, body = desk.get(CALLS, q="垃圾", limit="1", after=after)
        assert status == 200
        seen += [c["id"] for c in body["data"]]
        after = body["next"] and str(body["next"])
    assert seen == [desk.ids[n] for n in ("R1", "R5", "R4")]  # R1, R2 and R5 were raised on Monday


def test_free_text_among_open_calls_answers_as_the_index_does(desk: Desk) -> None:
    """A search of calls on the 台账 ledger only (its statuses, or overdue) looks at each open
    call's own text instead of the index (the ledger is the few calls still open; the index's
    matches, the word's whole history): the same answers, paged in the same order."""
    open_statuses = ("awaiting_response", "dispatched", "awaiting_response,dispatched,returned,in_progress")
    for q in ("垃圾", "灯", "井盖 垃圾", "ｌｅｄ路灯", "电梯"):
        for status in open_statuses:
            assert desk.found(q=q, status=status) == desk.found(q=q) & desk.found(status=status), (q, status)
        assert desk.found(STREET, q=q, status="dispatched") == desk.found(STREET, q=q) & desk.found(
            STREET, status="dispatched"
        )
    assert desk.found(q="垃圾", status=open_statuses[-1]) == {"R1", "R4", "R5"}  # the check means something
    seen, after = [], "0"
    while after is not None:
        status, body = desk.get(CALLS, q="垃圾", status=open_statuses[-1], limit="1", after=after)
        assert status == 200
        seen += [c["id"] for c in body["data"]]
        after = body["next"] and str(body["next"])
    assert seen == [desk.ids[n] for n in ("R1", "R5", "R4")]


def test_free_text_with_nothing_to_look_for_is_refused(desk: Desk) -> None:
    status, body = desk.get(CALLS, q="！？…")
    assert (status, body["errors"][0]["field"]) == (422, "q")
    assert desk.get(CALLS, q="垃" * 201)[0] == 422


def test_the_index_and_the_portable_fallback_answer_alike(desk: Desk, shared_services: Services) -> None:
    """Each database's index (SQLite's FTS5, PostgreSQL's GIN over a tsvector) answers as LIKE
    over the same terms does — the fallback of any other database — and as the words say."""
    indexed = text_index(shared_services.engine.dialect.name)
    assert indexed != LIKE
    for q in ("垃圾", "垃圾堆放", "堆垃圾", "灯", "井盖 垃圾", "ＬＥＤ", "电梯", "1", "灯 垃圾"):
        with shared_services.engine.connect() as conn:
            answers = {
                how: set(conn.scalars(by_text(select(rm_calls.c.call_id), searched(q), how=how)[0]))
                for how in (indexed, LIKE)
            }
        assert answers[indexed] == answers[LIKE], q
        found = searched(q)
        expected = {
            desk.ids[n] for n, texts in TEXTS.items() if all(any(w in t for t in texts) for w in found)
        }
        assert answers[LIKE] == expected, q


def test_terms_are_pairs_of_characters_per_word() -> None:
    assert terms("垃圾堆放", "LED灯, 2号") == "垃圾 圾堆 堆放 放 le ed d灯 灯 2号 号"


# --- dates, channel, urgency, and bad values ------------------------------------------------


def test_raised_dates_follow_the_event_feeds_conventions(desk: Desk) -> None:
    # A date is a whole Asia/Shanghai day; `from` is inclusive, `to` exclusive (a date: its end).
    assert desk.found(**{"from": "2026-11-24"}) == {"R3", "R4"}
    assert desk.found(to="2026-11-23") == {"R1", "R2", "R5"}
    assert desk.found(**{"from": "2026-11-24", "to": "2026-11-24"}) == {"R3"}
    assert desk.found(**{"from": "2026-11-24T09:00:00+08:00", "to": "2026-11-25T09:00:00+08:00"}) == {"R3"}
    assert desk.found(**{"from": "2026-11-24T09:00:01+08:00"}) == {"R4"}
    for bad in ({"from": "2026-13-01"}, {"to": "yesterday"}, {"from": "2026-11-24T09:00:00"}):
        status, body = desk.get(CALLS, **bad)
        assert (status, body["errors"][0]["field"]) == (422, next(iter(bad))), bad


def test_channel_and_urgency_take_lists(desk: Desk) -> None:
    assert desk.found(channel="photo") == {"R1", "R5"}
    assert desk.found(channel="hotline,walk_in") == {"R2", "R3"}
    assert desk.found(urgency="urgent,emergency") == {"R2", "R4"}
    assert desk.found(channel="photo", urgency="normal", q="桶") == {"R1"}


@pytest.mark.parametrize(
    ("field", "bad", "valid"),
    [
        ("status", "open", "awaiting_response, in_progress, dispatched, returned"),
        ("channel", "wechat", "grid_worker, photo, hotline, council, walk_in"),
        ("urgency", "high", "normal, urgent, emergency"),
    ],
)
def test_an_invalid_enum_value_lists_the_valid_ones(desk: Desk, field: str, bad: str, valid: str) -> None:
    status, body = desk.get(CALLS, **{field: f"{bad}"})
    assert status == 422
    (error,) = body["errors"]
    assert error["field"] == field
    assert bad in error["message"] and valid in error["message"]


# --- what the street has to decide -----------------------------------------------------------


def test_a_street_finds_what_awaits_its_decision(desk: Desk) -> None:
    assert desk.found(STREET, ready_to_resolve="true") == {"R1"}
    assert desk.found(STREET, pending_extension="true") == {"R2"}
    assert desk.found(STREET, returned_order="true") == {"R2", "R4"}  # ZJ's assist on R2, CG's lead on R4
    assert desk.found(STREET, returned_order="true", status="returned") == {"R4"}
    assert desk.found(STREET, ready_to_resolve="false") == {"R2", "R3", "R4"}
    _, body = desk.get(CALLS, STREET, ready_to_resolve="true")
    (r1,) = body["data"]
    assert (r1["ready_to_resolve"], r1["pending_extension"], r1["returned_order"]) == (True, False, False)


def test_the_flags_follow_the_streets_decisions(own_desk: Desk) -> None:
    r1, r2, r4 = (own_desk.ids[n] for n in ("R1", "R2", "R4"))
    own_desk.post(f"{CALLS}/{r1}/resolve", STREET, {"summary": "已办结"})
    own_desk.post(f"/api/v1/work-orders/{r2}-w1/extension/grant", STREET)
    own_desk.clock.advance(60)
    body = {"lead_department": "SW", "instructions": "改派"}
    own_desk.post(f"{CALLS}/{r4}/dispatch", STREET, body)  # re-dispatched: CG's return is history
    for flag in ("ready_to_resolve", "pending_extension", "returned_order"):
        expected = {"R2"} if flag == "returned_order" else set()
        assert own_desk.found(STREET, **{flag: "true"}) == expected, flag


def test_the_ledger_counts_and_filters_them_too(desk: Desk) -> None:
    status, body = desk.get("/api/v1/ledger", STREET)
    assert status == 200
    summary = body["summary"]
    assert (summary["ready_to_resolve"], summary["pending_extension"], summary["returned_order"]) == (1, 1, 2)
    status, body = desk.get("/api/v1/ledger", STREET, pending_extension="true")
    assert (status, [c["id"] for c in body["data"]], body["summary"]["open"]) == (200, [desk.ids["R2"]], 4)
