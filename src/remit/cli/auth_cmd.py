"""``remit login``, ``remit logout`` and ``remit security log``: who may act from the command
line, and the security log for admins."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from remit.cli.common import (
    DbOption,
    JsonOption,
    UserOption,
    acting,
    console,
    errors_as_exit,
    forget_tokens,
    login_policy,
    open_engine,
    print_json,
    read_password,
    save_token,
    stored_tokens,
    token_file,
)

security_app = typer.Typer(help="The security log: logins, lockouts, re-authentication.")

PasswordStdinOption = Annotated[
    bool,
    typer.Option("--password-stdin", help="Read the password from the first line of stdin."),
]


TotpCodeOption = Annotated[
    str | None,
    typer.Option(
        "--totp-code",
        help="The authenticator app's code (or a recovery code) for a user with MFA; asked "
        "for when needed unless --password-stdin.",
        show_default=False,
    ),
]


def login_command(
    db: DbOption,
    user: UserOption,
    password_stdin: PasswordStdinOption = False,
    totp_code: TotpCodeOption = None,
) -> None:
    """Log in: check the password and, for a user with MFA, the TOTP code (throttled and logged
    like a web login) and keep a token, valid 8 hours, in the token file ($REMIT_TOKEN_FILE or
    ~/.config/remit/tokens.json, mode 0600). Commands that act as --user need it."""
    from remit.errors import MfaRequiredError
    from remit.services import security

    with errors_as_exit(), open_engine(db) as engine:
        password = read_password(password_stdin, confirm=False)
        policy = login_policy()
        try:
            token = security.cli_login(engine, user, password, policy=policy, totp_code=totp_code)
        except MfaRequiredError as needed:
            if needed.setup or totp_code or password_stdin:
                raise
            code = str(typer.prompt("Authenticator code"))
            token = security.cli_login(engine, user, password, policy=policy, totp_code=code)
        save_token(user, token)
    hours = security.CLI_TOKEN_LIFETIME.total_seconds() / 3600
    typer.echo(f"logged in as {user} for {hours:g} h (token kept in {token_file()})")


def logout_command(db: DbOption, user: UserOption) -> None:
    """Log out: revoke the user's tokens for this database and remove them from the file."""
    from remit.services import security

    with errors_as_exit(), open_engine(db) as engine:
        tokens = stored_tokens(user)
        revoked = [t for t in tokens if security.cli_logout(engine, t)]
        forget_tokens(user, revoked)
    typer.echo(f"logged out {user}" if revoked else f"{user} was not logged in on this database")


@security_app.command("log")
def security_log_command(
    db: DbOption,
    user: UserOption,
    event: Annotated[
        str | None, typer.Option("--event", help="Only this event (e.g. login_failed).")
    ] = None,
    username: Annotated[
        str | None, typer.Option("--username", help="Only events of this username.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many, newest first.")] = 200,
    json: JsonOption = False,
) -> None:
    """Show the security log, newest first (admins only)."""
    from remit.services import security

    with errors_as_exit(), open_engine(db) as engine:
        actor = acting(engine, user)
        rows = security.security_log(engine, actor, event=event, username=username, limit=limit)
    if json:
        print_json([row.to_dict() for row in rows])
        return
    table = Table("time (UTC)", "event", "username", "client", "detail")
    for row in rows:
        table.add_row(
            f"{row.occurred_at:%Y-%m-%d %H:%M:%S}",
            row.event,
            row.username,
            row.client or "",
            row.detail or "",
        )
    console.print(table)
