"""``remit serve``: the web app (pages and the JSON API) over one trial database."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from remit.cli.common import DbOption, errors_as_exit, open_engine
from remit.errors import InputError

app = typer.Typer(help="Serve the web app.", no_args_is_help=False)


def serve_command(
    db: DbOption,
    host: Annotated[
        str,
        typer.Option(help="Address to listen on; keep 127.0.0.1 unless a proxy sits in front."),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port to listen on.", min=1, max=65535)] = 8000,
    https: Annotated[
        bool,
        typer.Option(
            "--https/--no-https",
            help="Mark cookies Secure (behind an HTTPS proxy); on by itself for HTTPS requests.",
        ),
    ] = False,
    secret_key: Annotated[
        str | None,
        typer.Option(
            envvar="REMIT_SECRET_KEY",
            help="Secret for login-form tokens; random per start when not given.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the pages and the JSON API (/api/v1, OpenAPI at /openapi.json) with uvicorn."""
    import uvicorn

    with errors_as_exit():
        if not db:
            raise InputError("no database given", expected="--db trial.db or $REMIT_DATABASE_URL")
        with open_engine(db):  # refuse a missing or unmigrated database before serving
            pass
    os.environ["REMIT_DATABASE_URL"] = db
    os.environ["REMIT_HTTPS"] = "1" if https else ""
    if secret_key:
        os.environ["REMIT_SECRET_KEY"] = secret_key
    typer.echo(f"Remit on http://{host}:{port}/ (API docs at /api/docs); Ctrl+C stops it.")
    uvicorn.run(
        "remit.web.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=1,
        proxy_headers=https,
        log_level="info",
    )


app.command("serve")(serve_command)
