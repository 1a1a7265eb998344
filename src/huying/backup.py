"""Backups of one deployment, and restoring one into an empty deployment (docs/operations.md).

**SQLite**, while huying runs: the online backup API, one file at a time — each copy is one
consistent moment of its file, but the files are copied at different moments, so the order
decides what the copies agree on. Read models, tracking positions and the audit chain are
written *after* the events they follow; reporter contacts, their keys, tokens and the photo
index *before* the event that names them. So: (1) the derived tables are taken first, (2) then
the events, (3) then everything else, (4) photos last. Restored, every event the read models
and the chain have seen is in the log (they catch up on start), and every contact, key and
photo an event names is there.

**PostgreSQL**: ``pg_dump`` of the deployment's schema — one snapshot of everything, events
and read models alike — and ``pg_restore`` into a database that does not have it yet.

Neither holds HUYING_SECRET_KEY (nor HUYING_OLD_SECRET_KEYS): kept apart, so that an erased
reporter's contact, whose record key is gone, stays gone in every backup, and a stolen backup
decrypts nothing. Restore with the same key.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from huying.audit.tables import AUDIT_TABLES
from huying.db import reporter_keys
from huying.projections.tables import READ_MODEL_TABLES, projection_tracking
from huying.settings import Settings

MANIFEST = "huying-backup.json"
PG_DUMP = "database.dump"
KEYS_DUMP = "keys.dump"  # reporters' record keys, when they live in a database of their own
KEYS_TABLE = reporter_keys.name
PHOTOS = "attachments"
# Written after the events they follow: taken before the events.
DERIVED = tuple(t.name for t in (*READ_MODEL_TABLES, projection_tracking, *AUDIT_TABLES))


class BackupError(RuntimeError):
    """A backup or restore that cannot be done as asked (the message says why)."""


@dataclass(frozen=True)
class Done:
    where: Path
    summary: str


def backup(settings: Settings, to: Path) -> Done:
    """Back the deployment up into the directory ``to`` (made; must be empty)."""
    if to.exists() and any(to.iterdir()):
        raise BackupError(f"{to} is not empty: back up into a new directory")
    to.mkdir(parents=True, exist_ok=True)
    manifest = _dump_postgres(settings, to) if settings.on_postgres else _copy_sqlite(settings, to)
    photos = _copy_tree(settings.attachments_dir, to / PHOTOS)
    manifest["photos"] = photos
    (to / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return Done(to, f"backed up the {manifest['backend']} deployment into {to} ({photos} photos)")


def restore(settings: Settings, source: Path) -> Done:
    """Restore the backup in ``source`` into this deployment, which must be empty."""
    try:
        manifest = json.loads((source / MANIFEST).read_text())
    except (OSError, ValueError) as e:
        raise BackupError(f"{source} holds no huying backup ({MANIFEST}: {e})") from None
    backend = "postgres" if settings.on_postgres else "sqlite"
    if manifest.get("backend") != backend:
        raise BackupError(f"a {manifest.get('backend')} backup cannot be restored into {backend}")
    if settings.on_postgres:
        _restore_postgres(settings, source, manifest)
    else:
        _restore_sqlite(settings, source, manifest)
    _copy_tree(source / PHOTOS, settings.attachments_dir)
    return Done(source, f"restored {source} into the {backend} deployment; start huying to catch up")


# --- SQLite ---------------------------------------------------------------------------------


def _sqlite_files(settings: Settings) -> dict[str, Path]:
    """Every SQLite database the settings name (``events_url``, ``database_url``, …), events first."""
    files: dict[str, Path] = {}
    for name, value in settings:
        if name.endswith("_url") and isinstance(value, str) and value.startswith("sqlite:///"):
            path = Path(value.removeprefix("sqlite:///"))
            if path not in files.values():  # keys kept in the main database: one file, one copy
                files[name] = path
    if "events_url" not in files or "database_url" not in files:
        raise BackupError("events and read models must both be SQLite files to back them up this way")
    return {"events_url": files.pop("events_url"), **files}


def _copy_sqlite(settings: Settings, to: Path) -> dict[str, object]:
    files = _sqlite_files(settings)
    derived = to / ".derived.db"
    _online_copy(files["database_url"], derived)  # (1) read models, tracking, chain
    names = {}
    for role, path in files.items():  # (2) the events, (3) the rest
        names[role] = f"{role.removesuffix('_url')}.db"
        _online_copy(path, to / names[role])
    with sqlite3.connect(to / names["database_url"], isolation_level=None) as conn:
        conn.execute("ATTACH DATABASE ? AS derived", (str(derived),))
        conn.execute("BEGIN")
        for table in DERIVED:
            conn.execute(f'DELETE FROM main."{table}"')
            conn.execute(f'INSERT INTO main."{table}" SELECT * FROM derived."{table}"')
        conn.execute("COMMIT")
        conn.execute("DETACH DATABASE derived")
    conn.close()
    derived.unlink()
    with sqlite3.connect(to / names["events_url"]) as events:
        head = events.execute("SELECT COALESCE(MAX(rowid), 0) FROM stored_events").fetchone()[0]
    events.close()
    return {"backend": "sqlite", "files": names, "head": head}


def _online_copy(source: Path, target: Path) -> None:
    """One consistent copy of a live SQLite file (its WAL included), in one step: writers go
    on meanwhile (WAL), and the copy never restarts because of them."""
    if not source.is_file():
        raise BackupError(f"no database at {source}")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _restore_sqlite(settings: Settings, source: Path, manifest: dict[str, object]) -> None:
    targets = _sqlite_files(settings)
    files = manifest["files"]
    assert isinstance(files, dict)
    for role in files:
        if role in targets and targets[role].exists():
            raise BackupError(f"{targets[role]} exists: restore into an empty deployment")
    for role, name in files.items():
        if role not in targets:
            raise BackupError(f"the backup has {role}, which these settings do not name")
        targets[role].parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / name, targets[role])


# --- PostgreSQL -----------------------------------------------------------------------------


def _dump_postgres(settings: Settings, to: Path) -> dict[str, object]:
    if make_url(settings.events_url) != make_url(settings.database_url):
        raise BackupError("pg_dump backs up one database: events and read models must share it")
    schema = settings.database_schema or "public"
    files = {"database_url": PG_DUMP}
    _run(
        settings.database_url,
        settings,
        "pg_dump",
        "--format=custom",
        f"--schema={schema}",
        f"--file={to / PG_DUMP}",
    )
    if _keys_apart(settings):  # after the events: every key an event's contact needs is there
        files["keys_url"] = KEYS_DUMP
        _run(
            settings.keys_url,
            settings,
            "pg_dump",
            "--format=custom",
            f"--table={KEYS_TABLE}",
            f"--file={to / KEYS_DUMP}",
        )
    return {"backend": "postgres", "schema": schema, "files": files}


def _restore_postgres(settings: Settings, source: Path, manifest: dict[str, object]) -> None:
    files = manifest["files"]
    assert isinstance(files, dict)
    if ("keys_url" in files) != _keys_apart(settings):
        raise BackupError(
            "the backup keeps reporters' record keys "
            + ("in a database of their own" if "keys_url" in files else "in the main database")
            + ": restore with HUYING_KEYS_URL set the same way"
        )
    dumped, target = str(manifest["schema"]), settings.database_schema or "public"
    with _connect(settings.database_url) as conn:
        for schema in dict.fromkeys((target, dumped)):
            _make_room(conn, "SELECT count(*) FROM pg_tables WHERE schemaname = %s", schema, "SCHEMA")
    _run(settings.database_url, settings, "pg_restore", *_RESTORE, str(source / PG_DUMP))
    if dumped != target:  # pg_restore keeps the dumped name; the deployment's is in its settings
        with _connect(settings.database_url) as conn:
            conn.execute(f'ALTER SCHEMA "{dumped}" RENAME TO "{target}"')
    if "keys_url" in files:
        with _connect(settings.keys_url) as conn:
            _make_room(conn, f"SELECT count(*) FROM {KEYS_TABLE}", KEYS_TABLE, "TABLE")
        _run(settings.keys_url, settings, "pg_restore", *_RESTORE, str(source / KEYS_DUMP))


_RESTORE = ("--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction")


def _keys_apart(settings: Settings) -> bool:
    """Reporters' record keys in a database of their own (docs/privacy.md §3)."""
    return make_url(settings.keys_url) != make_url(settings.database_url)


def _make_room(conn: Any, count: str, name: str, kind: str) -> None:
    """``name`` must hold nothing; then it is dropped, for the dump to create it."""
    import psycopg

    try:
        found = conn.execute(count, () if kind == "TABLE" else (name,)).fetchone()
    except psycopg.errors.UndefinedTable:
        return
    if found and found[0]:
        raise BackupError(f"{kind.lower()} {name} holds data: restore into an empty deployment")
    try:  # empty (``public`` of a new database too): the dump creates it
        conn.execute(f'DROP {kind} IF EXISTS "{name}"')
    except psycopg.Error as e:
        raise BackupError(f"{kind.lower()} {name} is not empty: {e}") from None


def _connect(url: str) -> Any:
    import psycopg

    return psycopg.connect(
        make_url(url).set(drivername="postgresql").render_as_string(hide_password=False), autocommit=True
    )


def _run(url: str, settings: Settings, tool: str, *args: str) -> None:
    """A PostgreSQL client program against the database at ``url`` (the password by
    environment, not on the command line)."""
    parsed = make_url(url)
    database = parsed.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    env = {
        **os.environ,
        "PGPASSWORD": parsed.password or "",
        "PGCONNECT_TIMEOUT": str(settings.database_connect_timeout),
    }
    done = subprocess.run(
        [_tool(tool), f"--dbname={database}", *args], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise BackupError(f"{tool} failed: {done.stderr.strip() or done.stdout.strip()}")


def _tool(name: str) -> str:
    """A PostgreSQL client program: on PATH, or Debian's newest in /usr/lib/postgresql."""
    found = shutil.which(name)
    if found:
        return found
    debian = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]))
    if not debian:
        raise BackupError(f"{name} not found: install PostgreSQL's client programs (postgresql-client)")
    return str(debian[-1])


def _copy_tree(source: Path | None, target: Path | None) -> int:
    """Photos are content-addressed and never change: copy what is there; how many files."""
    if source is None or target is None or not source.is_dir():
        return 0
    shutil.copytree(source, target, dirs_exist_ok=True)
    return sum(1 for p in target.rglob("*") if p.is_file())
