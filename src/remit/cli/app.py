"""The ``remit`` command: each sub-command is a few lines over the library, loaded when it runs
(:mod:`remit.cli.lazy` lists them)."""

from __future__ import annotations

import typer

from remit import __version__
from remit.cli.common import refresh_consoles, set_password_stdin, set_totp_code
from remit.cli.lazy import LazyGroup

app = typer.Typer(
    cls=LazyGroup,  # each sub-command's module is imported when it runs (remit.cli.lazy)
    name="remit",
    help="Run a psychiatric clinical trial from protocol to published result.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"remit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
    password_stdin: bool = typer.Option(
        False,
        "--password-stdin",
        help="Check the acting user's password from the first line of stdin instead of a "
        "`remit login` token.",
    ),
    totp_code: str | None = typer.Option(
        None,
        "--totp-code",
        help="With --password-stdin: the acting user's TOTP (or recovery) code, when they "
        "have MFA.",
        show_default=False,
    ),
) -> None:
    """Run a psychiatric clinical trial from protocol to published result."""
    refresh_consoles()
    set_password_stdin(password_stdin)
    set_totp_code(totp_code)


def main() -> None:
    """Entry point of the ``remit`` console script."""
    app()
