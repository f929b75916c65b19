"""Every command and option of the CLI has help text (a habit from sqlite-utils)."""

from __future__ import annotations

from typing import Any

import typer.main
from typer.testing import CliRunner

from remit.cli.app import app
from remit.cli.lazy import ENTRIES


def _walk(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, Any]]:
    """Every command under ``command`` (Typer's Click groups have ``commands``)."""
    found = [(" ".join(path) or "remit", command)]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        found.extend(_walk(sub, (*path, name)))
    return found


def test_every_command_and_option_has_help() -> None:
    root = typer.main.get_command(app)
    for entry in ENTRIES:  # the commands themselves, not what `remit --help` lists
        root.commands[entry.name] = entry.load()  # type: ignore[attr-defined]
    walked = _walk(root)
    assert len(walked) > 90  # every group's sub-commands are reached (99 in December 2026)
    missing: list[str] = []
    for name, command in walked:
        if not (command.help or command.short_help):
            missing.append(f"command `{name}`")
        for param in command.params:
            if param.param_type_name == "option" and not param.help:
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
