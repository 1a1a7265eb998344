"""一呼一评 by the caller, and the fair attribution of 督办: read-model tables. Every row belongs
to one call (``call_id``), so the projector replaces a call's rows wholesale whenever it
changes. Schema owned by Alembic (``migrations/versions/0011a_caller_ratings.py``)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, String, Table, Text

from huying.db import UtcDateTime, metadata

# 一呼一评 by the caller — one row per rating: a street's of a department's work order
# (``target`` the order's id), a community's of its street's response (``target`` "round-<n>").
rm_caller_ratings = Table(
    "rm_caller_ratings",
    metadata,
    Column("call_id", String(36), primary_key=True),
    Column("target", String(80), primary_key=True),
    Column("kind", String(16), nullable=False),  # work_order | street_response
    Column("round", Integer, nullable=False),
    Column("rated_unit", String(64), nullable=False),
    Column("rater_unit", String(64), nullable=False),
    Column("satisfaction", String(32), nullable=False),
    Column("comment", Text, nullable=True),
    Column("at", UtcDateTime(), nullable=False),
    Index("ix_rm_caller_ratings_rated", "rated_unit", "at"),
)

# 督办, charged fairly (docs/metrics.md §11) — one row per 督办 flag: the unit it counts against.
# A flag on a street stint's resolution clock raised while a department's order was overdue
# counts against that department (``moved`` true), not the street.
rm_supervision_charges = Table(
    "rm_supervision_charges",
    metadata,
    Column("call_id", String(36), primary_key=True),
    Column("n", Integer, primary_key=True),
    Column("flagged_unit", String(64), nullable=False),
    Column("charged_unit", String(64), nullable=False),
    Column("moved", Boolean, nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Index("ix_rm_supervision_charges_charged", "charged_unit", "at"),
)

RATING_TABLES = (rm_caller_ratings, rm_supervision_charges)
