"""Names beside codes: what people read (十三行社区, 生活垃圾清运不及时) next to the codes systems
match on. Names come from the current org and catalog; a code neither knows any more is shown
with ``null`` beside it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any

from fastapi import Depends, Request

from huying.domain.catalog import Catalog
from huying.domain.org import Org

# A code field of the read models → the name shown beside it.
NAME_OF = {
    "item_code": "item_name",
    "grid_code": "grid_name",
    "community_code": "community_name",
    "street_code": "street_name",
    "holder": "holder_name",
    "department_code": "department_name",
    "unit": "unit_name",
}


@dataclass(frozen=True)
class Names:
    """``catalog_source``: the catalog, or how to read it when an item's name is first asked
    for (``catalog``)."""

    org: Org
    catalog_source: Catalog | Callable[[], Catalog]

    @cached_property
    def catalog(self) -> Catalog:
        """The catalog in effect: read (it may ask the store for edits) on first use, in the
        thread that asks first — an answer naming no item never reads it."""
        given = self.catalog_source
        return given if isinstance(given, Catalog) else given()

    def of(self, field: str, code: str | None) -> str | None:
        """The name of the item or unit ``code`` in the code field ``field``."""
        if code is None:
            return None
        if field == "item_code":
            item = self.catalog.item(code)
            return item.name if item else None
        unit = self.org.unit(code)
        return unit.name if unit else None

    def beside(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """A name for every code field the row has, under its name field."""
        return {name: self.of(field, row[field]) for field, name in NAME_OF.items() if field in row}


async def _names(request: Request) -> Names:
    """On the loop, reading nothing: the catalog is read where the first item name is looked up
    — in a route's worker thread (an async route looks one up in its thread before the loop
    writes the answer: ``Names.catalog``)."""
    app = request.app.state.services.app
    return Names(app.org, lambda: app.catalog)


ShownNames = Annotated[Names, Depends(_names)]
