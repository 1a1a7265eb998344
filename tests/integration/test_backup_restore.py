"""Backup and restore, on each backend (`huying backup --to`, `huying restore --from`).

A deployment with a history — reporters' contacts among it, one of them erased, a photo on
disk — is backed up and restored into an empty deployment (SQLite: a new data directory;
PostgreSQL: a new database, under another schema name). There the hash chain verifies with the
same head, every read model equals the original's, every contact decrypts as it did (the
erased one still does not), the photo is there, and the restored deployment takes new calls.

Taken while calls are being written and projected, a backup is consistent: its events are the
original's log up to some position, its read models and chain stand at or behind that position
(never ahead: they would skip what comes next), every contact an event names is in it, and
after catching up its read models equal a replay of its log.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from typer.testing import CliRunner

from backends import Backend, use_in_env
from huying.audit.replay import replay_and_compare
from huying.audit.verify import Verifier
from huying.bootstrap import Services, build_services
from huying.cli import cli
from huying.clock import FakeClock
from huying.demo import principal_for_token
from huying.domain.contact import Contact
from huying.domain.principal import Role
from huying.migrate import upgrade
from huying.service_layer.calls import CallDraft
from huying.service_layer.command_path import Submission
from huying.settings import Settings
from stored_rows import rows_of

from .histories import Shape, write_in_batches

pytestmark = pytest.mark.slow

SECRET = "backup-test-master-key-0123456789abcdefghijkl"  # the same on both sides, kept apart


@pytest.fixture
def keys_apart() -> bool:
    """Reporters' record keys in a store of their own (SQLite: the default sibling file;
    PostgreSQL: a database of its own, as docs/privacy.md advises), or in the main database."""
    return True


def layout(backend: Backend, where: Path, keys_apart: bool, database: str) -> Settings:
    """A deployment's settings (PostgreSQL: in a new database of that name), its reporters'
    record keys kept apart or not."""
    fields: dict[str, Any] = {"secret_key": SECRET, "run_watchdog": False}
    if backend.cluster is not None:
        fields["database_url"] = backend.cluster.create_database(database)
        if keys_apart:
            fields["keys_url"] = backend.cluster.create_database(f"{database}_keys")
    elif not keys_apart:
        fields["keys_url"] = fields["database_url"] = f"sqlite:///{where / 'huying.db'}"
    return backend.settings(where, **fields)


@pytest.fixture
def settings(backend: Backend, data_dir: Path, keys_apart: bool, tmp_path: Path) -> Settings:
    return layout(backend, data_dir, keys_apart, f"o_{tmp_path.name}".lower())


@pytest.fixture
def empty(backend: Backend, tmp_path: Path, keys_apart: bool) -> Iterator[Any]:
    """Settings of new, empty deployments laid out like the original, to restore into
    (PostgreSQL: under another schema name than the original's — or in ``public``)."""
    made = iter(range(1, 100))

    def one(public: bool = False) -> Settings:
        n = next(made)
        target = layout(backend, tmp_path / f"restored-{n}", keys_apart, f"r{n}_{tmp_path.name}".lower())
        return target.model_copy(update={"database_schema": ""}) if public and backend.cluster else target

    yield one


def cli_in(settings: Settings, monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    with monkeypatch.context() as env:
        use_in_env(env, settings)
        env.setenv("HUYING_SECRET_KEY", SECRET)
        result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def contacts(services: Services) -> dict[str, Contact | None]:
    """Every reporter ref the log names → the contact as it decrypts now."""
    refs = {
        call.reporter_ref
        for call in (services.calls.current(i) for i in originators(services))
        if call is not None and call.reporter_ref
    }
    return {ref: services.contacts.get(ref) for ref in refs}


def originators(services: Services) -> list[UUID]:
    log = services.app.recorder.select_notifications(start=0, limit=10**9)
    return sorted({n.originator_id for n in log if isinstance(n.originator_id, UUID)})


def opened(settings: Settings) -> Services:
    upgrade(settings)
    built = build_services(settings, FakeClock())
    built.projector.catch_up()
    built.chain.catch_up()
    return built


@pytest.mark.parametrize("keys_apart", [True, False], ids=["keys-apart", "keys-within"])
def test_a_backup_restored_into_an_empty_deployment_is_the_same_deployment(
    services: Services, clock: FakeClock, empty: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(2026)
    shape = dataclasses.replace(Shape.tame(calls=120), reporters=0.5)
    write_in_batches(services, clock, rng, shape, per_save=200)
    reported = [c for c in (services.calls.current(i) for i in originators(services)) if c and c.reporter_ref]
    admin = principal_for_token(services.app.org, Role.ADMIN.value, services.app.org.district.code)
    services.calls.erase_reporter(admin, reported[0].id)  # 个人信息删除 before the backup
    photo = services.settings.attachments_dir / "ab" / "abcdef.jpg"  # type: ignore[operator]
    photo.parent.mkdir(parents=True)
    photo.write_bytes(b"\xff\xd8 a stored photo \xff\xd9")
    services.projector.catch_up()
    services.chain.catch_up()

    cli_in(services.settings, monkeypatch, "backup", "--to", str(tmp_path / "backup"))
    target = empty()
    cli_in(target, monkeypatch, "restore", "--from", str(tmp_path / "backup"))
    restored = opened(target)
    try:
        head = services.app.recorder.max_notification_id()
        assert restored.app.recorder.max_notification_id() == head
        assert restored.chain.head() == services.chain.head()
        report = Verifier(restored.chain.log, restored.engine, restored.app.voucher).verify()
        assert report.ok and report.chained_through == head, report
        assert rows_of(restored.engine) == rows_of(services.engine)
        assert contacts(restored) == contacts(services)
        assert contacts(restored)[reported[0].reporter_ref or ""] is None  # erased stays erased
        assert sum(c is not None for c in contacts(restored).values()) == len(reported) - 1
        copy = target.attachments_dir / "ab" / "abcdef.jpg"  # type: ignore[operator]
        assert copy.read_bytes() == photo.read_bytes()

        raise_one(restored)  # and it goes on: the next position follows the restored head
        restored.projector.catch_up()
        assert (restored.app.recorder.max_notification_id() or 0) > (head or 0)
        assert replay_and_compare(restored.app, restored.engine, target).same
    finally:
        restored.close()


def raise_one(services: Services, with_reporter: bool = True) -> None:
    grid = principal_for_token(services.app.org, "grid_worker", "LW-LN-01-G01")
    reporter = Contact(name="李四", phone="13900001111") if with_reporter else None
    draft = CallDraft("C01-01", "LW-LN-01-G01", "路灯不亮", "整条巷子黑着", "grid_worker", reporter=reporter)
    services.calls.raise_call(grid, draft, Submission())


def test_backups_taken_while_calls_are_written_and_projected_are_consistent(
    services: Services, empty: Any, tmp_path: Path
) -> None:
    from huying.backup import backup, restore

    services.projector.start()  # projects each call as soon as it is stored
    services.chain.start()
    stop = threading.Event()
    written = threading.Semaphore(0)

    def write() -> None:
        while not stop.is_set():
            raise_one(services)
            written.release()

    writer = threading.Thread(target=write)
    writer.start()
    backups = []
    try:
        for n in range(3):
            for _ in range(20):  # some calls between backups
                assert written.acquire(timeout=30)
            backups.append(backup(services.settings, tmp_path / f"backup-{n}").where)
    finally:
        stop.set()
        writer.join(timeout=30)
    original = services.app.recorder.select_notifications(start=0, limit=10**9)
    for n, where in enumerate(backups):
        target = empty(public=n == 1)
        restore(target, where)
        restored = build_services(target, FakeClock())
        try:
            check_consistent(restored, target, original)
        finally:
            restored.close()


def check_consistent(restored: Services, target: Settings, original: list[Any]) -> None:
    log = restored.app.recorder.select_notifications(start=0, limit=10**9)
    head = log[-1].id
    assert [(n.id, n.originator_id, n.originator_version) for n in log] == [
        (n.id, n.originator_id, n.originator_version) for n in original if n.id <= head
    ], "the backup's log is not the original's up to a position"
    assert restored.projector.tracked_position() <= head, "read models ahead of the backup's log"
    assert restored.chain.tracked_position() <= head, "chain ahead of the backup's log"
    assert all(c is not None for c in contacts(restored).values()), "an event names a missing contact"
    restored.projector.catch_up()
    restored.chain.catch_up()
    assert replay_and_compare(restored.app, restored.engine, target).same
    report = Verifier(restored.chain.log, restored.engine, restored.app.voucher).verify()
    assert report.ok and report.chained_through == head, report


def test_nothing_is_overwritten_a_refusal_says_why_in_one_line(
    services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raise_one(services)
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "something").write_text("mine")
    cli_in(services.settings, monkeypatch, "backup", "--to", str(tmp_path / "backup"))
    for args in (["backup", "--to", str(tmp_path / "used")], ["restore", "--from", str(tmp_path / "backup")]):
        with monkeypatch.context() as env:
            use_in_env(env, services.settings)
            refused = CliRunner().invoke(cli, args)
        assert refused.exit_code == 2, refused.output
        assert refused.output.startswith("error: ") and refused.output.count("\n") == 1, refused.output
    assert services.app.recorder.max_notification_id() == 1  # the live deployment untouched
