"""A settled period's scores do not move (docs/metrics.md §12), and its published 考评 is a
frozen, versioned record (docs/publications.md).

Two streets each resolve one call in November 2026 and are evaluated (solved, satisfied); on the
last afternoon of the month each gets one more call it has not answered by midnight. 岭南 (LN)
answers its own in time on 1 December; 华林 (HL) never does. With no settling window November is
settled at midnight: from then on both are judged as they stood at that instant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backends import Backend
from huying.clock import FakeClock
from huying.settings import Settings

from .test_figures import Tokens, Week, ack

LN, HL = ("street", "LW-LN"), ("street", "LW-HL")
UP = {"reason": "社区无法解决，上呼街道"}


@pytest.fixture
def settings(backend: Backend, data_dir: Path) -> Settings:
    return backend.settings(data_dir, run_watchdog=False, min_evaluated_for_rank=1, settle_working_days=0)


def resolved_and_evaluated(w: Week, name: str, grid: str, street: tuple[str, str]) -> None:
    community = ("community", grid.rsplit("-", 1)[0])
    w.raise_call(name, grid)
    w.act(name, *ack(community))
    w.act(name, "escalate", community, UP)
    w.act(name, *ack(street))
    w.act(name, "resolve", street, {"summary": "已处理"})
    w.act(name, "evaluate", community, {"solved": True, "satisfaction": "satisfied"})


@pytest.fixture
def november(client: TestClient, tokens: Tokens, clock: FakeClock) -> Week:
    w = Week(client, tokens, clock)
    w.at(11, 23, 9)
    resolved_and_evaluated(w, "X", "LW-LN-01-G01", LN)
    resolved_and_evaluated(w, "Y", "LW-HL-01-G01", HL)
    # Monday 30 November, 16:00: both streets get a call; their 2-working-hour response clocks
    # run to Tuesday morning.
    w.at(11, 30, 16).raise_call("Z", "LW-LN-02-G01")
    w.raise_call("W", "LW-HL-02-G01")
    w.at(11, 30, 16, 10).act("Z", "escalate", ("community", "LW-LN-02"), UP)
    w.act("W", "escalate", ("community", "LW-HL-02"), UP)
    return w


def streets(w: Week) -> dict[str, Any]:
    return w.get("/api/v1/scores/units", kind="street", period="2026-11")


def ranks(body: dict[str, Any]) -> list[tuple[str, int | None]]:
    return [(s["unit"], s["rank"]) for s in body["data"]]


def test_a_settled_months_scores_stay_put_as_the_clock_moves_on(november: Week) -> None:
    w = november
    settled = streets(w.at(12, 1, 8))  # after the cutoff, before either clock ran out
    assert ranks(settled)[:2] == [("LW-LN", 1), ("LW-HL", 1)]
    assert settled["settled"] is True and settled["settles_at"] == "2026-11-30T16:00:00Z"
    w.at(12, 1, 9).act("Z", *ack(LN))  # in time, but after the cutoff
    for later in ((12, 2, 9), (12, 28, 9)):
        again = streets(w.at(*later))
        assert again["data"] == settled["data"], later
    ln = next(s for s in settled["data"] if s["unit"] == "LW-LN")
    assert (ln["response_rate"], ln["counts"]["responses"]["pending"]) == (0.5, 1)
