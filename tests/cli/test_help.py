"""Every command and option of the CLI has help text (a habit from sqlite-utils)."""

from __future__ import annotations

import click
import typer.main
from typer.testing import CliRunner

from remit.cli.app import app


def _walk(command: click.Command, path: tuple[str, ...] = ()) -> list[tuple[str, click.Command]]:
    found = [(" ".join(path) or "remit", command)]
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            found.extend(_walk(sub, (*path, name)))
    return found


def test_every_command_and_option_has_help() -> None:
    root = typer.main.get_command(app)
    missing: list[str] = []
    for name, command in _walk(root):
        if not (command.help or command.short_help):
            missing.append(f"command `{name}`")
        for param in command.params:
            if isinstance(param, click.Option) and not param.help:
                missing.append(f"option {param.opts} of `{name}`")
    assert missing == [], "no help text: " + ", ".join(missing)


def test_version_and_help_run() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith("remit ")
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "Run a psychiatric clinical trial" in result.output
