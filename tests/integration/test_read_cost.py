"""P4's reads cost what the units and periods asked for, not what the store holds (issue 12).

No timing here (the machine's load would decide): what a read does is counted instead.

- Every statement the reads issue is answered by searching an index: the query plan of each,
  with its own parameters, never reads a read-model table or a whole index, which is what a
  read whose cost grows with the calls stored would do.
- On each backend, a read issues as many statements on a district of 160 calls as on one of 40:
  no statement per call, per obligation or per row of a page.

The reads are those ``bench/reads.py`` measures for P4, for each kind of asker: the SLA
dashboard (default range and a year by month; district, street, community, grid, department),
unit scores (each kind, month, quarter and year), a department's queue (with and without
statuses), the 台账 ledger and the call search (filters, free text).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from httpx import Client
from sqlalchemy import Engine, event, func, select

from backends import Backend
from conftest import Tokens
from districts import UNTIL, quiet_settings, seeded
from huying.api.app import create_app
from huying.bootstrap import Services
from huying.db import metadata
from huying.domain.principal import Principal, Role
from huying.projections.tables import ON_LEDGER
from huying.queries.scope import concerns_unit
from huying.queries.search import CallFilter, ledger, search_calls
from huying.queries.spread_memo import MEMO
from in_loop import in_loop

TODAY = (UNTIL + timedelta(hours=8)).date()
SUPERVISOR = Principal(Role.SUPERVISOR, "LW")
YEAR = {"from": (TODAY - timedelta(days=364)).isoformat(), "to": TODAY.isoformat(), "granularity": "month"}

Read = tuple[str, str, str, dict[str, Any]]  # role, unit, path, query
READS: list[Read] = [
    *(("supervisor", "LW", "/api/v1/dashboards/sla", q) for q in ({}, YEAR)),
    *(("street", "LW-LN", "/api/v1/dashboards/sla", q) for q in ({}, YEAR)),
    ("community", "LW-LN-01", "/api/v1/dashboards/sla", {}),
    ("grid_worker", "LW-LN-01-G01", "/api/v1/dashboards/sla", {"unit": "LW-LN-01-G01"}),
    ("department", "CG", "/api/v1/dashboards/sla", {}),
    *(
        ("supervisor", "LW", "/api/v1/scores/units", {"kind": kind} | period)
        for kind in ("community", "street", "department")
        for period in ({}, {"period": "2026-Q4"}, {"period": "2026"})
    ),
    *(
        ("department", "CG", "/api/v1/departments/CG/work-orders", {"limit": 50} | statuses)
        for statuses in ({}, {"status": "dispatched,signed"}, {"status": "signed"})
    ),
    *(
        (role, unit, "/api/v1/ledger", {"limit": 50})
        for role, unit in (("street", "LW-LN"), ("supervisor", "LW"), ("department", "CG"))
    ),
    ("supervisor", "LW", "/api/v1/ledger", {"unit": "CG", "limit": 50}),
    ("community", "LW-LN-01", "/api/v1/calls", {"unit": "LW-LN-01", "status": "dispatched", "limit": 50}),
    ("street", "LW-LN", "/api/v1/calls", {"unit": "LW-LN", "status": "resolved", "overdue": "true"}),
    ("street", "LW-LN", "/api/v1/calls", {"unit": "LW-LN", "q": "垃圾", "limit": 50}),
    ("street", "LW-LN", "/api/v1/calls", {"unit": "LW-LN", "q": "垃圾", "status": "resolved,evaluated"}),
    ("supervisor", "LW", "/api/v1/calls", {"q": "垃圾", "overdue": "true"}),
    ("department", "CG", "/api/v1/calls", {"unit": "CG", "status": "dispatched", "limit": 50}),
    ("department", "CG", "/api/v1/calls", {"unit": "CG", "q": "垃圾", "status": "resolved,evaluated"}),
]


class Statements:
    """The statements an engine executes while ``on``, with their parameters."""

    def __init__(self, engine: Engine) -> None:
        self.on = False
        self.seen: list[tuple[str, Any]] = []
        self.answer: Any = None  # the last read's body
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if self.on:
            self.seen.append((statement, params))

    def of(self, client: Client, tokens: Tokens, read: Read, *, afresh: bool = True) -> list[tuple[str, Any]]:
        """What the read issues; ``afresh``, with nothing read before it held (``spread_memo``:
        a dashboard reads the spreads it merges only when it has not before)."""
        role, unit, path, query = read
        if afresh:
            MEMO.clear()
        self.seen, self.on = [], True
        try:
            answer = client.get(path, params=query, headers=tokens.headers(role, unit))
        finally:
            self.on = False
        assert answer.status_code == 200, (read, answer.text)
        self.answer = answer.json()
        return self.seen


def district(
    backend: Backend, data_dir: Path, calls: int, days: int = 90
) -> Iterator[tuple[Services, Client, Tokens]]:
    """A synthetic district of ``calls`` calls over ``days`` days, served with no duties running
    (the projector is caught up by the seeder; nothing else may issue statements meanwhile)."""
    # Not analyzed: with the statistics of a few dozen calls PostgreSQL's planner rightly walks a
    # whole table; this module asks whether an index serves each statement, which its estimates
    # for tables it has not analyzed show.
    settings = quiet_settings(backend, data_dir)
    with (
        seeded(settings, calls, seed=5, days=days, tidy=False) as services,
        in_loop(create_app(services=services)) as client,
    ):
        yield services, client, Tokens(services)


@pytest.fixture
def small(backend: Backend, tmp_path: Path) -> Iterator[tuple[Services, Client, Tokens]]:
    yield from district(backend, tmp_path / "small", 40)


@pytest.fixture
def larger(backend: Backend, tmp_path: Path) -> Iterator[tuple[Services, Client, Tokens]]:
    yield from district(backend, tmp_path / "larger", 160)


# What a plan line says when a statement walks a whole table or index rather than searching it:
# "SCAN t" or "SCAN t USING [COVERING] INDEX i" (a full index walk). The free-text index's own
# lookup ("SCAN … VIRTUAL TABLE INDEX") and a list of constants are searches, not scans.
# A partial index (the 台账's: calls on the ledger) holds just the rows its statements ask for:
# walking it whole reads the ledger, not the calls stored.
PARTIAL = {
    index.name
    for table in metadata.tables.values()
    for index in table.indexes
    if index.dialect_options["postgresql"]["where"] is not None
}
WHOLE = re.compile(r"^SCAN (?!.*VIRTUAL TABLE)(?!\d+ CONSTANT ROW)(?!CONSTANT ROW)")


def test_every_statement_of_the_reads_searches_an_index(
    backend: Backend, small: tuple[Services, Client, Tokens]
) -> None:
    """On PostgreSQL, whose planner rightly reads a small table whole, with sequential scans
    priced out: then a statement that still reads a table whole, or walks an index with no
    condition, has no index that serves it."""
    services, client, tokens = small
    statements = Statements(services.engine)
    scans = []
    for read in READS:
        for statement, params in statements.of(client, tokens, read):
            if statement.lstrip().upper().startswith("SELECT"):
                scans += [(read, scan, statement) for scan in _whole(services.engine, statement, params)]
    assert scans == []


def _whole(engine: Engine, statement: str, params: Any) -> list[str]:
    """What the statement's plan reads whole."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params).all()
            return [line[-1] for line in plan if WHOLE.match(line[-1])]
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        (found,) = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", params).one()
        conn.rollback()
    return [
        f"{node['Node Type']} on {node.get('Relation Name', node.get('Index Name'))}"
        for node in _nodes(found[0]["Plan"])
        if (node["Node Type"] == "Seq Scan" and node.get("Relation Name", "").startswith("rm_"))
        or (
            "Index Scan" in node["Node Type"]
            and "Index Cond" not in node
            and node["Index Name"] not in PARTIAL
        )
    ]


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


def test_a_dashboard_reads_the_tallies_of_the_series_it_shows_only(
    backend: Backend, small: tuple[Services, Client, Tokens]
) -> None:
    """A level and a scope asked for apart would also read pairs no series shows: the district's
    dashboard, its streets' community level (what a street's own shows). Every tally row each
    statement returns, run again, is one of the answer's own series or children."""
    services, client, tokens = small
    statements = Statements(services.engine)
    for read in (r for r in READS if r[2] == "/api/v1/dashboards/sla"):
        seen = statements.of(client, tokens, read)
        answer = statements.answer
        shown = {(s["level"], s["unit"]) for s in [*answer["series"], *answer["children"]]}
        read_rows = set()
        with services.engine.connect() as conn:
            for statement, params in seen:
                if "FROM rm_sla_tallies" in statement:
                    rows = conn.exec_driver_sql(statement, params)
                    read_rows |= {(level, scope) for level, scope, *_ in rows}
        assert read_rows, read
        assert read_rows <= shown, (read, read_rows - shown)


def test_a_read_issues_as_many_statements_whatever_the_district_holds(
    small: tuple[Services, Client, Tokens], larger: tuple[Services, Client, Tokens]
) -> None:
    """Each read twice: with nothing read before it, and again (a dashboard then holds the
    spreads it merges: ``spread_memo``)."""
    counted = []
    for services, client, tokens in (small, larger):
        statements = Statements(services.engine)
        counted.append([len(statements.of(client, tokens, read)) for read in READS])
        counted.append([len(statements.of(client, tokens, read, afresh=False)) for read in READS])
    assert counted[2:] == counted[:2]


def test_every_statement_of_a_projector_batch_searches_an_index(
    backend: Backend, small: tuple[Services, Client, Tokens]
) -> None:
    """The projector's batch under load reads and replaces the rows its calls touched — and the
    SLA tallies of their units and periods — by index, not by reading the tables: its cost per
    batch must not grow with the district (P5's projection lag)."""
    services, client, tokens = small
    raised = client.post(
        "/api/v1/calls",
        json={
            "item_code": "C01-01",
            "grid_code": "LW-LN-01-G01",
            "title": "路灯不亮",
            "description": "巷口路灯",
            "channel": "grid_worker",
        },
        headers=tokens.headers("grid_worker", "LW-LN-01-G01"),
    )
    assert raised.status_code == 201, raised.text
    statements = Statements(services.engine)
    statements.on = True
    assert services.projector.run_once() > 0
    statements.on = False
    seen = [(s, p[0] if isinstance(p, list) else p) for s, p in statements.seen]
    looked = [(s, p) for s, p in seen if s.lstrip().upper().startswith(("SELECT", "DELETE", "UPDATE"))]
    assert any("rm_sla_tallies" in s for s, _ in looked), "the batch replaced the SLA tallies"
    scans = [(scan, s) for s, p in looked for scan in _whole(services.engine, s, p)]
    assert scans == []


# A word among the calls on the ledger: what a page of them may read, however long the history.
OPEN_WITH_A_WORD = CallFilter(words=("垃圾",), statuses=("resolved", "evaluated", "dispatched"))


def test_a_text_search_of_open_calls_reads_the_open_calls_not_the_words_history(tmp_path: Path) -> None:
    """SQLite's VM steps for a page of a word among the open calls, on a district of 100 calls
    over 60 days and one of 600 over 360: the same calls a day, so not many more open at the
    end (19 and 31), and six times the history. Per open call, the page takes about as many
    steps on both (2.1 and 2.6 per 10); walking the text index's matches from the oldest — the
    word's whole history — took 2.2 and 5.7."""
    per_open_call = []
    for calls, days in ((100, 60), (600, 360)):
        for services, _, _ in district(Backend("sqlite"), tmp_path / str(days), calls, days):
            with services.engine.connect() as conn:
                open_calls = conn.scalar(select(func.count()).where(ON_LEDGER))
                tens: list[None] = []  # one per ten steps: a handler's None lets the statement go on
                raw = conn.connection.driver_connection
                raw.set_progress_handler(lambda tens=tens: tens.append(None), 10)
                page = search_calls(conn, SUPERVISOR, services.app.org, OPEN_WITH_A_WORD, UNTIL, 0, 50)
                raw.set_progress_handler(None, 0)
            assert page.next is None and page.rows  # the whole answer: every candidate looked at
            per_open_call.append(len(tens) / open_calls)
    short, long = per_open_call
    assert long <= 1.5 * short, per_open_call


# A department's open calls: its 台账 page and summary, and a search among them (a word; the
# flags), as the department asks and as the district does.
DEPARTMENT = Principal(Role.DEPARTMENT, "CG")
OPEN_OF_A_DEPARTMENT: list[tuple[str, Principal, CallFilter]] = [
    ("ledger", DEPARTMENT, CallFilter()),
    ("ledger", SUPERVISOR, CallFilter(attention=(("ready_to_resolve", True),))),
    ("search", DEPARTMENT, CallFilter(unit="CG", words=("垃圾",), statuses=("dispatched", "resolved"))),
    ("search", SUPERVISOR, CallFilter(unit="CG", overdue=True)),
]


def test_a_departments_open_calls_cost_its_open_calls_not_every_order_it_had(tmp_path: Path) -> None:
    """SQLite's VM steps for each read of a department's open calls (``OPEN_OF_A_DEPARTMENT``),
    on a district of 100 calls over 60 days and one of 1,200 over 720: the department has 5
    calls open at the end of the one and 2 at the end of the other, and a dozen times the
    orders behind them. Each read takes no more steps on the long history than on the short,
    give or take half: in tens, 81, 32, 41, 52 on the short and 40, 20, 31, 39 on the long.
    Restricting to every call it ever had an order on took 112, 33, 52, 62 and 210, 68, 126, 89:
    1.4–2.4 times as many on the long history, with fewer calls open."""
    steps, open_calls = [], []
    for calls, days in ((100, 60), (1200, 720)):
        for services, _, _ in district(Backend("sqlite"), tmp_path / str(days), calls, days):
            org = services.app.org
            with services.engine.connect() as conn:
                departments = select(func.count()).where(ON_LEDGER, concerns_unit("CG", org))
                open_calls.append(conn.scalar(departments))
                raw = conn.connection.driver_connection
                counted = []
                for read, who, f in OPEN_OF_A_DEPARTMENT:
                    tens: list[None] = []  # one per ten steps: a handler's None lets the statement go on
                    raw.set_progress_handler(lambda tens=tens: tens.append(None), 10)
                    if read == "ledger":
                        ledger(conn, who, org, "CG", f, UNTIL, 0, 500)
                    else:
                        search_calls(conn, who, org, f, UNTIL, 0, 500)
                    raw.set_progress_handler(None, 0)
                    counted.append(len(tens))
                steps.append(counted)
    assert open_calls[1] <= open_calls[0], open_calls  # no more open work on the long history
    short, long = steps
    assert all(b <= 1.5 * a for a, b in zip(short, long, strict=True)), steps


# What a street's worklist asks besides statuses: the calls awaiting its decision, as the
# street asks and as the district does.
STREET = Principal(Role.STREET, "LW-LN")
AWAITING_A_STREET: list[tuple[Principal, CallFilter]] = [
    (who, CallFilter(unit="LW-LN", attention=((flag, True),)))
    for who in (STREET, SUPERVISOR)
    for flag in ("ready_to_resolve", "pending_extension", "returned_order")
]


def test_a_streets_calls_awaiting_its_decision_cost_its_open_calls_not_its_history(tmp_path: Path) -> None:
    """SQLite's VM steps for each search of a street's flagged calls (``AWAITING_A_STREET``) on
    a district of 100 calls over 60 days and one of 1,200 over 720, per call the street has open.
    Walking every call of the street for the flag, the street's own searches took 12.5 tens of
    steps per open call on the short history and 69 on the long (at a million calls, the
    console's street worklist took 681 ms median, two of its lists 306 and 348 ms each); among its
    open calls, 2.0 and 1.25. The district's searches went by the flag's own index either way."""
    per_open_call = []
    for calls, days in ((100, 60), (1200, 720)):
        for services, _, _ in district(Backend("sqlite"), tmp_path / str(days), calls, days):
            org = services.app.org
            with services.engine.connect() as conn:
                open_calls = conn.scalar(select(func.count()).where(ON_LEDGER, concerns_unit("LW-LN", org)))
                raw = conn.connection.driver_connection
                counted = []
                for who, f in AWAITING_A_STREET:
                    tens: list[None] = []  # one per ten steps: a handler's None lets the statement go on
                    raw.set_progress_handler(lambda tens=tens: tens.append(None), 10)
                    search_calls(conn, who, org, f, UNTIL, 0, 500)
                    raw.set_progress_handler(None, 0)
                    counted.append(len(tens) / open_calls)
                per_open_call.append(counted)
    short, long = per_open_call
    assert all(b <= 1.5 * a for a, b in zip(short, long, strict=True)), per_open_call
