"""The browser tests' one server per module (on the module's backend) and its browser."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import sync_playwright

from backends import Backend
from e2e.server import Server

from .harness import AXE, CHROMIUM, MONDAY_MORNING, Console, demo_tokens


@pytest.fixture(scope="module")
def console(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's Chromium is missing: `make chromium` installs it")
    if not AXE.exists():
        pytest.fail("axe-core is missing: `make test` installs it from npm (tests/browser/package.json)")
    root = tmp_path_factory.mktemp(f"console-{backend}")
    (root / "logs").mkdir()
    server = Server(backend.settings(root / "var", run_watchdog=False), root / "logs")
    try:
        server.start()
        tokens = demo_tokens(server)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
            found = Console(server, browser, str(backend), tokens)
            with found.api("admin", "LW") as admin:
                assert admin.post("/_clock", json={"now": MONDAY_MORNING}).status_code == 200
            yield found
            browser.close()
    finally:
        server.cleanup()
