"""The projector names every spread it writes: a spread left without its digest by an older
release (0020d) is named again the next time its row is written, even when its times did not
change."""

from __future__ import annotations

from datetime import date

from huying.projections import spread
from huying.projections.tables import SLA_COUNTS, SPREADS
from huying.projections.tallies import _Change, _sla_row


def test_a_row_written_again_gets_the_digest_an_older_release_left_out() -> None:
    blob = spread.encode(spread.of_times([60.0, 3_600.0, 7_200.0]))
    stored = (
        dict.fromkeys(SLA_COUNTS, 3)
        | {f"{kind}_{part}": None for kind in SPREADS for part in ("p50", "p90", "digest")}
        | {f"{kind}_n": 3 for kind in SPREADS}
        | {f"{kind}_spread": blob for kind in SPREADS}
        | {"response_digest": spread.digest(blob)}
    )
    change = _Change()
    change.counts[SLA_COUNTS.index("received")] = 1  # a raise: counts, no time
    row = _sla_row(("community", "LW", "day", date(2026, 11, 23)), stored, [change])
    assert row is not None and row["received"] == 4
    assert row["resolution_digest"] == row["response_digest"] == spread.digest(blob)
    assert row["resolution_spread"] is blob
