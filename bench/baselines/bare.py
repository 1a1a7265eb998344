"""P1's baseline: ``POST /api/v1/calls`` with huying's own ``CallCreate`` model, nothing stored."""

from __future__ import annotations

from uuid import uuid4

from bench.baselines.app import serving
from huying.api.schemas.requests import CallCreate


def nowhere(_: CallCreate) -> str:
    return str(uuid4())


app = serving(nowhere)
