"""What every baseline server shares: ``POST /api/v1/calls`` with huying's own ``CallCreate``
model (validated exactly as huying validates it), answered 201 with the stored id, and a
``/healthz`` for the driver to wait on. Each baseline says only how it stores a call."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI

from huying.api.schemas.requests import CallCreate


def serving(store: Callable[[CallCreate], str]) -> FastAPI:
    app = FastAPI()

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/api/v1/calls", status_code=201)
    def raise_call(body: CallCreate) -> dict[str, str]:
        return {"id": store(body), "item_code": body.item_code, "grid_code": body.grid_code}

    return app
