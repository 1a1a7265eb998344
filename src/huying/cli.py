"""The one `huying` command for operators and scripts."""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from huying.audit.cli import audit_cli, export
from huying.cli_errors import OneLineErrors, fail
from huying.services.keys_cli import keys_cli
from huying.settings import Settings

if TYPE_CHECKING:
    from huying.bootstrap import Services
    from huying.duties import Duty

# Every expected error, of every command, is one line on stderr and a non-zero exit.
cli = typer.Typer(
    cls=OneLineErrors,
    help="huying 有呼必应 — event-sourced call-and-response dispatch.",
    no_args_is_help=True,
)

token_cli = typer.Typer(help="Bearer tokens: create, list, revoke.", no_args_is_help=True)
cli.add_typer(token_cli, name="token")
cli.add_typer(audit_cli, name="audit")  # 审计: verify, replay, checkpoints
cli.add_typer(keys_cli, name="keys")  # master keys for reporters' contacts: rotate
cli.command("export")(export)


@cli.command()
def migrate() -> None:
    """Create or upgrade all schemas (idempotent)."""
    from huying.migrate import upgrade

    upgrade(Settings())
    typer.echo("schemas are up to date", err=True)


@cli.command()
def seed(
    demo: Annotated[bool, typer.Option("--demo", help="load the Liwan demo district and tokens")] = False,
    synthetic: Annotated[
        int | None, typer.Option(min=1, help="write a synthetic district history of N calls (benchmarks)")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="--synthetic: the same seed, the same history")] = 1,
    until: Annotated[
        datetime | None, typer.Option(help="--synthetic: the history's end (default: now)")
    ] = None,
    days: Annotated[
        int, typer.Option(min=1, max=3650, help="--synthetic: calls arrive over this many days")
    ] = 365,
    force: Annotated[bool, typer.Option(help="--synthetic: write beside events not written by it")] = False,
    apart: Annotated[
        bool,
        typer.Option(
            help="--synthetic: project and chain in another process while this one writes (the other core)"
        ),
    ] = True,
) -> None:
    """Load the demo district and catalog and create the demo tokens once (idempotent); or, with
    ``--synthetic N``, write a realistic synthetic history of N calls."""
    from huying.bootstrap import opened
    from huying.demo import seed_demo

    if synthetic is not None:
        from huying.synthetic.command import run

        run(synthetic, seed, until.replace(tzinfo=until.tzinfo or UTC) if until else None, days, force, apart)
        return
    if not demo:
        raise typer.BadParameter(
            "give --demo, or --synthetic N; production org data comes from the data files"
        )
    settings = Settings()
    with opened(settings) as services:
        path, created = seed_demo(services, settings.data_dir)
    typer.echo(f"demo tokens {'written to' if created else 'already in'} {path}", err=True)


@token_cli.command("create")
def token_create(
    role: Annotated[
        str, typer.Option(help="grid_worker, community, street, department, supervisor, auditor, admin")
    ],
    unit: Annotated[str, typer.Option(help="the unit code the token acts for")],
    label: Annotated[str, typer.Option(help="who holds it")] = "",
) -> None:
    """Print a new token — and nothing else — on stdout."""
    from huying.bootstrap import opened
    from huying.demo import principal_for_token

    with opened(Settings()) as services:
        try:
            principal = principal_for_token(services.app.org, role, unit)
        except ValueError as e:
            fail(str(e))
        _, token = services.tokens.create(principal, label)
    typer.echo(token)


@token_cli.command("list")
def token_list() -> None:
    """List tokens (never the tokens themselves). Reads only."""
    from huying.bootstrap import opened

    with opened(Settings(), read_only=True) as services:
        for t in services.tokens.list():
            state = f"revoked {t.revoked_at.isoformat()}" if t.revoked_at else "active"
            typer.echo(f"{t.id}\t{t.role}\t{t.unit}\t{state}\t{t.label}")


@token_cli.command("revoke")
def token_revoke(token_id: str) -> None:
    """Revoke a token by id; it stops working at once."""
    from huying.bootstrap import opened

    with opened(Settings()) as services:
        revoked = services.tokens.revoke(token_id)
    if not revoked:
        fail(f"no active token {token_id} (`huying token list` shows the ids)", code=1)
    typer.echo(f"revoked {token_id}", err=True)


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="default HUYING_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="default HUYING_PORT")] = None,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes (SQLite: 1)", min=1)] = 1,
) -> None:
    """Serve the HTTP API (runs migrations first)."""
    import os

    import uvicorn

    from huying.api.connection import uvicorn_options
    from huying.migrate import upgrade
    from huying.supervision import SUPERVISOR_PID, duties_in_children

    settings = Settings()
    if workers > 1 and "sqlite" in (settings.database_url[:6], settings.events_url[:6]):
        typer.echo(
            "error: SQLite means one server process; use --workers 1, or PostgreSQL for more "
            "(HUYING_DATABASE_URL=postgresql+psycopg://…)",
            err=True,
        )
        raise typer.Exit(2)
    _check_startup(settings)
    upgrade(settings)
    if workers > 1:
        os.environ[SUPERVISOR_PID] = str(os.getpid())  # the workers stop if this process dies
    with duties_in_children(settings):  # the projector & co. off this interpreter
        uvicorn.run(
            "huying.api.worker:create_worker_app",
            factory=True,
            host=host or settings.host,
            port=port or settings.port,
            workers=workers,
            log_level="info",
            access_log=False,
            **uvicorn_options(settings),  # 不被拖垮: idle, slow-head and slow-body deadlines; no banner
        )


@cli.command()
def rebuild(
    batch_size: Annotated[int, typer.Option(help="notifications per transaction")] = 20_000,
    workers: Annotated[
        int | None,
        typer.Option(
            help="processes projecting at once (default: HUYING_REBUILD_WORKERS, else one per core)"
        ),
    ] = None,
) -> None:
    """Drop every read model and refill it from the event log."""
    import time

    from huying.bootstrap import build_services, opened
    from huying.projections.rebuild import RebuildUnderWay, default_workers
    from huying.projections.rebuild import rebuild as rebuild_in_parts

    settings = Settings()
    workers = workers or settings.rebuild_workers or default_workers()
    with opened(settings, migrate=True) as services:
        projector = services.projector
        projector.batch_size = batch_size
        total = services.app.recorder.max_notification_id() or 0
        started = time.perf_counter()
        try:
            with typer.progressbar(length=total, label="rebuilding read models", file=sys.stderr) as bar:

                def on_progress(reached: int) -> None:
                    bar.update(reached - bar.pos)

                rebuilt = rebuild_in_parts(services, partial(build_services, settings), workers, on_progress)
        except RebuildUnderWay as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(1) from e
        elapsed = time.perf_counter() - started
    rate = rebuilt.events / elapsed if elapsed > 0 else 0.0
    how = f", {rebuilt.parts} processes at once" if rebuilt.parts > 1 else ""
    typer.echo(
        f"rebuilt from {rebuilt.events} events in {elapsed:.1f} s ({rate:,.0f} events/s{how})", err=True
    )
    if projector.halted is not None:  # 防篡改: it stopped before an event it cannot vouch for
        typer.echo(f"error: the rebuild halted at {projector.halted.sentence()}", err=True)
        raise typer.Exit(1)


@cli.command()
def project(
    once: Annotated[bool, typer.Option(help="catch up and exit instead of following the log")] = False,
    chain: Annotated[bool, typer.Option(help="keep the audit chain too (else: `huying chain`)")] = True,
) -> None:
    """Run the projector on its own (HUYING_RUN_PROJECTOR=0 on the API servers): one process of
    the deployment projects at a time; another waits and takes over if it dies."""
    from huying.duties import Duty

    if once:
        with _opened() as services:
            done = _once(services, Duty.PROJECTOR, services.projector.catch_up)
            chained = _once(services, Duty.CHAIN, services.chain.catch_up) if chain else "none"  # 防篡改
            typer.echo(
                f"projected {done}; at position {services.projector.tracked_position()}; chained {chained}",
                err=True,
            )
            halted = [f for f in (services.projector.halted, services.chain.alarm) if f is not None]
            for flaw in halted:  # 防篡改: each stopped before an event it cannot vouch for
                typer.echo(f"error: halted at {flaw.sentence()}", err=True)
            if halted:
                raise typer.Exit(1)
        return
    settings = Settings()
    offered = [Duty.PROJECTOR, *([Duty.CHAIN] if chain else [])]
    _run_duties([*offered, *([Duty.WEBHOOKS] if settings.run_webhooks else [])], "projecting")


@cli.command("chain")
def chain_keeper(
    once: Annotated[bool, typer.Option(help="chain what is new and exit")] = False,
) -> None:
    """Keep the audit hash chain on its own (防篡改; HUYING_RUN_CHAIN=0 on the API servers)."""
    from huying.duties import Duty

    if once:
        with _opened() as services:
            typer.echo(f"chained {_once(services, Duty.CHAIN, services.chain.catch_up)}", err=True)
        return
    _run_duties([Duty.CHAIN], "keeping the audit chain")


@cli.command()
def watch(
    once: Annotated[bool, typer.Option(help="one sweep, print the moves, and exit")] = False,
) -> None:
    """Run the SLA watchdog on its own (HUYING_RUN_WATCHDOG=0 on the API servers)."""
    from huying.duties import Duty

    if once:
        with _opened() as services:
            services.projector.catch_up()
            for move in services.watchdog.sweep():
                typer.echo(f"{move.action}\t{move.aggregate_id}\t{move.clock}\t{move.unit}")
        return
    _run_duties([Duty.WATCHDOG], "watching SLA clocks")


def _opened() -> AbstractContextManager[Services]:
    """A long-running command's services: the schemas created or upgraded first."""
    from huying.bootstrap import opened

    return opened(Settings(), migrate=True)


def _once(services: Services, duty: Duty, catch_up: Callable[[], int]) -> str:
    """Catch up once, holding the duty's lock: not while another process does that duty."""
    from huying.locks import duty_lock

    lock = duty_lock(services.settings, duty)
    if not lock.acquire():
        return f"nothing: another process holds the {duty} duty and keeps it up to date"
    try:
        return f"{catch_up()} events"
    finally:
        lock.release()


def _run_duties(offered: list[Duty], doing: str) -> None:
    """Offer the duties until SIGINT or SIGTERM; standing by while another process holds one."""
    import signal
    import threading

    from huying.duties import Duties, log_to_stderr, settle_the_collector
    from huying.supervision import stop_when_orphaned

    log_to_stderr()
    stop_when_orphaned()  # a child of `huying serve` ends with it
    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    with _opened() as services:
        duties = Duties(services, offered, apart=True)  # a process of its own: the writes are others'
        settle_the_collector()
        duties.start()
        try:
            waiting = [str(d) for d in offered if not duties.holding(d)]
            standby = f" (standing by for {', '.join(waiting)}: another process holds it)" if waiting else ""
            typer.echo(f"{doing}{standby}; Ctrl-C to stop", err=True)
            stopped.wait()
        finally:
            duties.stop()


@cli.command("backup")
def backup_command(
    to: Annotated[Path, typer.Option("--to", help="a new, empty directory")],
) -> None:
    """Back the deployment up while it runs (SQLite: online backup API; PostgreSQL: pg_dump of
    its schema). HUYING_SECRET_KEY is not in it: keep that apart (docs/operations.md)."""
    _backup_tool("backup", to)


@cli.command("restore")
def restore_command(
    source: Annotated[Path, typer.Option("--from", help="a directory made by huying backup")],
) -> None:
    """Restore a backup into this deployment, which must be empty (no huying running on it)."""
    _backup_tool("restore", source)


def _backup_tool(action: str, directory: Path) -> None:
    from huying import backup

    run = backup.backup if action == "backup" else backup.restore
    try:
        done = run(Settings(), directory)
    except backup.BackupError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    typer.echo(done.summary, err=True)


def _check_startup(settings: Settings) -> None:
    """Fail before binding a port: bad reference data or a missing key stop start-up with a
    message naming the problem, not a traceback."""
    from huying.bootstrap import make_calendar
    from huying.reference import load_catalog, load_org

    load_catalog(load_org())
    make_calendar(settings)
    settings.ensure_safe()


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
