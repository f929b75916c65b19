"""Pieces shared by every command: one-line errors, JSON output, the console, the trial
database (``--db``) and the acting user (``--user``)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console

from remit.errors import InputError, Problem, RemitError
from remit.json_values import to_json_value

if TYPE_CHECKING:
    import pandas as pd

    from remit.services import Actor, AuditKeyRing, Engine


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


def read_csv(path: Path, expected: str) -> pd.DataFrame:
    """A CSV file as a data frame; one clear error when it is missing or not CSV."""
    import pandas as pd  # here: only the commands that read CSV files load pandas

    if not path.is_file():
        raise InputError(
            f"data file {str(path)!r} does not exist", expected=expected, hint="check the path"
        )
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise InputError(
            f"{str(path)!r} cannot be read as CSV: {error}",
            expected="a comma-separated file with a header row",
        ) from None


def report_problems(source: str, problems: Sequence[Problem], json_output: bool, docs: str) -> None:
    """Print the problems a check found in ``source`` (one line each, or JSON) and exit 2 when
    there are any; ``docs`` is the page that lists the codes."""
    if json_output:
        listed = [asdict(p) for p in problems]
        print_json({"source": source, "ok": not problems, "problems": listed})
    elif problems:
        for p in problems:
            typer.echo(str(p))
        typer.echo(
            f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in {source}; "
            f"see {docs} for the codes",
            err=True,
        )
    else:
        typer.echo(f"{source}: sound")
    if problems:
        raise typer.Exit(code=2)


# --- the trial database and who acts ----------------------------------------------------------

#: Environment variable naming the audit key ring file.
AUDIT_KEY_ENV = "REMIT_AUDIT_KEY_FILE"

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


AuditKeyOption = Annotated[
    Path | None,
    typer.Option(
        "--audit-key",
        envvar=AUDIT_KEY_ENV,
        help="Audit key ring file (KEY_ID HEX lines, newest last); defaults to "
        "$REMIT_AUDIT_KEY_FILE, else the database's own key file (docs/security.md).",
        show_default=False,
    ),
]


def audit_keys_given(path: Path | None) -> AuditKeyRing | None:
    """The key ring in ``path``, else in ``$REMIT_AUDIT_KEY_FILE``, else ``None`` (the
    database's default key file)."""
    from remit import services as sv

    found = path if path is not None else os.environ.get(AUDIT_KEY_ENV)
    return sv.load_key_ring(found) if found else None


@contextmanager
def open_engine(db: str, audit_key: Path | None = None) -> Iterator[Engine]:
    """An engine on the existing, migrated database ``--db`` names (closed afterwards), keyed
    with the audit key ring ``audit_key`` (see :func:`audit_keys_given`)."""
    # Imported here: the database stack loads only for commands that use a database.
    from remit import services as sv

    engine = sv.open_database(db, audit_keys=audit_keys_given(audit_key))
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


@contextmanager
def acting_on(db: str, user: str | None) -> Iterator[tuple[Engine, Actor]]:
    """What a command acting on the trial database opens: errors as one line, the engine on
    ``--db`` (closed afterwards) and the actor for ``--user``."""
    with errors_as_exit(), open_engine(db) as engine:
        yield engine, acting(engine, user)
