"""Query parameters the call lists share: the search (``GET /api/v1/calls``) and the ledger."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query


async def _attention(
    ready_to_resolve: Annotated[
        bool | None, Query(description="the lead order is completed: the street can resolve (办结)")
    ] = None,
    pending_extension: Annotated[
        bool | None, Query(description="an extension request (申请延期) awaits the street's decision")
    ] = None,
    returned_order: Annotated[
        bool | None, Query(description="an order of the latest dispatch was returned (退单)")
    ] = None,
) -> tuple[tuple[str, bool], ...]:
    """What the holder street has to decide: each flag asked for, and whether it must be set."""
    asked = {
        "ready_to_resolve": ready_to_resolve,
        "pending_extension": pending_extension,
        "returned_order": returned_order,
    }
    return tuple((flag, wanted) for flag, wanted in asked.items() if wanted is not None)


Attention = Annotated[tuple[tuple[str, bool], ...], Depends(_attention)]
