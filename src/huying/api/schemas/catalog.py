"""The admin's catalog edits on the wire: an item added, the fields of one changed, one retired
or restored, and the answers. The bodies check shape only (text, codes, sizes); what an item must
be is judged by the catalog file's own rules (``huying.reference.read_item``), the field named."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from huying.api.schemas.base import Body, Code, Text
from huying.api.schemas.calls import HistoryEntry, UnvouchedEvent


class Limit(Body):
    """A time limit: how many of which unit (working_hours, working_days, minutes)."""

    amount: int = Field(le=1_000_000)  # bounded here; a positive one is the catalog's rule
    unit: Code


# level (community, street, department) → response / resolution → its limit
Sla = dict[Code, dict[Code, Limit]]
_LEVELS = "each level (community, street, department): response and resolution, each {amount, unit}"


class ItemChange(Body):
    """The fields to change; those left out stay as they are. Code and category are for good."""

    name: Text | None = None
    trigger: Text | None = Field(None, description="启动情形")
    standard: Text | None = Field(None, description="处置标准")
    lead_department: Code | None = None
    assisting_departments: list[Code] | None = Field(None, max_length=20)
    priority: Code | None = Field(None, description="normal, high or urgent")
    sla: Sla | None = Field(None, description=_LEVELS)


class NewItem(Body):
    """A new item, in an existing category whose code its own starts with (C01-04 in C01)."""

    code: Code
    category: Code
    name: Text
    trigger: Text = Field(description="启动情形")
    standard: Text = Field(description="处置标准")
    lead_department: Code
    assisting_departments: list[Code] = Field(default_factory=list, max_length=20)
    priority: Code = Field(description="normal, high or urgent")
    sla: Sla = Field(description=_LEVELS)


class Reason(Body):
    reason: Text = Field(description="why the item is retired or restored")


class CatalogItem(BaseModel):
    """An item of the catalog in effect, and whether it is retired (no new calls under it)."""

    catalog_version: str
    item: dict[str, Any]
    retired: bool
    position: int | None = None  # the log position of the edit, on an edit's answer


class CatalogEditHistory(BaseModel):
    """Every edit of the catalog as stored (empty before the first)."""

    catalog_version: str
    data: list[HistoryEntry]
    unvouched: list[UnvouchedEvent] = Field(default_factory=list)
