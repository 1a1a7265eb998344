"""P1's baseline: ``POST /api/v1/calls`` with huying's own ``CallCreate`` model, nothing stored."""

from __future__ import annotations

from uuid import uuid4

from fastapi import FastAPI

from huying.api.schemas.requests import CallCreate

app = FastAPI()


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/api/v1/calls", status_code=201)
def raise_call(body: CallCreate) -> dict[str, str]:
    return {"id": str(uuid4()), "item_code": body.item_code, "grid_code": body.grid_code}
