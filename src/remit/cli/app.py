"""The ``remit`` command: each sub-command is a few lines over the library."""

from __future__ import annotations

import typer

from remit import __version__
from remit.cli.common import refresh_consoles

app = typer.Typer(
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
) -> None:
    """Run a psychiatric clinical trial from protocol to published result."""
    refresh_consoles()


def _register() -> None:
    # Sub-command groups live in their own modules; each exposes a Typer app named ``app``.
    from remit.cli import scales_cmd

    app.add_typer(scales_cmd.app, name="scales")
    from remit.cli import protocol_cmd

    app.add_typer(protocol_cmd.app, name="protocol")
    from remit.cli import audit_cmd, db_cmd

    app.add_typer(db_cmd.app, name="db")
    app.add_typer(audit_cmd.app, name="audit")
    from remit.cli import stats_cmd

    app.add_typer(stats_cmd.app, name="stats")
    from remit.cli import power_cmd

    app.add_typer(power_cmd.app, name="power")
    from remit.cli import analyse_cmd

    app.add_typer(analyse_cmd.app, name="analyse")
    from remit.cli import alerts_cmd, dosing_cmd, trial_cmd

    app.command("init")(trial_cmd.init_command)
    app.command("enter")(trial_cmd.enter_command)
    app.add_typer(trial_cmd.user_app, name="user")
    app.add_typer(trial_cmd.participant_app, name="participant")
    app.add_typer(trial_cmd.visit_app, name="visit")
    app.add_typer(dosing_cmd.app, name="dose")
    app.add_typer(dosing_cmd.vitals_app, name="vitals")
    app.add_typer(alerts_cmd.ae_app, name="ae")
    app.add_typer(alerts_cmd.app, name="alerts")
    from remit.cli import report_cmd

    app.add_typer(report_cmd.app, name="report")
    from remit.cli import demo_cmd

    app.add_typer(demo_cmd.app, name="demo")
    from remit.cli import export_cmd, import_cmd

    app.command("export")(export_cmd.export_command)
    app.add_typer(import_cmd.app, name="import")
    from remit.cli import serve_cmd

    app.command("serve")(serve_cmd.serve_command)


_register()


def main() -> None:
    """Entry point of the ``remit`` console script."""
    app()
