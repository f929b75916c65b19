"""Fixtures of the protocol tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def write_protocol(tmp_path: Path) -> Callable[[str], Path]:
    """Write protocol text to a file and return its path."""

    def write(text: str, name: str = "protocol.toml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


MINI = (Path(__file__).parent / "mini.toml").read_text(encoding="utf-8")


def _bend(old: str, new: str, text: str = MINI, count: int = 1) -> str:
    if text.count(old) < count:
        raise AssertionError(f"fixture text lacks {old!r}")
    return text.replace(old, new, count)


@pytest.fixture
def mini() -> str:
    """The text of ``mini.toml``, a small sound protocol."""
    return MINI


@pytest.fixture
def bend() -> Callable[..., str]:
    """``bend(old, new, text=MINI)``: the protocol text with ``old`` replaced by ``new``."""
    return _bend
