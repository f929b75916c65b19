"""Pieces shared by every command: one-line errors, JSON output, the console, the trial
database (``--db``) and the acting user (``--user``)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console

from remit.errors import InputError, RemitError
from remit.json_values import to_json_value

if TYPE_CHECKING:
    from remit.services import Actor, Engine


class _CommandConsole(Console):
    """A Rich console that looks at the terminal afresh for every command.

    Rich reads the terminal width (and ``COLUMNS``) when a console is made; the CLI's
    consoles live as long as the process, so each command invocation calls :meth:`refresh`
    (from the root callback) to measure again and drop any display a previous command left.
    """

    def __init__(self, *, stderr: bool = False) -> None:
        super().__init__(stderr=stderr)
        self._made_for_stderr = stderr

    def refresh(self) -> None:
        """Re-measure the terminal and start from a clean state."""
        self.__init__(stderr=self._made_for_stderr)  # type: ignore[misc]


console = _CommandConsole()
err_console = _CommandConsole(stderr=True)


def refresh_consoles() -> None:
    """Called at the start of every command: measure the terminal again."""
    console.refresh()
    err_console.refresh()


JsonOption = Annotated[
    bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")
]

F = TypeVar("F", bound=Callable[..., Any])


def print_json(data: Any) -> None:
    """Write ``data`` as JSON to standard output (the contract other programs read), converted
    by :func:`remit.json_values.to_json_value` as the web API and the audit trail are: service
    records as objects, NaN and infinities as null, NumPy numbers as plain numbers."""
    sys.stdout.write(json.dumps(to_json_value(data), indent=2, ensure_ascii=False) + "\n")


@contextmanager
def errors_as_exit() -> Iterator[None]:
    """Turn a :class:`RemitError` into one clear line on stderr and its exit code."""
    try:
        yield
    except RemitError as error:
        err_console.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=error.exit_code) from None


# --- the trial database and who acts ----------------------------------------------------------

DbOption = Annotated[
    str,
    typer.Option(
        "--db",
        envvar="REMIT_DATABASE_URL",
        help="SQLite file path or database URL (postgresql://user@host/db); "
        "defaults to $REMIT_DATABASE_URL.",
    ),
]
UserOption = Annotated[
    str,
    typer.Option(
        "--user", envvar="REMIT_USER", help="Who acts (username); defaults to $REMIT_USER."
    ),
]


@contextmanager
def open_engine(db: str) -> Iterator[Engine]:
    """An engine on the existing, migrated database ``--db`` names (closed afterwards)."""
    # Imported here: the database stack loads only for commands that use a database.
    from remit import services as sv

    engine = sv.open_database(db)
    try:
        yield engine
    finally:
        sv.close_database(engine)


def _user_given(user: str | None) -> str:
    if not user:
        raise InputError("no acting user", hint="pass --user NAME or set REMIT_USER")
    return user


def acting(engine: Engine, user: str | None, role: str | None = None) -> Actor:
    """The actor for ``--user`` (and ``--role``, when the user holds several roles)."""
    from remit import services as sv

    return sv.actor_for(engine, _user_given(user), role)


def acting_in_every_role(engine: Engine, user: str | None) -> dict[str, Actor]:
    """``--user`` as an actor in each role they hold (role → actor)."""
    from remit import services as sv

    return sv.actors_for(engine, _user_given(user))
