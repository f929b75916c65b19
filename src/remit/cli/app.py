"""The ``remit`` command: each sub-command is a few lines over the library."""

from __future__ import annotations

from collections.abc import Callable

import typer

from remit import __version__
from remit.cli import (
    alerts_cmd,
    analyse_cmd,
    audit_cmd,
    conmed_cmd,
    consent_cmd,
    db_cmd,
    demo_cmd,
    deviation_cmd,
    dosing_cmd,
    export_cmd,
    import_cmd,
    power_cmd,
    protocol_cmd,
    report_cmd,
    scales_cmd,
    serve_cmd,
    stats_cmd,
    trial_cmd,
    worklist_cmd,
)
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


#: The sub-command groups, in the order ``remit --help`` lists them: (name, Typer app).
GROUPS: tuple[tuple[str, typer.Typer], ...] = (
    ("scales", scales_cmd.app),
    ("protocol", protocol_cmd.app),
    ("db", db_cmd.app),
    ("audit", audit_cmd.app),
    ("stats", stats_cmd.app),
    ("power", power_cmd.app),
    ("analyse", analyse_cmd.app),
    ("user", trial_cmd.user_app),
    ("participant", trial_cmd.participant_app),
    ("visit", trial_cmd.visit_app),
    ("consent", consent_cmd.app),
    ("dose", dosing_cmd.app),
    ("vitals", dosing_cmd.vitals_app),
    ("ae", alerts_cmd.ae_app),
    ("conmed", conmed_cmd.app),
    ("alerts", alerts_cmd.app),
    ("deviation", deviation_cmd.app),
    ("report", report_cmd.app),
    ("demo", demo_cmd.app),
    ("import", import_cmd.app),
)
#: The single commands: (name, function).
COMMANDS: tuple[tuple[str, Callable[..., None]], ...] = (
    ("init", trial_cmd.init_command),
    ("enter", trial_cmd.enter_command),
    ("export", export_cmd.export_command),
    ("serve", serve_cmd.serve_command),
    ("worklist", worklist_cmd.worklist_command),
)
for _name, _group in GROUPS:
    app.add_typer(_group, name=_name)
for _name, _command in COMMANDS:
    app.command(_name)(_command)


def main() -> None:
    """Entry point of the ``remit`` console script."""
    app()
