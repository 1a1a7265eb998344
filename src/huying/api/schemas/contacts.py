"""个人信息访问记录 on the wire: who was shown a reporter's contact in full."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from huying.api.schemas.calls import Actor


class ContactAccessPublic(BaseModel):
    id: int = Field(description="the record's cursor: pass it as `after` for the records that follow")
    at: datetime = Field(description="business time of the answer that showed the contact")
    actor: Actor
    call_id: str
    shown: list[Literal["name", "phone"]] = Field(description="the details shown in full")


class ContactAccessPage(BaseModel):
    data: list[ContactAccessPublic]
    next: int | None = Field(description="cursor of the following page; null at the end")
