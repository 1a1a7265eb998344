"""Reference data: the organisation and the 呼应事项清单 catalog, with their versions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from huying.api.deps import CurrentPrincipal, HuyingApp
from huying.reference import to_public_catalog, to_public_org

router = APIRouter(prefix="/api/v1", tags=["reference data"])


@router.get("/catalog")
def get_catalog(_: CurrentPrincipal, app: HuyingApp) -> dict[str, Any]:
    """The catalog calls are raised under: areas → categories → items, each with its SLA."""
    return to_public_catalog(app.catalog)


@router.get("/org")
def get_org(_: CurrentPrincipal, app: HuyingApp) -> dict[str, Any]:
    """The district: streets → communities → grids, and the departments."""
    return to_public_org(app.org)
