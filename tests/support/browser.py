"""Debian's Chromium for the browser tests (never a downloaded browser), and where their
screenshots go."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from tests.support.paths import ARTIFACTS as ARTIFACTS

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def browser_missing() -> str | None:
    """Why the browser tests cannot run here (``None`` when they can)."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is not installed (Debian: apt install chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install 'remit[dev]')"
    return None
