"""``remit serve``: the web app (pages and the JSON API) over one trial database."""

from __future__ import annotations

import importlib.util
import os
import secrets
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from remit import services as sv
from remit.cli.common import (
    AUDIT_KEY_ENV,
    MFA_ROLES_ENV,
    AuditKeyOption,
    DbOption,
    audit_keys_given,
    errors_as_exit,
    open_engine,
)
from remit.cli.notify_options import (
    BaseUrlOption,
    SmtpFromOption,
    SmtpUrlOption,
    report_pass,
    sender_of,
)
from remit.errors import InputError

if TYPE_CHECKING:
    from remit.services import AuditKeyRing, Engine, Sender
    from remit.services.notify import PeriodicJob

app = typer.Typer(help="Serve the web app.", no_args_is_help=False)


def serve_command(
    db: DbOption,
    host: Annotated[
        str,
        typer.Option(help="Address to listen on; keep 127.0.0.1 unless a proxy sits in front."),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port to listen on.", min=1, max=65535)] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            help="Worker processes serving requests (sessions live in the database, so they "
            "share them). More than 1 needs PostgreSQL.",
            min=1,
            max=64,
        ),
    ] = 1,
    threads: Annotated[
        int | None,
        typer.Option(
            "--threads",
            envvar="REMIT_WEB_THREADS",
            help="Worker threads per process for the requests' database work (default 4). "
            "More keep slow pages (reports, exports) from holding up other requests, at some "
            "CPU per request under load; on SQLite forms are saved by one writer thread "
            "whatever this is.",
            min=1,
            max=256,
            show_default=False,
        ),
    ] = None,
    https: Annotated[
        bool,
        typer.Option(
            "--https/--no-https",
            help="Mark cookies Secure (behind an HTTPS proxy); on by itself for HTTPS requests.",
        ),
    ] = False,
    access_log: Annotated[
        bool,
        typer.Option(
            "--access-log/--no-access-log",
            help="Print a line for every request (uvicorn's access log). Off by default: the "
            "proxy in front logs every request (docs/deployment.md) and the line costs CPU on "
            "each one; errors, the periodic jobs and the security log are kept either way.",
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
    smtp_url: SmtpUrlOption = None,
    smtp_from: SmtpFromOption = None,
    base_url: BaseUrlOption = None,
    deliver_every: Annotated[
        float,
        typer.Option(
            "--deliver-every",
            help="Seconds between passes of the periodic jobs in a background thread: the "
            "sweep for missed dosing-day readings and, with --smtp-url, alert delivery (new "
            "alerts, escalations, retries).",
            min=1,
        ),
    ] = 5.0,
    allow_unsafe_durability: Annotated[
        bool,
        typer.Option(
            "--allow-unsafe-durability",
            help="Serve even though the database may lose saves it acknowledged "
            "(PostgreSQL synchronous_commit=off or fsync=off, SQLite synchronous=OFF): "
            "for throw-away demos only, never for trial data.",
        ),
    ] = False,
    audit_key: AuditKeyOption = None,
    anchor_dir: Annotated[
        Path | None,
        typer.Option(
            "--anchor-dir",
            envvar="REMIT_ANCHOR_DIR",
            help="Folder to write signed audit anchors to (remit audit anchor) while serving; "
            "keep it on another disk or copy it away (docs/security.md).",
            show_default=False,
        ),
    ] = None,
    anchor_every: Annotated[
        float,
        typer.Option(
            "--anchor-every",
            help="Seconds between audit anchors (written only when the audit trail grew).",
            min=1,
        ),
    ] = 300.0,
    mfa_role: Annotated[
        list[str] | None,
        typer.Option(
            "--mfa-role",
            help="A role whose holders must use TOTP MFA (repeatable; `none` for no role). "
            "Default: $REMIT_MFA_ROLES (comma-separated), else none (set at least admin).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the pages and the JSON API (/api/v1, OpenAPI at /openapi.json) with uvicorn.

    A background thread flags missed dosing-day readings and, with --smtp-url, e-mails safety
    alerts (``remit alerts deliver --watch``): new alerts within --deliver-every seconds,
    escalations on the protocol's time.

    Sessions live in the database, so a restart logs nobody out and --workers N (PostgreSQL)
    or several hosts on one database share them (docs/deployment.md).
    """
    import uvicorn

    with errors_as_exit():
        if not db:
            raise InputError("no database given", expected="--db trial.db or $REMIT_DATABASE_URL")
        # refuse a missing or unmigrated database, and a key ring that is not this database's
        with open_engine(db, audit_key) as engine:
            sv.require_matching_keys(engine)
            _check_durability(engine, allow_unsafe_durability)
            _check_workers(engine, workers)
        sender = sender_of(smtp_url, smtp_from)
        keys = audit_keys_given(audit_key)
        if mfa_role:
            from remit.services.accounts import mfa_roles_from

            given = ",".join(mfa_role)
            mfa_roles_from(given)  # an unknown role: one clear error before serving
            os.environ[MFA_ROLES_ENV] = given
    os.environ["REMIT_DATABASE_URL"] = db
    os.environ["REMIT_HTTPS"] = "1" if https else ""
    if threads is not None:
        os.environ["REMIT_WEB_THREADS"] = str(threads)
    # every worker signs and checks login forms with the same key (a form one worker shows
    # may be posted to another); without --secret-key a random one for this start
    os.environ["REMIT_SECRET_KEY"] = secret_key or secrets.token_urlsafe(32)
    if audit_key is not None:
        os.environ[AUDIT_KEY_ENV] = str(audit_key)
    jobs = sv.PERIODIC_JOBS
    if anchor_dir is not None:
        jobs = (*jobs, ("anchor_audit", sv.AnchorJob(anchor_dir, anchor_every)))
        typer.echo(f"Audit anchors go to {anchor_dir} every {anchor_every:g} s (when it grew).")
    else:
        typer.echo("Audit anchors are not written (no --anchor-dir): anchor with cron instead.")
    served_by = f"{workers} worker processes" if workers > 1 else "one worker process"
    loop, http = event_loop_and_parser()
    typer.echo(
        f"Remit on http://{host}:{port}/ (API docs at /api/docs), {served_by} "
        f"({loop}, {http}); Ctrl+C stops it."
    )
    stop = threading.Event()
    delivering = _start_delivery(db, sender, base_url, deliver_every, stop, keys, jobs)
    try:
        uvicorn.run(
            "remit.web.app:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            loop=loop,
            http=http,
            proxy_headers=https,
            log_level="info",
            access_log=access_log,
        )
    finally:
        stop.set()
        delivering.join(timeout=30)


def event_loop_and_parser() -> tuple[str, str]:
    """uvicorn's event loop and HTTP parser: uvloop and httptools (written in C, dependencies
    of Remit: less CPU per request than asyncio and h11, issue 16) when installed, else the
    pure-Python asyncio and h11 (uvloop does not exist on Windows)."""
    loop = "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") is not None else "h11"
    return loop, http


def _check_durability(engine: Engine, allowed: bool) -> None:
    """Refuse (exit 2) a database that can lose acknowledged saves, unless ``allowed``."""
    from remit import services as sv

    unsafe = sv.unsafe_durability(engine)
    if unsafe and not allowed:
        raise InputError(
            "the database can lose saves it acknowledged: " + "; ".join(unsafe),
            expected="synchronous_commit=on and fsync=on (PostgreSQL), synchronous=FULL (SQLite)",
            hint="fix the database settings (e.g. ALTER DATABASE … RESET synchronous_commit), "
            "or pass --allow-unsafe-durability for a throw-away demo",
        )
    for line in unsafe:
        typer.echo(f"Warning: unsafe durability allowed: {line}", err=True)


def _check_workers(engine: Engine, workers: int) -> None:
    """Refuse (exit 2) several worker processes over a SQLite database."""
    if workers > 1 and engine.dialect.name == "sqlite":
        raise InputError(
            f"--workers {workers} needs PostgreSQL: this database is a SQLite file",
            expected="--workers 1 with SQLite, or a postgresql:// database for more",
            hint="SQLite is one file with one writer at a time: several processes would queue "
            "on its lock (each process orders only its own writers) and answer 'database is "
            "locked' under load. Serve it with one worker, or move the trial to PostgreSQL "
            "(docs/deployment.md)",
        )


def _start_delivery(
    db: str,
    sender: Sender | None,
    base_url: str | None,
    every_s: float,
    stop: threading.Event,
    keys: AuditKeyRing | None,
    jobs: tuple[tuple[str, PeriodicJob], ...],
) -> threading.Thread:
    """The periodic jobs (the sweep for missed dosing-day readings, the alert delivery, audit
    anchors) in a daemon thread, on its own engine keyed with ``keys``; without a sender
    alerts are not e-mailed."""

    def run() -> None:
        # a database that cannot be opened now (restarting, full disk …) is reported each
        # interval and tried again: the thread must not end and leave alerts unsent silently
        while True:
            try:
                engine = sv.open_database(db, audit_keys=keys)
                break
            except Exception as error:  # reported, and tried again
                report_pass({"periodic jobs": error})
                if stop.wait(every_s):
                    return
        try:
            sv.periodic_loop(
                engine,
                sender,
                every_s=every_s,
                stop=stop,
                base_url=base_url,
                report=lambda results: report_pass(results, quiet_when_idle=True),
                jobs=jobs,
            )
        finally:
            sv.close_database(engine)

    if sender is None:
        typer.echo("Alerts are not e-mailed (no --smtp-url): they show in the app only.")
    else:
        typer.echo(f"Alerts are e-mailed through {sender.describe()}.")
    names = ", ".join(name.replace("_", " ") for name, _ in jobs)
    typer.echo(f"Periodic jobs ({names}) run every {every_s:g} s.")
    thread = threading.Thread(target=run, name="remit-alert-delivery", daemon=True)
    thread.start()
    return thread


app.command("serve")(serve_command)
