"""The console's pages, one router per area of work, mounted by ``huying.web.console.install``.
A later area (令行禁止, 联席会议) registers its router here and its entry in ``huying.web.nav``."""

from __future__ import annotations

from fastapi import APIRouter

from huying.web.render import PageRoute

_ROUTERS: list[APIRouter] = []


def page_router() -> APIRouter:
    """A router whose routes are console pages (HTML refusals, sign-in redirects), kept out of
    the API's OpenAPI document."""
    return APIRouter(route_class=PageRoute, include_in_schema=False)


def register(router: APIRouter) -> None:
    _ROUTERS.append(router)


def routers() -> list[APIRouter]:
    return list(_ROUTERS)
