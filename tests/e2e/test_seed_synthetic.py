"""`huying seed --synthetic N` from the command line, as the benchmark runs it: the history is
written, then projected here while a second process chains it, the store passes
`huying audit verify`, and a demo server started on it stands at the history's end."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from huying.settings import Settings

from .server import Server

pytestmark = pytest.mark.slow

UNTIL = "2026-11-16T01:00:00+00:00"


@pytest.fixture
def server(settings: Settings, tmp_path: Path) -> Iterator[Server]:
    (tmp_path / "logs").mkdir()
    srv = Server(settings, tmp_path / "logs")
    yield srv
    srv.cleanup()


def seed(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "huying.cli", "seed", "--synthetic", "300", "--days", "30", *args]
    return subprocess.run(argv, env=server.env, capture_output=True, text=True, timeout=600, check=False)


def test_a_seeded_store_passes_the_audit_and_serves_from_the_end_of_its_history(server: Server) -> None:
    done = seed(server, "--seed", "5", "--until", UNTIL)
    assert done.returncode == 0, done.stderr
    assert "wrote 300 calls" in done.stderr
    verdict = server.cli("audit", "verify")
    assert verdict.startswith("OK: "), verdict
    assert "not yet chained" not in verdict
    calls, events = server.stored()
    assert calls == 300 and events > 4 * calls
    again = seed(server, "--seed", "6", "--until", UNTIL)
    assert again.returncode == 2
    assert again.stderr.strip().splitlines()[-1].startswith("error: the store's last event is at")
    assert server.stored() == (calls, events), "a refusal writes nothing"

    server.start()
    token = server.token("supervisor", "LW")
    with server.client() as client:
        now = client.get("/api/v1/_clock", headers=token).json()["now"]
        assert datetime.fromisoformat(now) == datetime.fromisoformat(UNTIL)
        ledger = client.get("/api/v1/ledger", params={"min_position": events}, headers=token)
        assert ledger.status_code == 200, ledger.text
        assert ledger.json()["summary"]["open"] > 0  # a live district's backlog
    server.terminate()
