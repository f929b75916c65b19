"""Debian's Chromium for the browser tests (never a downloaded browser); their screenshots go
to :data:`tests.support.paths.ARTIFACTS`."""

from __future__ import annotations

import importlib.util
from pathlib import Path

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
