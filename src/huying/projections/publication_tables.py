"""Published 考评 read-model table: one row per version of each publication, so the list shows
every version. Every row belongs to one publication (``publication_id``), so the projector
replaces its rows wholesale whenever it changes. Schema owned by Alembic
(``migrations/versions/0011p_publications.py``, ``0012f_publication_kinds.py``)."""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, String, Table

from huying.db import UtcDateTime, metadata

rm_publications = Table(
    "rm_publications",
    metadata,
    Column("publication_id", String(36), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("position", Integer, nullable=False, unique=True),  # this version's event: the cursor
    Column("period", String(8), nullable=False),  # YYYY-MM, YYYY-Qn, YYYY
    Column("kind", String(32), nullable=False),  # street, department, street_assessment, …
    Column("settles_at", UtcDateTime(), nullable=False),
    Column("published_at", UtcDateTime(), nullable=False),
    Column("published_by", String(64), nullable=False),  # the supervisor's unit
    Column("latest", Integer, nullable=False),  # the publication's current version
    Column("reason", String(500), nullable=True),  # a re-publication's why
    Column("replaces", Integer, nullable=True),
    Column("units_changed", Integer, nullable=True),
    Index("ix_rm_publications_period", "kind", "period"),
)

PUBLICATION_TABLES = (rm_publications,)
