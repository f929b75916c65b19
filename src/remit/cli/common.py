"""Pieces shared by every command: one-line errors, JSON output, the console, the trial
database (``--db``) and the acting user (``--user``).

Who acts must have logged in: every command that acts as ``--user`` (reads too: a read is
logged under that name) finds the actor through :func:`acting`, which accepts the user only
with a live token of ``remit login`` in the token file (:func:`token_file`) or, with
``remit --password-stdin COMMAND …``, the user's password on the first line of standard input.
Without either the command stops with one line and exit code 2. Work Remit does itself runs
as a named system actor (``Actor.system``: ``remit-init``, ``remit-sweep``, ``remit-notify``);
``remit demo`` makes its own database and acts as its own users and system actors.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from remit.errors import InputError, Problem, RemitError
from remit.json_values import to_json_value

if TYPE_CHECKING:
    import pandas as pd

    from remit.services import Actor, AuditKeyRing, Engine
    from remit.services.accounts import LoginPolicy


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
        # messages quote inputs ("[field] = '1'"): escaped, or Rich takes brackets for markup
        err_console.print(
            f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True
        )
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
    with the audit key ring ``audit_key`` (see :func:`audit_keys_given`) and the allocation key
    of ``$REMIT_ALLOCATION_KEY_FILE`` or ``$REMIT_ALLOCATION_KEY`` (none when unset)."""
    # Imported here: the database stack loads only for commands that use a database.
    from remit import services as sv

    engine = sv.open_database(
        db, audit_keys=audit_keys_given(audit_key), allocation_key=sv.allocation_key_from_env()
    )
    try:
        yield engine
    finally:
        sv.close_database(engine)


# --- logging in ------------------------------------------------------------------------------

#: Tokens kept per user in the token file (the newest first; one per database logged in to).
MAX_TOKENS_PER_USER = 8


#: Roles that must use TOTP MFA (comma-separated, ``none``: no role; unset: none), read by
#: the CLI's logins and by ``remit serve``'s web app.
MFA_ROLES_ENV = "REMIT_MFA_ROLES"


class _Login:
    """What the root callback was told: read the acting user's password from stdin, and the
    TOTP code given with ``--totp-code``."""

    password_stdin: bool = False
    totp_code: str | None = None


def set_totp_code(value: str | None) -> None:
    """``remit --totp-code CODE``: the MFA code for ``--password-stdin`` of a user with MFA."""
    _Login.totp_code = value


def login_policy() -> LoginPolicy:
    """The CLI's login policy: the default throttle and the MFA roles of ``$REMIT_MFA_ROLES``."""
    from remit.services.accounts import DEFAULT_LOGIN_POLICY, mfa_roles_from

    return replace(DEFAULT_LOGIN_POLICY, mfa_roles=mfa_roles_from(os.environ.get(MFA_ROLES_ENV)))


def set_password_stdin(value: bool) -> None:
    """``remit --password-stdin``: commands check the acting user's password read from the
    first line of standard input instead of a stored token."""
    _Login.password_stdin = value


def token_file() -> Path:
    """Where ``remit login`` keeps its tokens: ``$REMIT_TOKEN_FILE``, else
    ``$XDG_CONFIG_HOME/remit/tokens.json`` (``~/.config/remit/tokens.json``)."""
    from pathlib import Path

    given = os.environ.get("REMIT_TOKEN_FILE")
    if given:
        return Path(given)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "remit" / "tokens.json"


def _read_token_file() -> dict[str, list[str]]:
    path = token_file()
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InputError(
            f"the token file {path} cannot be read ({error})",
            hint="delete it and run `remit login` again",
        ) from None
    if not isinstance(data, dict):
        return {}
    return {str(k): [str(t) for t in v] for k, v in data.items() if isinstance(v, list)}


def _write_token_file(data: dict[str, list[str]]) -> None:
    path = token_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = path.with_name(path.name + ".partial")
    # Created with mode 0600 (never readable by others, not even for a moment).
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(data, out, indent=1)
    os.chmod(partial, 0o600)
    os.replace(partial, path)


def stored_tokens(username: str) -> list[str]:
    """The tokens the token file holds for ``username`` (newest first)."""
    return _read_token_file().get(username, [])


def save_token(username: str, token: str) -> None:
    """Keep a new token of ``username`` in the token file (mode 0600)."""
    data = _read_token_file()
    data[username] = [token, *data.get(username, [])][:MAX_TOKENS_PER_USER]
    _write_token_file(data)


def forget_tokens(username: str, tokens: Sequence[str]) -> None:
    """Remove ``tokens`` of ``username`` from the token file."""
    data = _read_token_file()
    kept = [t for t in data.get(username, []) if t not in tokens]
    if kept:
        data[username] = kept
    else:
        data.pop(username, None)
    _write_token_file(data)


def read_password(stdin: bool, confirm: bool = True) -> str:
    """A password from the first line of standard input (``stdin``) or a hidden prompt."""
    if stdin:
        line = sys.stdin.readline().rstrip("\n")
        if not line:
            raise InputError("no password on standard input")
        return line
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=confirm))


def _require_login(engine: Engine, user: str) -> None:
    """Refuse ``user`` unless they logged in (a live token) or gave their password (stdin)."""
    from remit.services import security

    if _Login.password_stdin:
        security.check_cli_password(
            engine, user, read_password(True), totp_code=_Login.totp_code, policy=login_policy()
        )
    else:
        security.check_cli_token(engine, stored_tokens(user), user)


def _user_given(user: str | None) -> str:
    if not user:
        raise InputError("no acting user", hint="pass --user NAME or set REMIT_USER")
    return user


def acting(engine: Engine, user: str | None, role: str | None = None) -> Actor:
    """The actor for ``--user`` (and ``--role``, when the user holds several roles), who must
    have logged in (see the module's docstring)."""
    from remit import services as sv

    name = _user_given(user)
    actor = sv.actor_for(engine, name, role)  # an unknown user or role: that error first
    _require_login(engine, name)
    return actor


def acting_in_every_role(engine: Engine, user: str | None) -> dict[str, Actor]:
    """``--user`` as an actor in each role they hold (role → actor), once logged in."""
    from remit import services as sv

    name = _user_given(user)
    actors = sv.actors_for(engine, name)
    _require_login(engine, name)
    return actors


@contextmanager
def acting_on(db: str, user: str | None) -> Iterator[tuple[Engine, Actor]]:
    """What a command acting on the trial database opens: errors as one line, the engine on
    ``--db`` (closed afterwards) and the actor for ``--user``."""
    with errors_as_exit(), open_engine(db) as engine:
        yield engine, acting(engine, user)
