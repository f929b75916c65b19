"""Folders the tests read from or write to."""

from __future__ import annotations

from pathlib import Path

#: The repository's root.
ROOT = Path(__file__).resolve().parents[2]
#: Screenshots and other files for people to look at (git-ignored).
ARTIFACTS = ROOT / "test-artifacts"
#: The published schemas and controlled terminology the export tests validate against.
STANDARDS = ROOT / "tests" / "interop" / "standards"
