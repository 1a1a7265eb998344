"""The one `huying` command for operators and scripts."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Annotated

import typer

from huying.audit.cli import audit_cli, export
from huying.cli_errors import OneLineErrors, fail
from huying.services.keys_cli import keys_cli
from huying.settings import Settings

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
        bool, typer.Option(help="--synthetic: project and chain in another process (the other core)")
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
    workers: Annotated[int, typer.Option(help="uvicorn worker processes (SQLite: 1)")] = 1,
) -> None:
    """Serve the HTTP API (runs migrations first)."""
    import uvicorn

    from huying.api.connection import uvicorn_options
    from huying.migrate import upgrade

    settings = Settings()
    if workers > 1 and settings.events_url.startswith("sqlite"):
        typer.echo("error: SQLite means one server process; use --workers 1", err=True)
        raise typer.Exit(2)
    _check_startup(settings)
    upgrade(settings)
    uvicorn.run(
        "huying.api.app:create_app",
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
) -> None:
    """Drop every read model and refill it from the event log."""
    import time

    from huying.bootstrap import opened

    with opened(Settings(), migrate=True) as services:
        projector = services.projector
        projector.batch_size = batch_size
        total = services.app.recorder.max_notification_id() or 0
        projector.reset()
        started = time.perf_counter()
        with typer.progressbar(length=total, label="rebuilding read models", file=sys.stderr) as bar:
            done = projector.catch_up(on_batch=bar.update)
        elapsed = time.perf_counter() - started
    rate = done / elapsed if elapsed > 0 else 0.0
    typer.echo(f"rebuilt from {done} events in {elapsed:.1f} s ({rate:,.0f} events/s)", err=True)
    if projector.halted is not None:  # 防篡改: it stopped before an event it cannot vouch for
        typer.echo(f"error: the rebuild halted at {projector.halted.sentence()}", err=True)
        raise typer.Exit(1)


@cli.command()
def project(
    once: Annotated[bool, typer.Option(help="catch up and exit instead of following the log")] = False,
) -> None:
    """Run the projector on its own (set HUYING_RUN_PROJECTOR=0 on the API servers)."""
    import signal
    import threading

    from huying.bootstrap import opened

    settings = Settings()
    with opened(settings, migrate=True) as services:
        if once:
            done = services.projector.catch_up()
            chained = services.chain.catch_up()  # 防篡改: the hash chain too
            typer.echo(
                f"projected {done} events; at position {services.projector.progress.position}; "
                f"chained {chained}",
                err=True,
            )
            halted = [f for f in (services.projector.halted, services.chain.alarm) if f is not None]
            for flaw in halted:  # 防篡改: each stopped before an event it cannot vouch for
                typer.echo(f"error: halted at {flaw.sentence()}", err=True)
            if halted:
                raise typer.Exit(1)
            return
        stopped = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stopped.set())
        services.projector.start()
        services.chain.start()
        if settings.run_webhooks:
            services.webhooks.start()  # webhook deliveries follow the log beside the read models
        typer.echo("projecting; Ctrl-C to stop", err=True)
        stopped.wait()


@cli.command()
def watch(
    once: Annotated[bool, typer.Option(help="one sweep, print the moves, and exit")] = False,
) -> None:
    """Run the SLA watchdog on its own (set HUYING_RUN_WATCHDOG=0 on the API servers)."""
    import signal
    import threading

    from huying.bootstrap import opened

    with opened(Settings(), migrate=True) as services:
        if once:
            services.projector.catch_up()
            for move in services.watchdog.sweep():
                typer.echo(f"{move.action}\t{move.call_id}\t{move.clock}\t{move.unit}")
            return
        stopped = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stopped.set())
        services.watchdog.start()
        typer.echo("watching SLA clocks; Ctrl-C to stop", err=True)
        stopped.wait()


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
