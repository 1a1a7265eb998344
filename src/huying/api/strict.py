"""Unknown query parameters are refused — 422 naming each — on every endpoint alike.

FastAPI ignores what a route does not declare, so a misspelt filter (``?staus=open``) or one the
endpoint does not have answered as if it had not been asked: ``?q=垃圾`` once returned every
call. Installed once for the whole app, this dependency compares the query string with what the
matched route and its dependencies declare, before anything else of the route runs.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel

from huying.api.params import no_nul_in_parameters


async def checked_parameters(request: Request) -> None:
    """Every route's parameters: no NUL in any, no unknown one in the query. One dependency for
    both, since FastAPI solves each dependency of every request anew (its header, query, path
    and cookie parameters looked for, its cache key worked out). A request with neither a query
    string nor path parameters has nothing to check (a raise: no query is parsed for it)."""
    if not request.scope.get("query_string") and not request.scope.get("path_params"):
        return
    await no_nul_in_parameters(request)
    await refuse_unknown_query(request)


async def refuse_unknown_query(request: Request) -> None:
    route = request.scope.get("route")
    # Routes outside the API's schema (the Swagger page and its OAuth redirect) are not huying's.
    if not isinstance(route, APIRoute) or not route.include_in_schema:
        return
    known = declared_query(route)
    unknown = sorted(set(request.query_params) - known)
    if not unknown:
        return
    takes = ", ".join(sorted(known)) or "no query parameters"
    raise RequestValidationError(
        [
            {
                "type": "unknown_parameter",
                "loc": ("query", name),
                "msg": f"unknown query parameter; {route.path} takes {takes}",
                "input": request.query_params[name],
            }
            for name in unknown
        ]
    )


def declared_query(route: APIRoute) -> set[str]:
    """The query parameters the route and all its dependencies declare, by their wire names
    (a walk over a handful of fields: cheaper than any cache keyed by a route, which is not
    hashable)."""
    return _query_names(route.dependant)


def _query_names(dependant: Dependant) -> set[str]:
    names: set[str] = set()
    for field in dependant.query_params:
        model = field.field_info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):  # a model of query parameters
            names |= {f.alias or name for name, f in model.model_fields.items()}
        else:
            names.add(field.alias)
    for inner in dependant.dependencies:
        names |= _query_names(inner)
    return names
