"""Print the HTML report to PDF with a headless Chromium, when one is installed.

The route: ``chromium --headless --print-to-pdf`` on the report file (Debian's ``chromium``
package, or any Chrome/Chromium binary named by ``REMIT_CHROMIUM``). The same page that is
read on screen is printed with its print style sheet (A4, SIMULATED banner on every page),
so the PDF needs no second layout engine and no Python dependency. Without a browser the
HTML report is still complete; the PDF is simply not written and the reason is recorded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from remit.errors import NotFoundError, RemitError

#: Binaries tried, in order, when ``REMIT_CHROMIUM`` is not set.
CANDIDATES: tuple[str, ...] = (
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
)
TIMEOUT_S = 120


class PdfError(RemitError):
    """The browser ran but did not write the PDF."""

    exit_code = 1


def find_browser() -> str | None:
    """Path of the Chromium-compatible browser to print with, or ``None``."""
    named = os.environ.get("REMIT_CHROMIUM")
    if named:
        found = shutil.which(named) or (named if Path(named).is_file() else None)
        return found
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def print_pdf(html: Path, pdf: Path, *, browser: str | None = None) -> Path:
    """Print ``html`` to ``pdf`` with headless Chromium; return the PDF path.

    Raises
    ------
    NotFoundError
        No browser was found.
    PdfError
        The browser failed or wrote no file.
    """
    exe = browser or find_browser()
    if exe is None:
        raise NotFoundError(
            "no Chromium browser found to print the PDF with",
            expected="chromium (Debian: apt install chromium) or REMIT_CHROMIUM=/path/to/chrome",
            hint="install Chromium, or render with pdf=False and print report.html yourself",
        )
    pdf.parent.mkdir(parents=True, exist_ok=True)
    if pdf.exists():
        pdf.unlink()
    with tempfile.TemporaryDirectory(prefix="remit-chromium-") as profile:
        command = [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--no-pdf-header-footer",
            "--print-to-pdf-no-header",
            f"--print-to-pdf={pdf}",
            html.resolve().as_uri(),
        ]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PdfError(
                f"{exe} could not print {html} to PDF ({exc})",
                hint="run it by hand to see why, or render with pdf=False",
            ) from exc
    if not pdf.exists() or pdf.stat().st_size == 0:
        tail = (done.stderr or done.stdout or "").strip().splitlines()[-3:]
        raise PdfError(
            f"{exe} exited with code {done.returncode} and wrote no PDF at {pdf}",
            hint="; ".join(tail) or "run it by hand to see why",
        )
    return pdf


__all__ = ["CANDIDATES", "PdfError", "find_browser", "print_pdf"]
