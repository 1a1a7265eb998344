"""A published 考评's rows: one per version, a pure function of the publication as of its last
event (the figures themselves are read from the event store, frozen in the events)."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Table

from huying.domain.publication import Publication
from huying.projections.publication_tables import rm_publications
from huying.projections.rows import Row


class PublicationRecord:
    kind = Publication
    key = "publication_id"
    tables: tuple[Table, ...] = (rm_publications,)

    def rows(self, publication: Publication, positions: Mapping[int, int]) -> Mapping[Table, list[Row]]:
        return {
            rm_publications: [
                {
                    "publication_id": str(publication.id),
                    "version": e.version,
                    "position": positions[e.version],
                    "period": publication.period,
                    "kind": publication.kind,
                    "settles_at": publication.settles_at,
                    "published_at": e.at,
                    "published_by": e.by["unit"],
                    "latest": publication.version,
                    "reason": e.reason[:500] if e.reason else None,
                    "replaces": e.replaces,
                    "units_changed": len(e.changes) if e.changes is not None else None,
                }
                for e in publication.editions
            ]
        }
