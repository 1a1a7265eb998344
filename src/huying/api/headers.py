"""The usual security headers on every answer, the server's own 500s included.

JSON answers get a Content-Security-Policy that allows nothing at all. The one HTML page, the
offline ``/docs`` (Swagger UI), gets a policy that allows its own assets from this origin and
exactly the inline scripts it carries (by their sha256), so it still works and nothing else
can run there. A header a route set itself (a photo's sandboxing CSP) is kept as it is.
"""

from __future__ import annotations

import base64
import hashlib
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
_HSTS = (b"strict-transport-security", b"max-age=31536000")
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S)


def page_policy(html: bytes) -> str:
    """A page's policy: assets from this origin, and its own inline scripts by hash."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(html)
    )
    return (
        f"default-src 'none'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'none'"
    )


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"
        held: Message | None = None  # an HTML page's start, until its body gives the policy
        page = bytearray()

        async def send_with_headers(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if _content_type(headers).startswith(b"text/html"):
                    held = {**message, "headers": headers}
                    return
                message = {**message, "headers": _completed_api(headers, https)}
            elif held is not None:
                page.extend(message.get("body", b""))
                if message.get("more_body", False):
                    return
                headers = _completed(held["headers"], page_policy(bytes(page)), https)
                await send({**held, "headers": headers})
                message = {**message, "body": bytes(page)}
                held = None
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _content_type(headers: list[tuple[bytes, bytes]]) -> bytes:
    for name, value in headers:
        if name.lower() == b"content-type":
            return value.lower()
    return b""


def _completed(headers: list[tuple[bytes, bytes]], policy: str, https: bool) -> list[tuple[bytes, bytes]]:
    present = {k.lower() for k, _ in headers}
    wanted = [*HEADERS, (b"content-security-policy", policy.encode()), *([_HSTS] if https else [])]
    return headers + [(k, v) for k, v in wanted if k not in present]


# Every answer but a page gets these: worked out once, not for each answer (by whether it went
# over https, which adds HSTS).
_API_HEADERS = {https: _completed([], API_POLICY, https) for https in (False, True)}
_API_NAMES = {name for name, _ in _API_HEADERS[True]}


def _completed_api(headers: list[tuple[bytes, bytes]], https: bool) -> list[tuple[bytes, bytes]]:
    """``_completed`` with the API's policy."""
    if not any(name.lower() in _API_NAMES for name, _ in headers):  # the route set none itself
        return headers + _API_HEADERS[https]
    return _completed(headers, API_POLICY, https)
