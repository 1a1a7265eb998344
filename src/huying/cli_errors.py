"""Every expected error of the `huying` command is one line on stderr and a non-zero exit.

Expected: bad settings, reference data or calendar files; a database that cannot be reached or
has no (or another) schema; a file that cannot be written; a bad option. Anything else is a
bug, and keeps its traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import typer
from eventsourcing.persistence import PersistenceError
from pydantic import ValidationError
from sqlalchemy.exc import ArgumentError, DBAPIError
from typer.core import TyperGroup

from huying.domain.errors import InvalidCommand
from huying.domain.worktime import CalendarFileError
from huying.migrate import SchemaNotReady
from huying.reference import ReferenceDataError
from huying.settings import UnsafeSettings

USAGE = 2  # the exit status of a request that cannot be carried out as given (click's too)
_STATED = (UnsafeSettings, SchemaNotReady, ReferenceDataError, CalendarFileError)
# Typer raises the exceptions of its own copy of click (vendored in recent versions, so not
# necessarily the `click` package's): reach them through a public class derived from them.
_CLICK = {c.__name__: c for c in typer.BadParameter.__mro__}
ClickException: type[Any] = _CLICK["ClickException"]
UsageError: type[Any] = _CLICK["UsageError"]


def one_line(e: BaseException) -> str | None:
    """What went wrong, in one line, for an expected error; None for anything else."""
    if isinstance(e, ValidationError):
        return "; ".join(_setting(error) for error in e.errors())
    if isinstance(e, _STATED) or _from_alembic(e):
        return _first_line(e)
    if isinstance(e, InvalidCommand):
        return f"{e.field}: {e.detail}"
    if isinstance(e, DBAPIError):
        return f"the database: {_first_line(e.orig or e)}"
    if isinstance(e, ArgumentError):  # a database URL SQLAlchemy cannot use
        return f"the database URL: {_first_line(e)}"
    if isinstance(e, PersistenceError):
        return f"the event store: {_first_line(e)}"
    if isinstance(e, ModuleNotFoundError):  # e.g. the driver a database URL names
        return f"{e}: a package this needs is not installed"
    if isinstance(e, OSError):
        return _first_line(e)
    return None


def _from_alembic(e: BaseException) -> bool:
    """Alembic's own command errors (a migration that cannot run). Alembic is imported only by
    a process that migrates (``migrate.HEAD``): one that did not cannot have raised them."""
    util = sys.modules.get("alembic.util")
    return util is not None and isinstance(e, util.CommandError)


def _setting(error: Any) -> str:
    """A Settings field as the environment variable that sets it."""
    name = "HUYING_" + "_".join(str(part) for part in error["loc"]).upper() if error["loc"] else "settings"
    given = f" (got {error['input']!r})" if not isinstance(error["input"], dict) else ""
    return f"{name}: {error['msg']}{given}"


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


class OneLineErrors(TyperGroup):
    """The root group of the command: turns expected errors and usage errors into one line."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as e:
            message = one_line(e)
            if message is None:
                raise
            fail(message)

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, windows_expand_args, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except ClickException as e:
            sys.exit(_usage(e))
        except typer.Abort:
            _say("aborted")
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


def _usage(e: Any) -> int:
    """A command line that does not parse, in one line (or the help, when nothing was given)."""
    if type(e).__name__ == "NoArgsIsHelpError":
        e.show()  # `huying` alone: the help, as asked
    elif isinstance(e, UsageError) and e.ctx is not None:
        where = e.ctx.command_path
        _say(f"{where}: {e.format_message()} (see {where} --help)")
    else:
        _say(e.format_message())
    return int(e.exit_code)


def fail(message: str, code: int = USAGE) -> NoReturn:
    """Say what is wrong in one line on stderr and exit with ``code``."""
    _say(message)
    raise typer.Exit(code)


def _say(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
