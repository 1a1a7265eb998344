"""The benchmark's own judgement: what it reads from wrk, and when it calls a target met.

``bench/`` is not an installed package: pytest puts the repository root on the path
(``pythonpath`` in pyproject.toml), as ``python -m bench.run`` from the root has it.
"""

from __future__ import annotations

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from bench import lag, servers, wrk
from bench.lag import histograms, server_side
from bench.reads import percentiles, settle
from bench.report import Row, best, latency_row, p1_rows, table
from prometheus_client import CollectorRegistry, generate_latest

from huying.projections.lag import LagMetrics, LagWatch

WRK_OUT = """Running 10s test @ http://127.0.0.1:8000
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    25.10ms   10.01ms 1.20s    90.00%
    Req/Sec   640.12     50.00   700.00     70.00%
  Latency Distribution
     50%  812.00us
     75%   12.34ms
     90%   40.50ms
     99%    1.20s
  12802 requests in 10.00s, 5.12MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:   1280.20
Transfer/sec:    524.00KB
"""


def test_wrk_figures_are_read_in_milliseconds_with_every_failure_counted() -> None:
    found = wrk.parse(WRK_OUT)
    assert found["requests_per_s"] == 1280.2
    assert found["requests"] == 12802
    assert (found["p50_ms"], found["p90_ms"], found["p99_ms"]) == (0.812, 40.5, 1200.0)
    assert found["non_2xx"] == 7
    assert found["socket_errors"] == 5


def test_p1_is_not_met_when_any_request_failed_or_none_was_answered_however_fast() -> None:
    fast = {"requests_per_s": 2000.0, "requests": 60_000, "p99_ms": 10.0, "non_2xx": 0, "socket_errors": 0}
    bare = {"requests_per_s": 2500.0, "requests": 75_000, "p99_ms": 8.0, "non_2xx": 0, "socket_errors": 0}
    assert all(r.met for r in p1_rows("sqlite", fast, bare, 1))
    for failing in (fast | {"non_2xx": 1}, fast | {"socket_errors": 1}, fast | {"requests": 0}):
        assert not any(r.met for r in p1_rows("sqlite", failing, bare, 1)), failing


def test_p1_targets_differ_by_backend() -> None:
    half = {"requests_per_s": 450.0, "requests": 4500, "p99_ms": 10.0, "non_2xx": 0, "socket_errors": 0}
    bare = {"requests_per_s": 1000.0, "requests": 10_000, "p99_ms": 8.0, "non_2xx": 0, "socket_errors": 0}
    assert not p1_rows("sqlite", half, bare, 1)[0].met  # 0.45 < 0.5
    assert p1_rows("postgresql", half, bare, 4)[0].met  # 0.45 ≥ 0.4


def test_a_read_with_errors_misses_its_target_even_when_fast() -> None:
    figures = percentiles([1.0] * 99 + [3.0]) | {"non_200": 0}
    assert figures["p95_ms"] == 1.0 and figures["p99_ms"] == 1.0
    assert latency_row("P4 x", "sqlite", figures, "p95_ms", 50).met
    assert not latency_row("P4 x", "sqlite", figures | {"non_200": 2}, "p95_ms", 50).met


def test_the_table_names_every_column() -> None:
    text = table([Row("P2 command path events/s", "sqlite", "700/s", "1,000/s", "0.700", "≥ 0.7×", True)])
    assert text.splitlines()[0].split() == [
        "metric",
        "backend",
        "huying",
        "baseline",
        "ratio",
        "target",
        "met",
    ]
    assert text.splitlines()[2].endswith("yes")


def test_a_run_drops_the_schemas_it_made_and_keeps_the_cached_district() -> None:
    from bench.store import made_by_run

    since = 1_700_000_000
    assert made_by_run("bench_empty_1700000123", since)
    assert made_by_run("bench_p2_huying_0_1700000123", since)
    assert made_by_run("bench_p2_plain_2_1700000999", since)
    assert not made_by_run("bench_empty_1699999999", since)  # an earlier run's (it may be going on)
    assert not made_by_run("bench_n1000000_seed1", since)  # the cached district
    assert not made_by_run("huying", since)
    assert not made_by_run("bench_p2_huying_0_1700000123_x", since)
    assert made_by_run("bench_p3_full_1700000123", since)
    assert made_by_run("bench_p3_tenth_1700000123", since)
    assert made_by_run("bench_empty_p7_1700000123", since)  # P7's own empty store


def test_p3_logs_are_stored_where_they_are_named_whatever_the_environment_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from bench.rebuild import logs, store_settings
    from bench.store import Backend, made_by_run

    monkeypatch.setenv("HUYING_DATABASE_URL", "postgresql+psycopg://someone@elsewhere/production")
    monkeypatch.setenv("HUYING_DATABASE_SCHEMA", "production")
    monkeypatch.setenv("HUYING_EVENTS_URL", "postgresql+psycopg://someone@elsewhere/production")
    since = time.time()

    full, _ = logs(tmp_path, Backend("sqlite", None))
    on_sqlite = store_settings(full)
    assert on_sqlite.database_url == f"sqlite:///{tmp_path / 'full' / 'huying.db'}"
    assert on_sqlite.events_url == f"sqlite:///{tmp_path / 'full' / 'huying.events.db'}"
    assert on_sqlite.keys_url == f"sqlite:///{tmp_path / 'full' / 'huying.keys.db'}"
    assert on_sqlite.database_schema == ""

    server = Backend("postgresql", "postgresql+psycopg://bench@127.0.0.1:5432/huying_test")
    full, tenth = logs(tmp_path, server)
    on_postgres = store_settings(tenth)
    assert (on_postgres.database_url, on_postgres.events_url, on_postgres.keys_url) == (server.url,) * 3
    assert on_postgres.database_schema == tenth.schema != full.schema
    assert made_by_run(full.schema, since) and made_by_run(tenth.schema, since)  # dropped by the run


def test_a_bench_store_is_where_it_is_named_whatever_the_environment_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench.store import Backend, Store

    monkeypatch.setenv("HUYING_DATABASE_URL", "postgresql+psycopg://someone@elsewhere/production")
    monkeypatch.setenv("HUYING_DATABASE_SCHEMA", "production")
    on_sqlite = Store("empty", tmp_path, "", Backend("sqlite", None), 0).settings()
    assert on_sqlite.database_url == f"sqlite:///{tmp_path / 'huying.db'}"
    assert on_sqlite.events_url == f"sqlite:///{tmp_path / 'huying.events.db'}"
    assert on_sqlite.database_schema == ""


def test_p5_server_side_reads_the_bucket_that_holds_each_percentile() -> None:
    before = {1: {0.025: 10.0, 0.05: 10.0, 0.1: 10.0, 0.2: 10.0, float("inf"): 10.0}}
    # 100 samples between the readings: 60 within 25 ms, 39 within 50 ms, 1 within 200 ms
    after = {1: {0.025: 70.0, 0.05: 109.0, 0.1: 109.0, 0.2: 110.0, float("inf"): 110.0}}
    assert server_side(before, after, 1) == {"n": 100, "p50_ms": 25.0, "p99_ms": 50.0, "workers_unread": 0}
    after[1][0.05] = 108.0  # one more sample beyond 50 ms: the 99th now lies in the 200 ms bucket
    after[1][0.1] = 108.0
    assert server_side(before, after, 1)["p99_ms"] == 200.0


def test_p5_server_side_sums_each_workers_samples_and_leaves_out_a_worker_read_once() -> None:
    def counts(*n: float) -> dict[float, float]:
        return dict(zip((0.05, 0.2, float("inf")), n, strict=True))

    before = {1: counts(100, 100, 100), 2: counts(5, 5, 5), 3: counts(0, 0, 0)}  # 3: read before only
    after = {1: counts(150, 150, 150), 2: counts(5, 55, 55), 4: counts(9000, 9000, 9000)}  # 4: after only
    # 50 samples within 50 ms on worker 1, 50 within 200 ms on worker 2
    assert server_side(before, after, 4) == {"n": 100, "p50_ms": 50.0, "p99_ms": 200.0, "workers_unread": 2}


def test_p5_reads_the_histogram_of_each_pid_from_the_servers_text() -> None:
    watch = LagWatch(iter([0.0, 0.02, 1.0, 1.25]).__next__)
    for position in (1, 2):
        watch.saved(position)
        watch.applied(position)
    registry = CollectorRegistry()
    registry.register(LagMetrics(watch))
    found = histograms(generate_latest(registry).decode())
    assert list(found) == [os.getpid()]
    assert (found[os.getpid()][0.025], found[os.getpid()][0.3], found[os.getpid()][float("inf")]) == (1, 2, 2)


def test_p5_server_side_says_nothing_when_the_server_measured_nothing() -> None:
    assert server_side({}, {}, 1) == {"n": 0, "p50_ms": None, "p99_ms": None, "workers_unread": 1}
    in_the_open = {7: {float("inf"): 5.0}}  # every sample above the highest bound: no figure to give
    assert server_side({7: {}}, in_the_open, 1)["p99_ms"] is None


def test_each_wrk_run_of_one_script_sends_idempotency_keys_no_run_before_it_sent(tmp_path: Path) -> None:
    """The full bench loads one store several times with one script: a key sent again is a
    422 (another body), counted against huying as a failure."""
    keys: list[str] = []

    class Recording(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            keys.append(self.headers["Idempotency-Key"])
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(201)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recording)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        script = wrk.write_script(tmp_path / "ingest.lua", ["C01-01"], ["LW-LN-01-G01"], "token")
        url = f"http://127.0.0.1:{server.server_address[1]}"
        first = wrk.run(url, script, 1, connections=2)
        sent_first = set(keys)
        second = wrk.run(url, script, 1, connections=2)
    finally:
        server.shutdown()
        server.server_close()
    assert first["requests"] > 0 and second["requests"] > 0
    assert len(set(keys)) == len(keys)
    assert not sent_first & set(keys[len(sent_first) :])


def _metrics_client(pages: list[str]) -> tuple[httpx.Client, list[int]]:
    """A client whose /metrics answers each page in turn (the last one from then on)."""
    asked = [0]

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/metrics"
        asked[0] += 1
        return httpx.Response(200, text=pages[min(asked[0], len(pages)) - 1])

    return httpx.Client(base_url="http://huying", transport=httpx.MockTransport(answer)), asked


def test_huying_counts_as_up_only_once_every_duty_is_held() -> None:
    held = "\n".join(f'huying_duty_held{{duty="{d}"}} 1.0' for d in servers.DUTIES)
    starting = held.replace('duty="chain"} 1.0', 'duty="chain"} 0.0')
    client, _ = _metrics_client([starting])
    assert not servers.duties_held(client)
    client, _ = _metrics_client([held])
    assert servers.duties_held(client)


def test_p6_reads_wait_until_the_projections_have_reached_the_log() -> None:
    behind = (
        'huying_projection_lag{projection="read-models"} 0.0\n'
        'huying_projection_lag{projection="audit-chain"} 12.0'
    )
    caught_up = behind.replace("12.0", "0.0")
    client, asked = _metrics_client([behind, behind, caught_up])
    settle(client)
    assert asked[0] == 3


def test_each_side_of_a_ratio_is_its_best_run_with_every_run_kept() -> None:
    runs = [
        {"requests_per_s": 310.0, "requests": 3100, "non_2xx": 0, "socket_errors": 0},
        {"requests_per_s": 365.0, "requests": 3650, "non_2xx": 0, "socket_errors": 0},
        {"requests_per_s": 290.0, "requests": 2900, "non_2xx": 0, "socket_errors": 0},
    ]
    found = best(runs)
    assert found["requests_per_s"] == 365.0 and found["requests"] == 3650
    assert found["runs"] == runs


def test_the_inprocess_measure_raises_every_call_it_counts_and_stores_each(tmp_path: Path) -> None:
    """``bench.inprocess``: every raise it divides by was answered 201 and stored."""
    from argparse import Namespace

    from bench.inprocess import measure

    from huying.bootstrap import build_services
    from huying.settings import Settings

    figures = measure(tmp_path, Namespace(raises=24, concurrency=4, warm=6, seed=3))
    assert figures["raises"] == 24 and figures["cpu_ms_per_raise"] > 0
    services = build_services(Settings(data_dir=tmp_path, demo=True, fake_clock=True, run_projector=False))
    try:
        assert services.app.recorder.max_notification_id() == 30, "24 measured raises after 6 warm ones"
    finally:
        services.close()


def test_the_bare_inprocess_load_is_answered_201_throughout() -> None:
    """``bench.inprocess --bare``: the same raises on P1's baseline, each answered 201 (the load
    refuses any other answer)."""
    from argparse import Namespace

    from bench.inprocess import measure_bare

    figures = measure_bare(Namespace(raises=20, concurrency=4, warm=4, seed=3))
    assert figures["raises"] == 20 and figures["cpu_ms_per_raise"] > 0


def test_instructions_per_raise_are_the_slope_between_two_callgrind_totals() -> None:
    """``bench.instructions``: start-up cancels out; the total is read from callgrind's exit."""
    from bench.instructions import collected, per_raise

    stderr = "==4242== Events    : Ir\n==4242== Collected : 8391666665\n==4242== I   refs: 8,391,666,665\n"
    assert collected(stderr) == 8_391_666_665
    assert per_raise((200, 8_391_666_665), (600, 10_232_127_892)) == (10_232_127_892 - 8_391_666_665) / 400
    with pytest.raises(RuntimeError, match="no total"):
        collected("==4242== I   refs: 1\n")


def test_the_lag_probe_reads_every_workers_histogram_before_the_load_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Read under the load, the scrapes of a saturated server once took all of its time, and
    no probe ran (PostgreSQL's P5 in a quick pass of 2026-12-06)."""
    order: list[str] = []

    def scraped(url: str, workers: int) -> dict[int, dict[float, float]]:
        order.append("scrape")
        return {}

    def loaded(url: str, script: Path, seconds: int) -> dict[str, object]:
        order.append("load")
        return {}

    monkeypatch.setattr(lag, "visible_buckets", scraped)
    monkeypatch.setattr(lag.wrk, "run", loaded)
    got = lag.under_load("http://127.0.0.1:9", Path("ingest.lua"), 0, "token", "C01-01", "LW-LN-01-G01")
    assert order == ["scrape", "load", "scrape"]
    assert got["probes"] == 0 and got["n"] == 0


def test_the_duties_count_runs_over_a_seeded_store_and_says_when_the_log_runs_out(tmp_path: Path) -> None:
    """``bench.projection_instructions``'s counted run, in a process of its own as valgrind runs
    it (it settles that process's collector: freezes its heap): the projector and the chain
    keeper each take 100 events of a copy of 200 raises in batches; asked for more than the log
    holds, it says so rather than count a shorter run."""
    import subprocess
    import sys

    from bench import projection_instructions as counted

    store = counted.seeded(tmp_path / "seed", 200)

    def counted_run(duty: str, events: int, batch: int) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "bench.projection_instructions", "--run", duty, str(store)]
        root = Path(counted.__file__).resolve().parent.parent
        return subprocess.run([*argv, str(events), str(batch)], cwd=root, capture_output=True, text=True)

    assert counted_run("projector", 100, 10).returncode == 0
    assert counted_run("chain", 100, 100).returncode == 0
    short = counted_run("projector", 1_000, 10)
    assert short.returncode != 0 and "ran out" in short.stderr
