"""The Alembic migrations build exactly the schema the code declares, and can be replayed.

`upgrade head` on an empty SQLite database, then autogenerate's comparison against
``huying.db.metadata`` (with the read-model tables registered) must find nothing to do; the
eventsourcing library's own tables are not Alembic's business and are ignored. Upgrading again
changes nothing; downgrading to base removes every table, and upgrading again restores the
same schema.
"""

from __future__ import annotations

import importlib
import os
import random
import subprocess
import sys
import textwrap
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, Integer, MetaData, Table, inspect, select

import huying
from backends import Backend, settings_env
from huying.db import LIBRARY_TABLES, make_engine, metadata
from huying.migrate import HEAD, alembic_config, upgrade
from huying.projections import spread
from huying.projections.tables import is_call_text_index
from huying.settings import Settings


def _import_table_modules() -> None:
    """Every module that declares tables registers them on ``huying.db.metadata`` when imported
    (huying.projections.tables, huying.audit.tables, …): import each module whose source declares
    a Table, so "declared" means everything the code declares, wherever it lives."""
    package = Path(huying.__file__).parent
    for path in sorted(package.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if "Table(" in text and "metadata" in text:
            parts = path.relative_to(package.parent).with_suffix("").parts
            importlib.import_module(".".join(p for p in parts if p != "__init__"))


_import_table_modules()


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    if type_ in ("table", "index", "column") and is_call_text_index(name or ""):
        return False
    return not (type_ == "table" and name in LIBRARY_TABLES)


@pytest.fixture
def settings(backend: Backend, tmp_path: Path) -> Settings:
    return backend.settings(tmp_path / "var", fake_clock=False)


@pytest.fixture
def engine(settings: Settings) -> Any:
    upgrade(settings)  # also creates the directory
    engine = make_engine(settings)
    yield engine
    engine.dispose()


def _default_text(default: Any) -> str | None:
    """A server default as SQL text, without the parentheses SQLite's reflection adds."""
    if default is None:
        return None
    arg = default.arg
    text = f"'{arg}'" if isinstance(arg, str) else str(arg)
    return text.strip().strip("()")


def _real(diff: Any) -> bool:
    """False for SQLite's reflection of ``DEFAULT ''`` as ``('')``: not a difference."""
    if isinstance(diff, list):
        return any(_real(d) for d in diff)
    if diff[0] == "modify_default":
        return _default_text(diff[5]) != _default_text(diff[6])
    return True


def differences(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={"include_object": include_object, "compare_type": True, "compare_server_default": True},
        )
        return [d for d in compare_metadata(context, metadata) if _real(d)]


def schema(engine: Engine) -> dict[str, Any]:
    """Every table with its columns, primary key, indexes and unique constraints."""
    found = inspect(engine)
    return {
        table: {
            "columns": [(c["name"], str(c["type"]), c["nullable"]) for c in found.get_columns(table)],
            "pk": found.get_pk_constraint(table)["constrained_columns"],
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in found.get_indexes(table)
            ),
            "unique": sorted(tuple(u["column_names"]) for u in found.get_unique_constraints(table)),
        }
        for table in sorted(found.get_table_names())
    }


def heads(settings: Settings) -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config(settings)).get_heads())


def current(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def test_the_history_has_one_head(settings: Settings) -> None:
    """`alembic upgrade head`, the command every operator knows, needs exactly one head."""
    found = heads(settings)
    assert len(found) == 1, (
        f"the migrations have {len(found)} heads {sorted(found)}: `alembic upgrade head` fails; "
        "chain one revision after the other (down_revision) or add a merge revision"
    )
    settings.data_dir.mkdir(parents=True)
    command.upgrade(alembic_config(settings), "head")  # on an empty database
    engine = make_engine(settings)
    try:
        assert current(engine) == found
    finally:
        engine.dispose()


def test_the_head_recognised_without_alembic_is_alembics(settings: Settings) -> None:
    """``migrate.HEAD`` is the history's head, so a new migration must move it: else a store at
    the old head would pass ``require_schema`` without the new migration, and ``upgrade`` would
    run Alembic at every start."""
    assert heads(settings) == {HEAD}, (
        f"a new migration: set huying.migrate.HEAD to its revision (now {HEAD!r})"
    )


def test_a_huying_process_starts_without_importing_alembic() -> None:
    """A third of a second of every `huying` process's start (serve, each duty's child, each
    command) was Alembic's import; only a process that migrates needs it."""
    modules = ["huying.cli", "huying.api.app", "huying.bootstrap", "huying.duties"]
    probe = (
        f"import sys, {', '.join(modules)}; print(sorted(m for m in sys.modules if m.startswith('alembic')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]", done.stdout


def test_upgrade_head_matches_the_declared_metadata(settings: Settings, engine: Engine) -> None:
    assert current(engine) == heads(settings)
    assert differences(engine) == []
    declared = set(metadata.tables)
    # `huying migrate` creates the event store's tables too: the library's, beside Alembic's.
    tables = set(inspect(engine).get_table_names()) - {"alembic_version"} - LIBRARY_TABLES
    created = {t for t in tables if not is_call_text_index(t)}
    assert created == declared
    if engine.dialect.name == "sqlite":  # and the search index beside them
        assert "rm_call_text_index" in tables
    assert {"projection_tracking", "rm_calls", "rm_work_orders", "rm_stints"} <= created


def test_autogenerate_through_env_py_finds_nothing(settings: Settings, engine: Engine) -> None:
    """`alembic check` (what `alembic revision --autogenerate` sees), in a fresh interpreter:
    ``migrations/env.py`` must itself know every declared table, or autogenerate proposes to drop
    the ones it was not told about."""
    script = textwrap.dedent(
        """
        from alembic import command
        from huying.migrate import alembic_config
        from huying.settings import Settings
        command.check(alembic_config(Settings()))
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUYING_")} | settings_env(settings)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_upgrade_is_idempotent(settings: Settings, engine: Engine) -> None:
    before = schema(engine)
    upgrade(settings)
    upgrade(settings)
    assert schema(engine) == before
    assert current(engine) == heads(settings)
    assert differences(engine) == []


def test_downgrade_to_base_and_up_again(settings: Settings, engine: Engine) -> None:
    config = alembic_config(settings)
    before = schema(engine)
    command.downgrade(config, "base")
    assert current(engine) == set()
    assert set(inspect(engine).get_table_names()) - LIBRARY_TABLES <= {"alembic_version"}
    command.upgrade(config, "heads")
    assert current(engine) == heads(settings)
    assert schema(engine) == before
    assert differences(engine) == []


def test_each_step_goes_down_and_up_again(settings: Settings, engine: Engine) -> None:
    """Going down to just below any revision and back up gives the same schema again."""
    config = alembic_config(settings)
    script = ScriptDirectory.from_config(config)
    before = schema(engine)
    for revision in reversed(list(script.walk_revisions("base", "heads"))):  # oldest first
        below = revision.down_revision
        if below is not None and not isinstance(below, str):
            continue  # a merge revision: nothing of its own to undo
        command.downgrade(config, below or "base")
        assert current(engine) == ({below} if below else set())
        command.upgrade(config, "heads")
        assert schema(engine) == before, f"down below {revision.revision} and up again"
    assert differences(engine) == []


def test_the_tallies_spreads_come_last_and_go_back(settings: Settings, engine: Engine) -> None:
    """0019s: every figure of an SLA tally row before both spreads, so that SQLite reads a row's
    figures without walking a spread's overflow pages; its downgrade puts each spread back after
    its own p90."""

    def columns() -> list[str]:
        return [c["name"] for c in inspect(engine).get_columns("rm_sla_tallies")]

    assert columns()[-2:] == ["response_spread", "resolution_spread"]
    assert [c.name for c in metadata.tables["rm_sla_tallies"].columns] == columns()
    command.downgrade(alembic_config(settings), "0018w")
    before = columns()
    assert before[before.index("response_p90") + 1] == "response_spread"
    assert before[-1] == "resolution_spread" and before[-2] == "resolution_p90"
    command.upgrade(alembic_config(settings), "heads")
    assert columns()[-2:] == ["response_spread", "resolution_spread"]


def test_the_spreads_digests_are_filled_in_as_the_projector_writes_them(
    settings: Settings, engine: Engine
) -> None:
    """0020d: every stored spread gets ``spread.digest`` of its bytes (in several reads of the
    rows, here), right after its own p90; a row without a spread, none."""
    command.downgrade(alembic_config(settings), "0019s")
    table = Table("rm_sla_tallies", MetaData(), autoload_with=engine)
    rng = random.Random(20)
    rows = []
    for i in range(1_234):  # more rows than the migration reads at once
        spreads = [
            spread.encode(spread.of_times(rng.uniform(1, 9e5) for _ in range(rng.randint(0, 40))))
            for _ in "rr"
        ]
        rows.append(
            {c.name: 0 for c in table.columns if isinstance(c.type, Integer)}
            | {
                "level": "street",
                "scope": f"S{i % 7}",
                "block": "day",
                "start": date(2026, 1, 1) + timedelta(days=i),
            }
            | {"response_spread": spreads[0], "resolution_spread": spreads[1]}
        )
    with engine.begin() as conn:
        conn.execute(table.insert(), rows)
    command.upgrade(alembic_config(settings), "heads")
    t = metadata.tables["rm_sla_tallies"]
    with engine.connect() as conn:
        found = conn.execute(select(t.c.start, t.c.response_digest, t.c.resolution_digest)).all()
    expected = {
        r["start"]: (spread.digest(r["response_spread"]), spread.digest(r["resolution_spread"])) for r in rows
    }
    assert {start: (a, b) for start, a, b in found} == expected
    assert any(a is None for a, _ in expected.values()) and any(a is not None for a, _ in expected.values())
    names = [c["name"] for c in inspect(engine).get_columns("rm_sla_tallies")]
    assert names.index("response_digest") == names.index("response_p90") + 1
    assert names[-2:] == ["response_spread", "resolution_spread"]
