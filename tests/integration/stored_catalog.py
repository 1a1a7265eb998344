"""The admin's catalog edits stored by huying, kept as a fixture beside ``stored_by_main``,
``stored_tasks`` and ``stored_scores`` and compared the same way (``stored_by_main.replayed``).

``tests/fixtures/stored_catalog/`` holds a data directory written at the commit named in
``observed.json.gz`` (``written_at``) by ``python -m tests.integration.stored_catalog``: a call
raised under the shipped catalog; then every event class of ``CatalogEdits`` (``Begun`` with the
first edit, ``ItemAdded``, ``ItemChanged``, ``ItemRetired``, ``ItemRestored``) and a call raised
under the edited catalog — and what that huying answered about the catalog, its edits and both
calls. ``test_stored_catalog`` replays the log with today's code.
"""

from __future__ import annotations

import sys
from pathlib import Path

from httpx import Client

from catalog_items import NEW_ITEM, SLA
from huying.bootstrap import Services
from huying.clock import FakeClock
from huying.domain.principal import Principal, Role
from huying.service_layer.calls import CallDraft
from huying.service_layer.command_path import Submission

from .stored_by_main import Observed, Reader, feed_and_verdict, read_model_rows, write_at_head

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "stored_catalog"

ADMIN, GRID = Principal(Role.ADMIN, "LW"), Principal(Role.GRID_WORKER, "LW-LN-01-G01")
ONCE = Submission()
VIEWS = ("", "/edits", "/items/C01-04", "/items/C01-01", "/items/C01-02")


def story(s: Services, clock: FakeClock) -> None:
    """A call under 2026.1; C01-04 added, C01-01's SLA changed, C01-02 retired and restored; a
    call under the edited C01-01 (2026.1+2)."""
    raised = CallDraft("C01-01", GRID.unit, "垃圾堆积", "十三行路口垃圾三天无人清运", "grid_worker")
    s.calls.raise_call(GRID, raised, ONCE)
    clock.advance(3600)
    s.catalog_edits.add_item(ADMIN, Submission(key="add-c01-04", fingerprint="f"), NEW_ITEM)
    s.catalog_edits.change_item(ADMIN, "C01-01", ONCE, {"sla": SLA, "priority": "urgent"})
    s.calls.raise_call(GRID, raised, ONCE)
    clock.advance(3600)
    s.catalog_edits.retire_item(ADMIN, "C01-02", ONCE, "并入垃圾堆积")
    s.catalog_edits.restore_item(ADMIN, "C01-02", ONCE, "分开统计")


def observe(services: Services, client: Client) -> Observed:
    """The catalog, its edits and three of its items as a grid worker reads them; both calls now
    and as their history tells; the feed, verify's verdict, the read-model rows."""
    reader = Reader(client, services)
    sup, grid = (Role.SUPERVISOR, "LW"), (Role.GRID_WORKER, GRID.unit)
    seen: Observed = {"rows": read_model_rows(services), "calls": {}}
    seen["catalog"] = {"LW": {v: reader.get(*grid, f"/api/v1/catalog{v}") for v in VIEWS}}
    for n in services.app.recorder.select_notifications(1, 100_000):
        if n.topic.endswith("Call.Raised"):
            base = f"/api/v1/calls/{n.originator_id}"
            seen["calls"][str(n.originator_id)] = {
                v: reader.get(*sup, f"{base}{v}") for v in ("", "/history")
            }
    return {**seen, **feed_and_verdict(reader)}


def write(target: Path = FIXTURE) -> None:  # pragma: no cover  (run by hand)
    write_at_head(target, story, observe)


if __name__ == "__main__":  # pragma: no cover
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else FIXTURE)
