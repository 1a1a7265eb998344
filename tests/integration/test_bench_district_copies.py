"""The benchmarks' synthetic district on their own PostgreSQL cluster: each run works on a copy
of the cached district (a database made from it as a template), so that what P5 and P7 write
does not reach the next run's district; the run's end drops its copies and keeps the cache."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from bench import store
from sqlalchemy import create_engine, text

from backends import Backend

pytestmark = [
    pytest.mark.postgres_only(reason="SQLite stores are directories, copied as files"),
    pytest.mark.slow,
]

CALLS = 30


def calls_in(district: store.Store) -> int:
    assert district.backend.url is not None
    engine = create_engine(district.backend.url)
    try:
        with engine.begin() as conn:
            return int(conn.execute(text(f'SELECT count(*) FROM "{district.schema}".rm_calls')).scalar_one())
    finally:
        engine.dispose()


def forget_calls(district: store.Store) -> None:
    assert district.backend.url is not None
    engine = create_engine(district.backend.url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f'DELETE FROM "{district.schema}".rm_calls'))
    finally:
        engine.dispose()


def databases(bench: store.Backend) -> set[str]:
    assert bench.url is not None
    engine = create_engine(bench.url)
    try:
        with engine.begin() as conn:
            return {n for (n,) in conn.execute(text("SELECT datname FROM pg_database"))}
    finally:
        engine.dispose()


def test_each_run_gets_a_copy_of_the_cached_district_and_drops_it(backend: Backend, tmp_path: Path) -> None:
    assert backend.cluster is not None
    bench = store.Backend("postgresql", backend.cluster.url(), copies=True)
    since = time.time()
    first, made = store.synthetic_store(bench, tmp_path / "cache", tmp_path / "run1", CALLS, 1)
    seeded = calls_in(first)
    assert seeded >= CALLS and made["copied_to"] in databases(bench)
    forget_calls(first)  # what a run's loads write stays in its copy

    second, again = store.synthetic_store(bench, tmp_path / "cache", tmp_path / "run2", CALLS, 1)
    assert again["copied_to"] != made["copied_to"] and "seed_seconds" in again
    assert calls_in(second) == seeded and calls_in(first) == 0

    dropped = store.drop_run_schemas(bench, since)
    assert set(dropped) == {made["copied_to"], again["copied_to"]}
    assert databases(bench) & set(dropped) == set()
    assert f"bench_n{CALLS}_seed1" in databases(bench)  # the cache is kept
