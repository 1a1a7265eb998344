"""审计导出 on the command line, and the feed's paging when a time filter skips much of the log.

``huying export --what events`` writes exactly the events of the period, one JSON object a
line, as the feed shows them; ``--what scores`` writes one CSV line per street and department
with the figures the scores endpoint gives. Neither carries a reporter's contact details.
"""

from __future__ import annotations

import csv
import io
import json
import random
from datetime import datetime

import pytest
from typer.testing import CliRunner

from backends import use_in_env
from huying.audit import feed as feed_module
from huying.audit.feed import EventFeed, FeedQuery, Window
from huying.bootstrap import Services
from huying.cli import cli
from huying.clock import FakeClock
from huying.domain.contact import Contact
from huying.domain.org import UnitKind
from huying.domain.principal import Principal, Role
from huying.queries.scores import parse_period, unit_scores
from huying.service_layer.calls import CallDraft
from huying.service_layer.command_path import Submission
from huying.settings import Settings

from .histories import Shape, drive

NAME, PHONE = "王五", "13600001111"


@pytest.fixture
def runner(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    use_in_env(monkeypatch, settings)
    return CliRunner()


@pytest.fixture
def history(services: Services, clock: FakeClock) -> list[dict[str, object]]:
    """Twenty calls over a few weeks of November, one with a reporter; projected; as the feed
    shows every event."""
    grid = "LW-LN-01-G01"
    draft = CallDraft(
        item_code="C01-01",
        grid_code=grid,
        title="井盖松动",
        description="井盖一侧翘起",
        channel="hotline",
        reporter=Contact(NAME, PHONE),
    )
    services.calls.raise_call(Principal(Role.GRID_WORKER, grid), draft, Submission(key="r", fingerprint="f"))
    drive(services, clock, random.Random(11), Shape.tame(calls=20, concurrency=4))
    services.projector.catch_up()
    return EventFeed(services.app).page(FeedQuery(), 0, 500).records


def lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_the_event_export_is_the_period_of_the_feed(
    runner: CliRunner, history: list[dict[str, object]]
) -> None:
    everything = lines(runner.invoke(cli, ["export", "--what", "events"]).stdout)
    assert [e["position"] for e in everything] == [e["position"] for e in history]
    times = sorted({str(e["at"]) for e in everything})
    start, end = times[len(times) // 4], times[3 * len(times) // 4]
    result = runner.invoke(cli, ["export", "--from", start, "--to", end])
    assert result.exit_code == 0, result.output
    exported = lines(result.stdout)
    assert exported == [e for e in everything if start <= str(e["at"]) < end]
    assert 0 < len(exported) < len(everything)
    only = lines(runner.invoke(cli, ["export", "--type", "Raised,Closed"]).stdout)
    assert {e["type"] for e in only} == {"Raised", "Closed"}
    assert len([e for e in only if e["type"] == "Raised"]) == 21


def test_the_event_export_never_shows_a_reporters_contact(
    runner: CliRunner, history: list[dict[str, object]]
) -> None:
    output = runner.invoke(cli, ["export"]).stdout
    assert PHONE not in output and NAME not in output
    first = lines(output)[0]
    assert first["type"] == "Raised" and first["data"]["reporter_ref"]  # type: ignore[index]


def test_the_score_export_is_what_the_scores_say(
    runner: CliRunner, services: Services, clock: FakeClock, history: list[dict[str, object]], tmp_path
) -> None:
    out = tmp_path / "scores.csv"
    scores = ["export", "--what", "scores", "--headers", "en"]
    result = runner.invoke(cli, [*scores, "--period", "2026-11", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    with services.engine.connect() as conn:
        want = unit_scores(
            conn,
            services.app.org,
            UnitKind.DEPARTMENT,
            parse_period("2026-11"),
            clock.now(),
            services.settings.score_weights,
            services.settings.min_evaluated_for_rank,
        )
    departments = [r for r in rows if r["kind"] == "department"]
    assert [r["unit"] for r in departments] == [w["unit"] for w in want]
    for got, w in zip(departments, want, strict=True):
        assert got["received"] == str(w["counts"]["received"])
        assert got["solve_rate"] == ("" if w["solve_rate"] is None else str(w["solve_rate"]))
        assert got["rank"] == ("" if w["rank"] is None else str(w["rank"]))
    assert {r["kind"] for r in rows} == {"street", "department"}
    dates = runner.invoke(cli, [*scores, "--from", "2026-11-01", "--to", "2026-11-30"])
    assert dates.exit_code == 0
    assert dates.stdout.replace("2026-11-01..2026-11-30", "2026-11") == out.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "args",
    [
        ["export", "--what", "everything"],
        ["export", "--type", "Exploded"],
        ["export", "--from", "2026-11-23T09:00:00"],
        ["export", "--what", "scores", "--period", "2026-13"],
        ["export", "--what", "scores", "--kind", "grid"],
    ],
)
def test_a_bad_export_request_says_why_and_exits_2(runner: CliRunner, args: list[str]) -> None:
    result = runner.invoke(cli, args)
    assert result.exit_code == 2
    assert "error:" in result.output


def test_a_time_filtered_page_that_finds_little_says_where_to_go_on(
    services: Services, history: list[dict[str, object]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page looks at a bounded number of events; the client follows ``next``."""
    monkeypatch.setattr(feed_module, "_SCAN_BUDGET", 10)
    last = history[-1]
    assert isinstance(last["at"], datetime)
    late = FeedQuery(window=Window(start=last["at"]))  # only the very last moment of the log
    feed = EventFeed(services.app)
    page = feed.page(late, 0, 50)
    assert page.records == [] and page.next is not None and page.next >= 10
    found, after = [], 0
    while True:
        page = feed.page(late, after, 50)
        found += page.records
        if page.next is None:
            break
        after = page.next
    assert found and found[-1]["position"] == last["position"]
    assert page.position == last["position"]
