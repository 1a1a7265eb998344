"""Events stored by an earlier huying, kept as a fixture, and what that huying showed of them.

``tests/fixtures/stored_by_main/`` holds a small deployment's data directory (SQLite event store,
read-model database with its record keys, the demo secret) written by huying at main 7d7dd86,
before the call service, the transition gate and the call's typed state were reshaped (issue 13),
and ``observed.json.gz``: what that code answered over HTTP about every call, work order and event,
and the read-model rows a rebuild gave. ``test_stored_by_main`` replays the stored events with
today's code and asks for the same again.

``python -m tests.integration.stored_by_main`` (at the fixture's commit) wrote them; ``observe``
is the one description of what is compared, used by the writer and by the test alike.
"""

from __future__ import annotations

import gzip
import json
import random
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Client
from sqlalchemy import select

from huying.api.app import create_app
from huying.bootstrap import Services, build_services
from huying.clock import FakeClock
from huying.demo import principal_for_token
from huying.domain.principal import Role
from huying.migrate import upgrade
from huying.settings import Settings

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "stored_by_main"
NOW = datetime(2027, 1, 18, 2, 0, tzinfo=UTC)  # business time of every answer compared
START = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
SEED = 3  # with CALLS calls, a history with every event kind
CALLS = 16
Observed = dict[str, Any]


def stored_topics(fixture: Path) -> set[str]:
    """The topics of the events a fixture's log holds."""
    with sqlite3.connect(fixture / "var" / "huying.events.db") as conn:
        return {topic for (topic,) in conn.execute("SELECT DISTINCT topic FROM stored_events")}


def fixture_settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, demo=True, fake_clock=True, run_watchdog=False)


class Reader:
    """GETs as a given principal, tokens made on demand."""

    def __init__(self, client: Client, services: Services) -> None:
        self.client = client
        self.services = services
        self._tokens: dict[tuple[str, str], str] = {}

    def get(self, role: Role, unit: str, path: str) -> Any:
        if (role.value, unit) not in self._tokens:
            principal = principal_for_token(self.services.app.org, role.value, unit)
            self._tokens[role.value, unit] = self.services.tokens.create(principal, label="replay")[1]
        answer = self.client.get(path, headers={"Authorization": f"Bearer {self._tokens[role.value, unit]}"})
        assert answer.status_code == 200, (path, answer.status_code, answer.text)
        return {"etag": answer.headers.get("etag"), "body": answer.text}


def _plain(value: Any) -> Any:
    """A column's value as JSON keeps it: times in ISO 8601, bytes (a tally's spread) in hex."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value.hex() if isinstance(value, bytes) else value


def _row(row: Any) -> dict[str, Any]:
    return {k: _plain(v) for k, v in row._mapping.items()}


def read_model_rows(services: Services) -> dict[str, list[dict[str, Any]]]:
    """Every read-model row, by table, in primary-key order."""
    from huying.projections.tables import READ_MODEL_TABLES

    with services.engine.connect() as conn:
        return {
            t.name: [_row(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
            for t in READ_MODEL_TABLES
        }


def observe(services: Services, client: Client) -> Observed:
    """What huying answers about the stored history: each call (now, at version 1, as its
    community sees it), its history, each work order, the event feed, the verdict of verify."""
    reader = Reader(client, services)
    district = services.app.org.district.code
    sup = (Role.SUPERVISOR, district)
    from huying.projections.tables import rm_calls, rm_work_orders

    with services.engine.connect() as conn:
        rows = conn.execute(select(rm_calls).order_by(rm_calls.c.call_id))
        calls = [(r.call_id, r.community_code) for r in rows]
        orders = [r.order_id for r in conn.execute(select(rm_work_orders.c.order_id).order_by("order_id"))]
    seen: Observed = {"calls": {}, "orders": {}, "rows": read_model_rows(services)}
    for call_id, community in calls:
        seen["calls"][call_id] = {
            "now": reader.get(*sup, f"/api/v1/calls/{call_id}"),
            "v1": reader.get(*sup, f"/api/v1/calls/{call_id}?version=1"),
            "community": reader.get(Role.COMMUNITY, community, f"/api/v1/calls/{call_id}"),
            "history": reader.get(*sup, f"/api/v1/calls/{call_id}/history"),
        }
    for order_id in orders:
        seen["orders"][order_id] = reader.get(*sup, f"/api/v1/work-orders/{order_id}")
    return {**seen, **feed_and_verdict(reader)}


def feed_and_verdict(reader: Reader) -> Observed:
    """The whole event feed, page by page, and verify's verdict, as the district's auditor."""
    auditor = (Role.AUDITOR, reader.services.app.org.district.code)
    feed, after = [], 0
    while after is not None:
        page = reader.get(*auditor, f"/api/v1/events?after={after}&limit=200")
        feed.append(page)
        after = json.loads(page["body"])["next"]
    verdict = json.loads(reader.get(*auditor, "/api/v1/audit/verify")["body"])
    keys = ("ok", "checked", "chained_through", "log_head", "unchained")
    return {"feed": feed, "verify": {k: verdict[k] for k in keys}}


def extensions(services: Services, clock: FakeClock) -> None:  # pragma: no cover
    """One call whose lead order asks for more time twice: granted, then denied (random
    histories seldom get that far)."""
    from datetime import timedelta

    from huying.domain.principal import Principal
    from huying.service_layer.calls import CallDraft, DispatchPlan
    from huying.service_layer.command_path import Submission

    calls, orders, sub = services.calls, services.orders, Submission()
    grid = "LW-LN-01-G01"
    community, street = Principal(Role.COMMUNITY, "LW-LN-01"), Principal(Role.STREET, "LW-LN")
    cg = Principal(Role.DEPARTMENT, "CG")
    draft = CallDraft("C01-01", grid, "垃圾堆积 #ext", "十三行路口垃圾三天无人清运", "grid_worker")
    call = calls.raise_call(Principal(Role.GRID_WORKER, grid), draft, sub).call
    calls.acknowledge(community, call.id, sub, None)
    calls.escalate(community, call.id, sub, "需要街道协调")
    calls.acknowledge(street, call.id, sub, "街道已响应")
    plan = DispatchPlan("CG", ["ZJ"], clock.now() + timedelta(days=3), "三日内清运")
    order = calls.dispatch(street, call.id, sub, plan).call.orders_by_arrival[0].id
    orders.sign(cg, order, sub, None)
    clock.advance(5 * 3600)
    orders.request_extension(cg, order, sub, clock.now() + timedelta(days=6), "车辆检修")
    orders.grant_extension(street, order, sub, "同意")
    clock.advance(5 * 3600)
    orders.request_extension(cg, order, sub, clock.now() + timedelta(days=12), "再延")
    orders.deny_extension(street, order, sub, "不予再延")
    orders.complete_order(cg, order, sub, "已清运")
    calls.resolve(street, call.id, sub, "已办结")


def write(
    target: Path = FIXTURE, seed: int = SEED, calls: int = CALLS
) -> None:  # pragma: no cover  (run by hand, at main)
    from tests.integration.histories import EVENT_KINDS, Shape, drive

    def story(services: Services, clock: FakeClock) -> None:
        drive(services, clock, random.Random(seed), Shape(calls=calls, concurrency=8))
        extensions(services, clock)

    seen = record(target, story, observe)
    topics = {r["type"] for page in seen["feed"] for r in json.loads(page["body"])["data"]}
    missing = EVENT_KINDS - topics
    assert not missing, f"seed {seed} leaves out {missing}"
    pack(target, seen)


def write_at_head(
    target: Path,
    story: Callable[[Services, FakeClock], None],
    look: Callable[[Services, Client], Observed],
) -> None:  # pragma: no cover  (run by hand)
    """Record ``story`` in ``target`` with what huying answered (``look``), naming the commit."""
    seen = record(target, story, look)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True)
    seen["written_at"] = head.stdout.strip()
    pack(target, seen)


def record(
    target: Path,
    story: Callable[[Services, FakeClock], None],
    look: Callable[[Services, Client], Observed],
) -> Observed:  # pragma: no cover  (run by hand)
    """A fresh deployment in ``target``, the story told on it from START, and what huying then
    answers about it at NOW (``look``)."""
    if target.exists():
        shutil.rmtree(target)
    settings = fixture_settings(target / "var")
    upgrade(settings)
    clock = FakeClock(start=START)
    services = build_services(settings, clock)
    try:
        story(services, clock)
        services.projector.catch_up()
        services.chain.catch_up()
        clock.set(NOW)
        with TestClient(create_app(services=services)) as client:
            return look(services, client)
    finally:
        services.close()


def pack(target: Path, seen: Observed) -> None:  # pragma: no cover  (run by hand, at main)
    """Leave the data directory as a fixture (no locks, compact) and what was seen beside it."""
    for lock in (target / "var").glob("*.lock"):
        lock.unlink()
    for db in (target / "var").glob("*.db"):
        with sqlite3.connect(db) as conn:
            conn.execute("VACUUM")
    with gzip.open(target / "observed.json.gz", "wt", encoding="utf-8") as f:
        json.dump(seen, f, ensure_ascii=False, indent=1, sort_keys=True)


def observed(fixture: Path = FIXTURE) -> Observed:
    with gzip.open(fixture / "observed.json.gz", "rt", encoding="utf-8") as f:
        found: Observed = json.load(f)
    return found


def still_says(now: Any, then: Any) -> bool:
    """``now`` says everything ``then`` said, field for field, value for value; it may say more
    (the HTTP contract adds fields, never renames or drops one). JSON text is compared as JSON."""
    if isinstance(now, str) and isinstance(then, str) and then[:1] in ("{", "["):
        try:
            now, then = json.loads(now), json.loads(then)
        except ValueError:
            return bool(now == then)
    if isinstance(then, dict):
        return isinstance(now, dict) and all(k in now and still_says(now[k], v) for k, v in then.items())
    if isinstance(then, list):
        return isinstance(now, list) and len(now) == len(then) and all(map(still_says, now, then))
    return bool(now == then)


def answers_as_they_were(now: Observed, then: Observed, kinds: tuple[str, ...]) -> None:
    """Every stored answer about each aggregate of ``kinds`` is still today's answer (with any
    fields added since)."""
    for kind in kinds:
        assert sorted(now[kind]) == sorted(then[kind]) and then[kind], kind
        for aggregate_id, views in then[kind].items():
            for view, answer in views.items():
                assert still_says(now[kind][aggregate_id][view], answer), f"{kind} {aggregate_id}{view}"


def feed_verify_and_rows_as_they_were(now: Observed, then: Observed, services: Services) -> None:
    """The feed and verify's verdict as they were; the rebuilt rows too (columns added since
    are not compared: the fixture cannot know them)."""
    assert services.projector.halted is None and services.chain.alarm is None
    assert still_says(now["feed"], then["feed"])  # an upcast event shows its new fields too
    assert now["verify"] == then["verify"] and now["verify"]["ok"]
    for table, rows in then["rows"].items():
        columns = set(rows[0]) if rows else set()
        assert [{k: v for k, v in r.items() if k in columns} for r in now["rows"][table]] == rows, table


def replay_and_export_agree(
    now: Observed, services: Services, monkeypatch: pytest.MonkeyPatch, types: str, batch_size: int
) -> dict[str, int]:
    """审计回放 rebuilds the read models beside the live ones and finds them equal; ``huying
    export`` writes the events of ``types`` as the feed shows them. The rows rebuilt, by table."""
    from typer.testing import CliRunner

    from backends import use_in_env
    from huying.audit.replay import replay_and_compare
    from huying.cli import cli

    result = replay_and_compare(services.app, services.engine, services.settings, batch_size=batch_size)
    assert result.same, result.shown
    use_in_env(monkeypatch, services.settings)
    exported = CliRunner().invoke(cli, ["export", "--what", "events", "--type", types])
    assert exported.exit_code == 0, exported.output
    lines = [json.loads(line) for line in exported.stdout.splitlines() if line.startswith("{")]
    feed = [e for page in now["feed"] for e in json.loads(page["body"])["data"]]
    assert lines == [e for e in feed if e["type"] in types.split(",")]
    assert sorted({e["type"] for e in lines}) == sorted(types.split(","))
    return dict(result.rows)


@contextmanager
def replayed(
    fixture: Path, tmp_path_factory: pytest.TempPathFactory, look: Callable[[Services, Client], Observed]
) -> Iterator[tuple[Observed, Services]]:
    """A stored deployment, upgraded, its read models rebuilt from the log by today's code, and
    what today's code answers about it (``look``)."""
    data_dir = tmp_path_factory.mktemp(fixture.name) / "var"
    shutil.copytree(fixture / "var", data_dir)
    settings = fixture_settings(data_dir)
    upgrade(settings)
    services = build_services(settings, FakeClock(start=NOW))
    try:
        services.projector.reset()
        services.projector.catch_up()
        services.chain.catch_up()
        with TestClient(create_app(services=services)) as client:
            yield look(services, client), services
    finally:
        services.close()


if __name__ == "__main__":  # pragma: no cover
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else FIXTURE, *map(int, sys.argv[2:]))
