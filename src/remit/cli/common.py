"""Pieces shared by every command: one-line errors, JSON output, the console."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from remit.errors import RemitError


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


def _clean(value: Any) -> Any:
    """Make a value JSON-safe: NaN and infinities become null, numpy scalars plain numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and not isinstance(value, str | bytes):
        try:
            value = value.item()
        except (TypeError, ValueError):
            return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def print_json(data: Any) -> None:
    """Write ``data`` as JSON to standard output (the contract other programs read)."""
    sys.stdout.write(json.dumps(_clean(data), indent=2, ensure_ascii=False) + "\n")


@contextmanager
def errors_as_exit() -> Iterator[None]:
    """Turn a :class:`RemitError` into one clear line on stderr and its exit code."""
    try:
        yield
    except RemitError as error:
        err_console.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=error.exit_code) from None
