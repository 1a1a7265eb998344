"""huying's routers: FastAPI's, told to pass at once over a request outside their paths.

FastAPI (0.165) matches a request against the app's routers in turn, and each router it passes
over is asked route by route, each route with its own bookkeeping in the request's scope: for a
route of the twelfth router, most of a request's framework time went to being refused by the
eleven before it. A router here knows the literal start every one of its paths shares, and
refuses a path that does not start with it before looking at any route — the answer its routes
would all have given (no route matches a path, not even partly, outside its own path).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette._utils import get_route_path
from starlette.routing import Match
from starlette.types import Scope


class Router(APIRouter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shared: str | None = None

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if not get_route_path(scope).startswith(self.shared_start()):
            return Match.NONE, {}
        return super().matches(scope)

    def shared_start(self) -> str:
        """What every route's path starts with before its first parameter ('' if a route has no
        path): worked out at the first request, when the app has all its routes."""
        if self._shared is None:
            paths = [getattr(route, "path", None) for route in self.routes]
            literal = [path.split("{", 1)[0] for path in paths if isinstance(path, str)]
            self._shared = _common_start(literal) if literal and len(literal) == len(paths) else ""
        return self._shared


def _common_start(texts: list[str]) -> str:
    """The longest string every one of ``texts`` starts with."""
    first, last = min(texts), max(texts)  # what the first and the last share, all share
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    return first[:n]
