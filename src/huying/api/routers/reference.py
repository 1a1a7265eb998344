"""Reference data: the organisation and the 呼应事项清单 catalog, with their versions; and the
admin's edits of the catalog (the organisation is shipped, never edited here)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Path, Response

from huying.api.deps import CurrentPrincipal, HuyingApp, HuyingServices, Identity
from huying.api.present import history_entry, unvouched_entry
from huying.api.routing import Router
from huying.api.schemas.calls import UnvouchedEvent
from huying.api.schemas.catalog import CatalogEditHistory, CatalogItem, ItemChange, NewItem, Reason
from huying.domain.catalog import Catalog
from huying.domain.catalog_edits import CatalogEdits, effective
from huying.domain.errors import CatalogItemNotFound
from huying.reference import to_public_catalog, to_public_org
from huying.service_layer.command_path import Recorded

router = Router(prefix="/api/v1", tags=["reference data"])

ItemCode = Annotated[str, Path(max_length=64)]


@router.get("/catalog")
def get_catalog(_: CurrentPrincipal, app: HuyingApp) -> dict[str, Any]:
    """The catalog calls are raised under: areas → categories → items, each with its SLA."""
    return to_public_catalog(app.catalog)


@router.get("/org")
def get_org(_: CurrentPrincipal, app: HuyingApp) -> dict[str, Any]:
    """The district: streets → communities → grids, and the departments."""
    return to_public_org(app.org)


# --- the admin's edits of the catalog ---------------------------------------------------------


def _item(catalog: Catalog, code: str, position: int | None = None) -> CatalogItem:
    item = catalog.item(code)
    if item is None:
        raise CatalogItemNotFound(f"no item {code} in catalog {catalog.version}")
    return CatalogItem(
        catalog_version=catalog.version,
        item=item.as_plain(),
        retired=code in catalog.retired,
        position=position,
    )


def _edited(
    s: HuyingServices, code: str, recorded: Recorded[CatalogEdits], response: Response
) -> CatalogItem:
    """The item as the edit left it, in the catalog version the edit made (a repeat's too)."""
    if recorded.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    catalog = effective(s.app.shipped_catalog, recorded.aggregate)
    return _item(catalog, code, recorded.position)


@router.get("/catalog/items/{item_code}", response_model=CatalogItem)
def get_item(item_code: ItemCode, _: CurrentPrincipal, app: HuyingApp) -> CatalogItem:
    """One item of the catalog in effect, retired ones too (their calls still name them)."""
    return _item(app.catalog, item_code)


@router.post("/catalog/items", status_code=201, response_model=CatalogItem)
def add_item(
    body: NewItem, p: CurrentPrincipal, s: HuyingServices, ident: Identity, response: Response
) -> CatalogItem:
    """The admin adds an item: the catalog's next version; new calls may be raised under it."""
    recorded = s.catalog_edits.add_item(p, ident.submission(body), body.model_dump())
    response.headers["Location"] = f"/api/v1/catalog/items/{quote(body.code)}"  # any text a code may be
    return _edited(s, body.code, recorded, response)


@router.patch("/catalog/items/{item_code}", response_model=CatalogItem)
def change_item(
    item_code: ItemCode,
    body: ItemChange,
    p: CurrentPrincipal,
    s: HuyingServices,
    ident: Identity,
    response: Response,
) -> CatalogItem:
    """The admin changes an item's fields (those sent): new calls are raised under the change,
    calls raised before keep the version and SLA they were raised under."""
    changes = body.model_dump(exclude_none=True)
    return _edited(
        s, item_code, s.catalog_edits.change_item(p, item_code, ident.submission(body), changes), response
    )


@router.post("/catalog/items/{item_code}/retire", response_model=CatalogItem)
def retire_item(
    item_code: ItemCode,
    body: Reason,
    p: CurrentPrincipal,
    s: HuyingServices,
    ident: Identity,
    response: Response,
) -> CatalogItem:
    """停用: no new call may be raised under the item (422 naming item_code); its calls go on."""
    return _edited(
        s, item_code, s.catalog_edits.retire_item(p, item_code, ident.submission(body), body.reason), response
    )


@router.post("/catalog/items/{item_code}/restore", response_model=CatalogItem)
def restore_item(
    item_code: ItemCode,
    body: Reason,
    p: CurrentPrincipal,
    s: HuyingServices,
    ident: Identity,
    response: Response,
) -> CatalogItem:
    """The item in effect again: new calls may be raised under it."""
    return _edited(
        s,
        item_code,
        s.catalog_edits.restore_item(p, item_code, ident.submission(body), body.reason),
        response,
    )


@router.get("/catalog/edits", response_model=CatalogEditHistory)
def get_edits(p: CurrentPrincipal, s: HuyingServices) -> CatalogEditHistory:
    """Who edited the catalog, when and how: every edit as stored, in order."""
    history = s.catalog_edits.history(p)
    version = s.app.catalog.version
    if history is None:
        return CatalogEditHistory(catalog_version=version, data=[])
    return CatalogEditHistory(
        catalog_version=version,
        data=[history_entry(pos, e) for pos, e in history.events],
        unvouched=[UnvouchedEvent.model_validate(unvouched_entry(f)) for f in history.unvouched],
    )
