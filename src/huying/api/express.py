"""Express routes: a hot route's ordinary requests answered without FastAPI's per-request work.

For every request FastAPI matches the route among the app's routers, solves its dependencies
(each one's parameters looked for, its cache key worked out), parses the body with ``json``
and validates the result, inside its exception and exit-stack middleware. Answered express,
P1's raise costs the API process 3.00 million instructions instead of 3.71 (callgrind,
``bench.instructions``; docs/benchmarks.md): the 0.71 million saved are two thirds of what
the whole bare endpoint P1 compares it with costs (1.07 million).

A route joins with ``@express`` under its FastAPI decorator. It stays a FastAPI route — declared,
documented and served as before — and ``Express``, just inside the gate, answers its ordinary
requests itself, calling the same endpoint with what its dependencies would have given it:

- the method and path are the route's own, with no query string;
- the body is JSON (``Content-Type: application/json``) and valid as the route's body model
  (``model_validate_json``, in Rust, not ``json.loads`` and a second walk in Python);
- each dependency FastAPI would run (coroutines reading the request: the app's own check of
  the parameters, the gate's principal, the services, the request's identity headers)
  answers without raising.

Any other request, any request whose body or headers do not pass, and every request while a
dependency is overridden (``app.dependency_overrides``), goes on to FastAPI untouched, and is
answered as it always was: every refusal's wording stays FastAPI's and ``problems.py``'s, in
one place. Nothing is done before that is decided, so going on costs only the checks. What the
endpoint raises is answered by the app's own exception handlers, through Starlette's
``ExceptionMiddleware``, as for any route.

FastAPI's own per-route hooks (its native telemetry of a route) do not see an express request;
huying's metrics (``HttpMetrics``, outside the gate) count it under its route as any other.

Which routes may be express is checked when the app is built (``ExpressRoute.of``): an
``async`` endpoint with one JSON body model and no path, query, header or cookie parameters,
whose dependencies, the app's own among them, are coroutines of the request alone.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import params
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette._utils import get_route_path
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from huying.api.gate import replay, whole_body

E = TypeVar("E", bound=Callable[..., Awaitable[Any]])

_MARK = "__huying_express__"
_JSON = b"application/json"


def express(endpoint: E) -> E:
    """Marks an endpoint (under its FastAPI decorator) whose ordinary requests ``Express``
    answers itself."""
    setattr(endpoint, _MARK, True)
    return endpoint


class NotExpress(TypeError):
    """A route marked ``@express`` that takes what ``Express`` does not give (found at start)."""


@dataclass(frozen=True)
class ExpressRoute:
    route: APIRoute
    body_name: str
    body_model: type[BaseModel]
    # Each dependency FastAPI would run for the route, the app's own first, by the endpoint's
    # parameter it fills (None: the app's, run for what it checks).
    dependencies: tuple[tuple[str | None, Callable[[Request], Awaitable[Any]]], ...]

    @classmethod
    def of(cls, route: APIRoute, shared: Sequence[params.Depends] = ()) -> ExpressRoute:
        d = route.dependant
        where = f"{' '.join(sorted(route.methods or ()))} {route.path}"
        if not inspect.iscoroutinefunction(route.endpoint):
            raise NotExpress(f"{where}: an express endpoint is a coroutine (it runs on the loop)")
        if _parameters(d) or d.request_param_name or len(d.body_params) != 1:
            raise NotExpress(f"{where}: an express route takes one JSON body and no other parameters")
        body = d.body_params[0]
        model = body.field_info.annotation
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise NotExpress(f"{where}: an express route's body is a pydantic model")
        app_wide = [get_dependant(path=route.path, call=dep.dependency) for dep in shared if dep.dependency]
        dependencies = [*app_wide, *d.dependencies]
        return cls(route, body.name, model, tuple(_of_request(where, dep) for dep in dependencies))

    async def arguments(self, request: Request, body: bytes) -> dict[str, Any] | None:
        """The endpoint's arguments, or None where FastAPI should answer instead."""
        try:
            found = {self.body_name: self.body_model.model_validate_json(body)}
            for name, dependency in self.dependencies:
                value = await dependency(request)
                if name is not None:
                    found[name] = value
        except Exception:  # FastAPI will meet the same, and answer it as it does
            return None
        return found


def _of_request(where: str, dep: Dependant) -> tuple[str | None, Callable[[Request], Awaitable[Any]]]:
    """A dependency ``Express`` can call: a coroutine taking the request alone, nothing below it."""
    if (
        dep.call is None
        or not inspect.iscoroutinefunction(dep.call)
        or dep.dependencies
        or dep.body_params
        or _parameters(dep)
    ):
        raise NotExpress(f"{where}: dependency {dep.name} is not a coroutine of the request alone")
    request_param = dep.request_param_name
    call = dep.call
    if request_param is None:
        return dep.name, lambda _: call()
    return dep.name, lambda request: call(**{request_param: request})


def _parameters(d: Dependant) -> bool:
    """Whether ``d`` takes anything from the request but its body and the request itself."""
    return bool(
        d.path_params
        or d.query_params
        or d.header_params
        or d.cookie_params
        or d.http_connection_param_name
        or d.websocket_param_name
        or d.response_param_name
        or d.background_tasks_param_name
        or d.security_scopes_param_name
    )


def express_routes(routes: Iterable[Any], shared: Sequence[params.Depends] = ()) -> list[ExpressRoute]:
    """The routes marked ``@express`` among ``routes`` (a router's); ``shared``: the app's own
    dependencies, which FastAPI runs for every route."""
    return [
        ExpressRoute.of(route, shared)
        for route in routes
        if isinstance(route, APIRoute) and getattr(route.endpoint, _MARK, False)
    ]


class Express:
    """ASGI middleware, inside the gate (so the principal is known and the body within its
    limit): answers express routes' ordinary requests, and passes every other request on."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Iterable[ExpressRoute],
        exception_handlers: Mapping[Any, Any],
        dependency_overrides: Mapping[Any, Any] | None = None,
    ) -> None:
        self.app = app
        # The app's own (live): while any dependency is overridden, FastAPI answers everything.
        self._overrides = dependency_overrides if dependency_overrides is not None else {}
        self.routes = {(method, r.route.path): r for r in routes for method in r.route.methods or ()}
        # The app's handlers, as FastAPI gives them to its ExceptionMiddleware (500 and
        # ``Exception`` go to the server-error middleware outside, as for any route).
        handlers = {k: v for k, v in exception_handlers.items() if k not in (500, Exception)}
        self._handled = ExceptionMiddleware(_raise_again, handlers=handlers)
        # Requests to express routes answered here, and those passed on once their body or a
        # header did not pass (tests read them).
        self.answered = self.passed_on = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        express = (
            self.routes.get((scope["method"], get_route_path(scope)))
            if scope["type"] == "http" and not scope.get("query_string") and not self._overrides
            else None
        )
        if express is None or _content_type(scope) != _JSON:
            await self.app(scope, receive, send)
            return
        body = await whole_body(receive)
        if body is None:
            return  # the client left mid-body: nothing to answer
        receive = replay(body, receive)
        route = scope["route"] = express.route  # as FastAPI's matching sets it (for the checks, metrics)
        scope["endpoint"] = route.endpoint
        arguments = await express.arguments(Request(scope, receive), body)
        if arguments is None:
            self.passed_on += 1
            await self.app(scope, receive, send)
            return
        self.answered += 1
        try:
            answer = await route.endpoint(**arguments)
        except Exception as e:
            # Answered by the app's handlers, through Starlette's own middleware, as for any
            # route; only where something was raised (it costs a raise nothing otherwise).
            scope[_RAISED] = e
            await self._handled(scope, receive, send)
            return
        if not isinstance(answer, Response):
            what = type(answer).__name__
            raise TypeError(f"express endpoint {route.path} answered a {what}, not a Response")
        await answer(scope, receive, send)


_RAISED = "huying.express.raised"


async def _raise_again(scope: Scope, receive: Receive, send: Send) -> None:
    raise scope.pop(_RAISED)


def _content_type(scope: Scope) -> bytes:
    """The media type sent, lower case, without its parameters (``; charset=utf-8``)."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            media_type: bytes = value.partition(b";")[0].strip().lower()
            return media_type
    return b""
