"""The auditor's tools on the command line: ``huying audit verify|replay|checkpoints`` and
``huying export``. Heavy imports wait until a command runs."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any

import typer

from huying.cli_errors import fail
from huying.settings import Settings

if TYPE_CHECKING:
    from huying.audit.verify import Report
    from huying.bootstrap import Services

audit_cli = typer.Typer(
    help="审计: verify the log's hash chain, replay the read models, export checkpoints.",
    no_args_is_help=True,
)


@contextmanager
def _services(*, checks_seals: bool = False) -> Iterator[Services]:
    """Read-only: the auditor's tools migrate nothing and write nothing. Those that read the
    events themselves check each one's seal (防篡改), a keyed MAC: they need the master key that
    wraps the seal key; the others need no secret key."""
    from huying.bootstrap import opened

    settings = Settings()
    with opened(settings, read_only=True) as services:
        sealed = services.app.recorder.max_notification_id()  # an empty log has nothing sealed
        if checks_seals and sealed and not settings.existing_secrets():
            fail(
                "checking the events' seals needs the master key: set HUYING_SECRET_KEY "
                "(HUYING_DEMO=1 where a demo deployment keeps it in its data directory)"
            )
        yield services


@contextmanager
def _output(path: Path | None) -> Iterator[IO[bytes]]:
    if path is None:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
    else:
        with path.open("wb") as f:
            yield f


@audit_cli.command("verify")
def verify(
    checkpoints: Annotated[
        Path | None,
        typer.Option(help="checkpoints kept elsewhere: JSON Lines, or a saved /audit/checkpoints answer"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the verdict as JSON")] = False,
) -> None:
    """防篡改: recompute the hash chain from the stored events and check every event's seal and
    place; OK (exit 0) or the first event it cannot vouch for (exit 1): forged, altered, missing,
    reordered, extra or truncated, with its position."""
    from huying.audit.checkpoints import BadCheckpoints, load_file

    try:
        given = load_file(checkpoints) if checkpoints is not None else []
    except BadCheckpoints as e:
        fail(str(e))
    with _services(checks_seals=True) as services:
        length = services.chain.log.head()
        with typer.progressbar(length=length, label="verifying the log", file=sys.stderr) as bar:
            report = services.chain.verify(given, on_progress=bar.update)
    typer.echo(json.dumps(_verdict(report), ensure_ascii=False, indent=2) if as_json else _sentence(report))
    if not report.ok:
        raise typer.Exit(1)


def _verdict(report: Report) -> dict[str, Any]:
    broken = report.broken
    return {
        "ok": report.ok,
        "checked": report.checked,
        "chained_through": report.chained_through,
        "log_head": report.log_head,
        "unchained": report.unchained,
        "checkpoints_checked": report.checkpoints_checked,
        "break": {
            "position": broken.position,
            "kind": broken.kind.value,
            "detail": broken.detail,
            "intact_through": broken.intact_through,
        }
        if broken
        else None,
    }


def _sentence(report: Report) -> str:
    broken = report.broken
    if broken is not None:
        return (
            f"BROKEN at position {broken.position}: {broken.kind.value} — {broken.detail} "
            f"(intact through position {broken.intact_through})"
        )
    waiting = (
        f"; {report.unchained:,} newer events vouched for by their seals, not yet chained"
        if report.unchained
        else ""
    )
    return (
        f"OK: {report.checked:,} events vouched for, matching the hash chain through position "
        f"{report.chained_through:,} (log head {report.log_head:,}); "
        f"{report.checkpoints_checked:,} checkpoints matched{waiting}"
    )


@audit_cli.command("checkpoints")
def checkpoints(
    out: Annotated[Path | None, typer.Option(help="write here instead of stdout")] = None,
) -> None:
    """审计检查点 as JSON Lines — every stored checkpoint, then the chained head now. Keep the
    file elsewhere; ``huying audit verify --checkpoints FILE`` checks the log against it."""
    from huying.audit.checkpoints import iter_stored

    with _services() as services, _output(out) as f:
        for c in iter_stored(services.engine):
            f.write((json.dumps(c.as_json()) + "\n").encode())
        head = services.chain.head_checkpoint()
        if head is not None:
            f.write((json.dumps({**head.as_json(), "head": True}) + "\n").encode())


@audit_cli.command("replay")
def replay(
    batch_size: Annotated[int, typer.Option(help="notifications per transaction", min=1)] = 5000,
    show: Annotated[int, typer.Option(help="differences shown per table", min=0)] = 20,
    scratch_dir: Annotated[Path | None, typer.Option(help="where the scratch database goes")] = None,
) -> None:
    """重放核验: rebuild every read model from the log into a scratch database and compare it
    with the live one, table by table, row by row. Exit 1 on any difference."""
    from huying.audit.replay import replay_and_compare

    with _services(checks_seals=True) as services:
        total = services.projector.tracked_position()
        with typer.progressbar(length=total, label="replaying the log", file=sys.stderr) as bar:
            result = replay_and_compare(
                services.app,
                services.engine,
                services.settings,
                batch_size=batch_size,
                show=show,
                scratch_dir=scratch_dir,
                on_batch=bar.update,
            )
    if result.halted is not None:
        typer.echo(f"the replay halted at {result.halted.sentence()}", err=True)
    typer.echo(f"replayed the log up to position {result.position:,}")
    for table, rows in result.rows.items():
        typer.echo(f"{table}: {rows:,} rows, {result.differing[table]:,} differences")
    for d in result.shown:
        key = ", ".join(f"{k}={v}" for k, v in d.key.items())
        if d.live is None:
            typer.echo(f"  {d.table} [{key}]: missing from the live read models")
        elif d.replayed is None:
            typer.echo(f"  {d.table} [{key}]: in the live read models, not in the replay")
        else:
            for column, (live, replayed) in d.columns.items():
                typer.echo(f"  {d.table} [{key}] {column}: live {live!r}, replayed {replayed!r}")
    if not result.same:
        raise typer.Exit(1)
    typer.echo("the live read models equal the replay")


def export(
    what: Annotated[str, typer.Option(help="events (JSON Lines) or scores (CSV)")] = "events",
    from_: Annotated[
        str | None, typer.Option("--from", help="from: a date or an RFC 3339 time (inclusive)")
    ] = None,
    to: Annotated[
        str | None, typer.Option(help="to: a date (that day included) or a time (exclusive)")
    ] = None,
    type_: Annotated[str | None, typer.Option("--type", help="events: comma-separated event types")] = None,
    kind: Annotated[
        str | None,
        typer.Option(help="scores: community, street or department (default street and department)"),
    ] = None,
    period: Annotated[str | None, typer.Option(help="scores: YYYY-MM, YYYY-Qn or YYYY")] = None,
    headers: Annotated[
        str,
        typer.Option(help="scores: zh (Chinese headers after a UTF-8 BOM, for Excel) or en (field codes)"),
    ] = "zh",
    out: Annotated[Path | None, typer.Option(help="write here instead of stdout")] = None,
) -> None:
    """审计导出: a period's events as JSON Lines, or the units' scores as CSV (streamed)."""
    from huying.audit.export import KINDS, Headers, event_lines, period_between, score_csv, score_table
    from huying.audit.feed import EventFeed, FeedQuery, event_types, window
    from huying.domain.org import UnitKind
    from huying.queries.dashboard import local_day

    if what not in ("events", "scores"):
        fail("--what is events or scores")
    if kind not in (None, "community", "street", "department"):
        fail("--kind is community, street or department")
    if headers not in {h.value for h in Headers}:
        fail("--headers is zh or en")
    with _services(checks_seals=what == "events") as services:
        if what == "events":
            chunks = event_lines(EventFeed(services.app), FeedQuery(event_types(type_), window(from_, to)))
        else:
            chosen = period_between(from_, to, period, local_day(services.clock.now()))
            _warn_if_behind(services)
            kinds = KINDS if kind is None else (UnitKind(kind),)
            now, app = services.clock.now(), services.app
            rows = score_table(services.engine, app.org, kinds, chosen, now, app.calendar, services.settings)
            chunks = score_csv(rows, Headers(headers))
        with _output(out) as f:
            for chunk in chunks:
                f.write(chunk)


def _warn_if_behind(services: Services) -> None:
    head = services.app.recorder.max_notification_id() or 0
    at = services.projector.tracked_position()
    if at < head:
        typer.echo(
            f"note: the read models are at position {at:,} of {head:,} (is a projector running?)", err=True
        )
