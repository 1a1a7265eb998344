"""令行禁止 — a directive's rows: the directive, and each target's stage, clocks and evidence.
Pure functions of the directive as of its last event (no "now"): how late a target is "now" is
the queries' question (``huying.queries.directives``)."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Table

from huying.domain.directive import Directive
from huying.domain.directive_clocks import completion_clock, receipt_clock
from huying.domain.directive_states import Stage, Target
from huying.projections.directive_tables import rm_directive_targets, rm_directives
from huying.projections.rows import Row


class DirectiveBoard:
    kind = Directive
    key = "directive_id"
    tables: tuple[Table, ...] = (rm_directives, rm_directive_targets)

    def rows(self, directive: Directive, positions: Mapping[int, int]) -> Mapping[Table, list[Row]]:
        directive_id, seq = str(directive.id), positions[1]
        return {
            rm_directives: [
                {
                    "directive_id": directive_id,
                    "seq": seq,
                    "position": positions[directive.version],
                    "version": directive.version,
                    "issuer": directive.issuer,
                    "title": directive.title[:200],
                    "parent_id": directive.parent_id,
                    "origin_kind": (directive.origin or {}).get("kind"),
                    "issued_at": directive.issued_at,
                    "deadline": directive.deadline,
                    "evidence": " ".join(directive.evidence),
                    "cancelled": directive.cancelled,
                    "targets": len(directive.targets),
                    "accepted": sum(t.stage is Stage.ACCEPTED for t in directive.targets.values()),
                    "supervised": len(directive.supervisions),
                }
            ],
            rm_directive_targets: [
                {
                    "directive_id": directive_id,
                    "seq": seq,
                    "issuer": directive.issuer,
                    "issued_at": directive.issued_at,
                    "supervised": sum(s.unit == t.unit for s in directive.supervisions),
                    "updated_position": positions[t.last_version],
                    **_target(directive, t),
                }
                for t in directive.targets.values()
            ],
        }


def _target(directive: Directive, t: Target) -> Row:
    latest = t.reports[-1] if t.reports else None
    clocks = (receipt_clock(directive.issued_at, t), completion_clock(directive.issued_at, t))
    flagged = {s.clock for s in directive.supervisions}
    return {
        "unit": t.unit,
        "role": t.role.value,
        "stage": t.stage.value,
        "receipt_due": t.receipt_due,
        "due": t.due,
        "received_at": t.received_at,
        "reported_at": t.reported_at,
        "accepted_at": t.accepted_at,
        "cancelled_at": t.cancelled_at,
        "reworks": t.reworks,
        "reports": len(t.reports),
        "notes": len(t.notes),
        "result": latest.result if latest else None,
        "photos": " ".join(latest.photos) if latest and latest.photos else None,
        "extension_pending": t.pending_extension is not None,
        # The watchdog's index: the earliest running clock not yet flagged (督办 once per clock).
        "next_due": min(
            (c.due for c in clocks if c.due and c.stopped is None and c.key not in flagged), default=None
        ),
    }
