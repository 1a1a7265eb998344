"""The `huying` command as a new user meets it: every expected error is one line on stderr and a
non-zero exit, and the commands that only look (audit verify, replay, checkpoints, export, token
list) migrate nothing, write nothing and need no secret key."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from backends import raw_events, settings_env, stored_rows, use_in_env
from huying.bootstrap import Services, opened
from huying.cli import cli
from huying.demo import principal_for_token
from huying.migrate import alembic_config, upgrade
from huying.settings import Settings

from .server import Server

READ_ONLY = (
    ["token", "list"],
    ["audit", "verify"],
    ["audit", "replay"],
    ["audit", "checkpoints"],
    ["export", "--what", "events"],
    ["export", "--what", "scores"],
)
READING_SEALS = (["audit", "verify"], ["audit", "replay"], ["export", "--what", "events"])
RAISE = {
    "item_code": "C01-01",
    "grid_code": "LW-LN-01-G01",
    "title": "垃圾堆积",
    "description": "楼道垃圾无人清运",
    "channel": "grid_worker",
}


def huying(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The real command, in a fresh process, with only the HUYING_* settings given here."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HUYING_")}
    return subprocess.run(
        [sys.executable, "-m", "huying.cli", *args],
        cwd=cwd,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), f"not one error line:\n{stderr}"
    return lines[0]


def files(directory: Path) -> dict[str, str]:
    """Every file under ``directory`` with a digest of its bytes."""
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


# --- in a fresh clone, before anything was set up -----------------------------------------------


@pytest.mark.parametrize("args", READ_ONLY, ids=[" ".join(a) for a in READ_ONLY])
def test_a_read_only_command_before_migrate_says_so_in_one_line_and_creates_nothing(
    tmp_path: Path, args: list[str]
) -> None:
    done = huying(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert "huying migrate" in one_error_line(done.stderr)
    assert list(tmp_path.iterdir()) == [], "nothing created: no database, no key, no data directory"


# --- on a deployment with a history -------------------------------------------------------------


def stored(settings: Settings) -> tuple[dict[str, str], bytes]:
    """Every stored value of the deployment, and (SQLite) every file's bytes — but SQLite's
    shared-memory index and an empty write-ahead log, which hold no data and come and go with
    connections (readers' too)."""
    kept = {} if settings.on_postgres else files(settings.data_dir)
    empty = hashlib.sha256(b"").hexdigest()
    data = {
        k: v for k, v in kept.items() if not k.endswith("-shm") and not (k.endswith("-wal") and v == empty)
    }
    return data, stored_rows(settings)


def test_a_read_only_command_writes_nothing_and_needs_no_secret_key(
    settings: Settings, tmp_path: Path
) -> None:
    """On a deployment written by a real `huying serve`, now stopped."""
    (tmp_path / "logs").mkdir()
    server = Server(settings, tmp_path / "logs")
    try:
        server.cli("migrate")
        # The command itself, as an operator runs it (other tests make their tokens in process).
        made = server.cli("token", "create", "--role", "grid_worker", "--unit", RAISE["grid_code"])
        assert made.strip() and made.count("\n") == 1, "token create prints the token and nothing else"
        grid = {"Authorization": f"Bearer {made.strip()}"}
        server.start()
        with server.client() as http:
            for n in range(3):
                raised = http.post("/api/v1/calls", json=RAISE, headers={**grid, "Idempotency-Key": f"k{n}"})
                assert raised.status_code == 201, raised.text
        assert server.stop(signal.SIGTERM) in (0, -signal.SIGTERM)
    finally:
        server.cleanup()
    env = {k: v for k, v in settings_env(settings).items() if k != "HUYING_DEMO"}  # no key either
    key = (settings.data_dir / "secret.key").read_text().strip()
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    before = stored(settings)
    for args in READ_ONLY:
        done = huying(*args, cwd=cwd, **env)
        if args in READING_SEALS:  # a keyed MAC is checked with its key: one line says which
            assert done.returncode == 2, f"huying {' '.join(args)}: {done.stderr}"
            assert done.stderr.splitlines() == [
                "error: checking the events' seals needs the master key: set HUYING_SECRET_KEY "
                "(HUYING_DEMO=1 where a demo deployment keeps it in its data directory)"
            ]
            done = huying(*args, cwd=cwd, **env, HUYING_SECRET_KEY=key)
        assert done.returncode == 0, f"huying {' '.join(args)}: {done.stderr}"
        assert "Traceback" not in done.stderr
        assert stored(settings) == before, f"huying {' '.join(args)} wrote"
    assert list(cwd.iterdir()) == []


def test_a_read_only_process_cannot_write_even_if_asked(services: Services, settings: Settings) -> None:
    """The guard under the commands: their connections refuse writes, whatever code runs."""
    with opened(settings, read_only=True) as looking:
        principal = principal_for_token(looking.app.org, "street", "LW-LN")
        with pytest.raises(DBAPIError, match=r"read-only|readonly"):
            looking.tokens.create(principal, "written by a read-only process")
    assert "written by a read-only process" not in [t.label for t in services.tokens.list()]


# --- a schema that is not the one this huying needs ---------------------------------------------


@pytest.fixture
def runner(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    use_in_env(monkeypatch, settings)  # demo mode: the commands that write have a key
    return CliRunner()


def refused(runner: CliRunner, *args: str, code: int = 2) -> str:
    result = runner.invoke(cli, list(args))
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit), "an expected error, not a crash"
    return one_error_line(result.stderr)


def test_an_outdated_schema_is_named_and_left_as_it_is(runner: CliRunner, settings: Settings) -> None:
    upgrade(settings)
    command.downgrade(alembic_config(settings), "0004")
    before = stored(settings)
    for args in READ_ONLY:
        line = refused(runner, *args)
        assert "revision 0004" in line and "huying migrate" in line
    written = refused(runner, "token", "create", "--role", "street", "--unit", "LW-LN")
    assert "revision 0004" in written, "a command that writes does not migrate on its own either"
    assert stored(settings) == before


def test_a_missing_event_store_is_named(runner: CliRunner, services: object, settings: Settings) -> None:
    with raw_events(settings) as events:
        events.execute("DROP TABLE {events}")
    assert "the event store cannot be read" in refused(runner, "audit", "verify")
    if not settings.on_postgres:
        file = settings.data_dir / "huying.events.db"
        file.unlink()
        assert "huying.events.db" in refused(runner, "audit", "verify")
        assert not file.exists()


# --- every other expected error -----------------------------------------------------------------

BAD: dict[str, tuple[dict[str, str | None], list[str], str]] = {
    "a setting that is not a number": ({"HUYING_PORT": "eighty"}, ["token", "list"], "HUYING_PORT"),
    "weights that do not sum to 1": (
        {"HUYING_SCORE_WEIGHTS": "[1, 1, 1]"},
        ["token", "list"],
        "SCORE_WEIGHTS",
    ),
    "a database URL that is none": (
        {"HUYING_DATABASE_URL": "nonsense", "HUYING_DATABASE_SCHEMA": None},
        ["token", "list"],
        "database URL",
    ),
    "the fake clock outside demo mode": (
        {"HUYING_FAKE_CLOCK": "1", "HUYING_DEMO": "0"},
        ["seed", "--demo"],
        "HUYING_FAKE_CLOCK",
    ),
    "an unknown command": ({}, ["tokens"], "No such command"),
    "an unknown option": ({}, ["export", "--wht", "scores"], "No such option"),
    "a missing argument": ({}, ["token", "revoke"], "Missing argument"),
    "an unknown export": ({}, ["export", "--what", "everything"], "--what"),
    "an unknown role": ({}, ["token", "create", "--role", "mayor", "--unit", "LW"], "mayor"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_every_expected_error_is_one_line_and_a_non_zero_exit(
    runner: CliRunner, services: object, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    env, args, named = BAD[case]
    for name, value in env.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert named in refused(runner, *args)


def test_revoking_an_unknown_token_says_so_and_exits_1(runner: CliRunner, services: object) -> None:
    assert "no active token nosuchid" in refused(runner, "token", "revoke", "nosuchid", code=1)


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["export", "--what", "events", "--to", "9999-12-31"], "to"),
        (["export", "--what", "events", "--from", "0001-01-01T00:00:00Z"], "from"),
        (["export", "--what", "scores", "--from", "0001-01-01", "--to", "9999-12-31"], "from"),
        (["export", "--what", "scores", "--period", "0001-01"], "period"),
    ],
)
def test_an_absurd_date_is_one_line_naming_it_as_in_the_api(
    runner: CliRunner, services: Services, args: list[str], field: str
) -> None:
    """Business time has one rule (huying.domain.business_time) for the API, the console and the CLI."""
    line = refused(runner, *args)
    assert line.startswith(f"error: {field}: ") and "1970-01-01 and 2200-12-31" in line, line
