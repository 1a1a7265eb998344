"""What the console's browser tests share: one real `huying serve` per module (on the module's
backend) with the demo tokens, Debian's Chromium driven by Playwright, signing in as a person
does, axe-core's check of every page, and screenshots kept as artefacts."""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, Request

from e2e.inprocess import HTTP_PATIENCE
from e2e.server import Server

CHROMIUM = Path("/usr/bin/chromium")  # Debian's: `make chromium`
HERE = Path(__file__).parent
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"  # from npm: `make test` installs it
ARTIFACTS = HERE / "artifacts"
# Monday 23 November 2026, 09:00 in Guangzhou: working hours, so every clock runs.
MONDAY_MORNING = "2026-11-23T09:00:00+08:00"
PHONE = {"width": 360, "height": 740}
DESK = {"width": 1280, "height": 900}


@dataclass
class Console:
    """A running huying, its demo tokens by (role, unit), and a browser."""

    server: Server
    browser: Browser
    backend: str
    tokens: dict[tuple[str, str], str] = field(default_factory=dict)
    elsewhere: list[str] = field(default_factory=list)  # requests the pages made to other hosts

    @property
    def url(self) -> str:
        return self.server.base_url

    def token(self, role: str, unit: str) -> str:
        return self.tokens[role, unit]

    def api(self, role: str, unit: str) -> httpx.Client:
        auth = {"Authorization": f"Bearer {self.token(role, unit)}"}
        return httpx.Client(base_url=f"{self.url}/api/v1", headers=auth, timeout=HTTP_PATIENCE)

    def context(self, **options: Any) -> BrowserContext:
        context = self.browser.new_context(base_url=self.url, locale="zh-CN", **options)
        context.set_default_timeout(15_000)
        context.on("request", self._outside)
        return context

    def _outside(self, request: Request) -> None:
        if not request.url.startswith((f"{self.url}/", "data:", "blob:")):
            self.elsewhere.append(request.url)

    def sign_in(self, context: BrowserContext, role: str, unit: str) -> Page:
        """Types the token into the sign-in form, as a person does; lands on the role's home."""
        page = context.new_page()
        page.goto("/console/login")
        page.get_by_label("访问令牌 Access token").fill(self.token(role, unit))
        page.get_by_role("button", name="登录 Sign in").click()
        page.wait_for_url(re.compile(r"/console/(?!login)"))
        return page

    def look(self, page: Page, name: str) -> None:
        """axe-core's serious and critical rules pass on the page as shown; a screenshot kept."""
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{self.backend}-{name}.png"), full_page=True)
        assert_accessible(page, name)
        assert not self.elsewhere, f"{name}: the pages fetched from elsewhere: {self.elsewhere}"


def assert_accessible(page: Page, name: str) -> None:
    # Evaluated through the browser's debugging protocol: the page's own CSP (no inline
    # script) still holds for everything the page itself runs.
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("async () => await window.axe.run(document, {resultTypes: ['violations']})")
    grave = [
        {
            "rule": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]],
        }
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not grave, f"{name}: axe-core finds {json.dumps(grave, ensure_ascii=False, indent=1)}"


def photo_jpeg() -> bytes:
    """A small photo, as a phone camera would hand it over."""
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 160, 90)).save(out, "JPEG")
    return out.getvalue()


def eventually(check: Callable[[], bool], what: str, seconds: float = 60.0) -> None:
    """Polls a read of the read models (which follow each write within moments) until it holds."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"not within {seconds} s: {what}"
        time.sleep(0.05)


def demo_tokens(server: Server) -> dict[tuple[str, str], str]:
    server.cli("seed", "--demo")
    found = {}
    for line in (server.data_dir / "demo-tokens.txt").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            role, unit, _, token = line.split("\t")
            found[role, unit] = token
    return found
