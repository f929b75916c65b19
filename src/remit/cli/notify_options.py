"""The options that configure alert delivery, shared by ``remit alerts deliver`` and
``remit serve`` (read here, at the edge, and passed to the services)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from remit.services import Sender

SmtpUrlOption = Annotated[
    str | None,
    typer.Option(
        "--smtp-url",
        envvar="REMIT_SMTP_URL",
        help="SMTP server alerts are e-mailed through: smtp://host:port, smtps://host:port or "
        "smtp://host:port?starttls=1 (user:password@ to log in); defaults to $REMIT_SMTP_URL.",
        show_default=False,
    ),
]
SmtpFromOption = Annotated[
    str | None,
    typer.Option(
        "--smtp-from",
        envvar="REMIT_SMTP_FROM",
        help="Sender address of the alert e-mails; defaults to $REMIT_SMTP_FROM.",
        show_default=False,
    ),
]
BaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        envvar="REMIT_BASE_URL",
        help="Address of the web app (https://remit.example.org) for a link to the alert in "
        "each e-mail; defaults to $REMIT_BASE_URL.",
        show_default=False,
    ),
]


def sender_of(smtp_url: str | None, smtp_from: str | None) -> Sender | None:
    """The sender the options configure, ``None`` when ``--smtp-url`` is not given."""
    from remit import services as sv

    if not smtp_url:
        return None
    return sv.sender_from_url(smtp_url, sender_address=smtp_from or "")


def report_pass(results: dict[str, object], *, quiet_when_idle: bool = False) -> None:
    """Print one line per job of a pass of the periodic loop on stderr (with
    ``quiet_when_idle`` nothing for a job whose result says it was ``idle``)."""
    from remit.cli.common import err_console

    for name, outcome in results.items():
        summary = getattr(outcome, "summary", None)
        line = summary() if callable(summary) else f"error: {outcome}"
        if quiet_when_idle and getattr(outcome, "idle", False):
            continue
        err_console.print(f"{name}: {line}", highlight=False)
