"""Signing in with a token, and out. Sign-in is guarded against login CSRF by a double-submit
cookie and the Origin header; the session cookie is HttpOnly and SameSite=Strict."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

import anyio.to_thread
from fastapi import Form, Request
from starlette.responses import RedirectResponse, Response

from huying.web import nav
from huying.web.context import CSRF_FIELD, SEEN_COOKIE, PostedForm, Viewer, sessions_of
from huying.web.pages import page_router, register
from huying.web.render import page, sign_in_redirect
from huying.web.sessions import COOKIE, LIFETIME

router = page_router()
LOGIN_COOKIE = "huying_login"  # the sign-in form's double-submit token


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/console/", status_code=303)


@router.get("/console/")
def home(session: Viewer) -> RedirectResponse:
    """Each principal lands on its own work: a grid worker's raise form, a street's worklist…"""
    return RedirectResponse(nav.home_of(session.principal), status_code=303)


@router.get("/console/login")
def sign_in_form(request: Request, next: str = "/console/") -> Response:
    return _form(request, next, None, 200)


def _form(request: Request, next: str, error: str | None, status: int) -> Response:
    token = secrets.token_urlsafe(24)
    response = page(request, "login.html", None, status, login_csrf=token, next=_local(next), error=error)
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", path="/console/login")
    return response


def _local(target: str) -> str:
    """Only a path of this console: never an open redirect to elsewhere."""
    return target if target.startswith("/console/") and not target.startswith("//") else "/console/"


@router.post("/console/login")
async def sign_in(
    request: Request,
    token: Annotated[str, Form(max_length=200)],
    csrf: Annotated[str, Form(alias=CSRF_FIELD, max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "/console/",
) -> Response:
    origin = request.headers.get("origin")
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if (origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}") or not (
        expected and hmac.compare_digest(expected.encode(), csrf.encode())
    ):
        return _form(request, next, "表单已过期，请重新登录。The form expired: sign in again.", 403)
    opened = await anyio.to_thread.run_sync(sessions_of(request).open, token.strip())
    if opened is None:
        return _form(request, next, "令牌无效或已吊销。Unknown or revoked token.", 401)
    secret, session = opened
    target = _local(next) if next != "/console/" else nav.home_of(session.principal)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        secret,
        max_age=int(LIFETIME.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    response.delete_cookie(LOGIN_COOKIE, path="/console/login")
    return response


@router.post("/console/logout")
async def sign_out(request: Request, _: PostedForm) -> Response:
    """签退: the session ends on the server too, so a copied cookie opens nothing."""
    await anyio.to_thread.run_sync(sessions_of(request).end, request.cookies.get(COOKIE, ""))
    response = sign_in_redirect(request)
    response.delete_cookie(COOKIE, path="/")
    response.delete_cookie(SEEN_COOKIE, path="/console")
    return response


register(router)
