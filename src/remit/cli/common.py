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

console = Console()
err_console = Console(stderr=True)

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
