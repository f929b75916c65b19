"""``remit serve`` starts the app; the style sheet's colour pairs meet WCAG contrast."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
from tests.support.waiting import CEILING_S, wait_until
from tests.support.web import free_port

#: The ``remit`` console script of this environment.
REMIT = str(Path(sys.executable).parent / "remit")
CSS = Path(__file__).resolve().parents[2] / "src" / "remit" / "web" / "static" / "remit.css"


def test_remit_serve_answers_on_loopback(trial_db: Path, tmp_path: Path) -> None:
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [REMIT, "serve", "--db", str(trial_db),
         "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ),
    )  # fmt: skip
    try:

        def answered() -> httpx.Response | None:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/login", timeout=5)
            except httpx.HTTPError:
                return None

        def stopped() -> str | None:
            if process.poll() is None:
                return None
            return (
                f"remit serve exited with {process.returncode}:\n"
                + (tmp_path / "serve.log").read_text()
            )

        response = wait_until(answered, f"remit serve to answer on port {port}", alive=stopped)
        assert response.status_code == 200
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        me = httpx.get(f"http://127.0.0.1:{port}/api/v1/me", timeout=CEILING_S)
        assert me.status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=CEILING_S)
        log.close()


def test_serve_refuses_a_missing_database(tmp_path: Path) -> None:
    done = subprocess.run(
        [REMIT, "serve", "--db", str(tmp_path / "none.db")],
        capture_output=True, text=True, timeout=CEILING_S, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert "none.db" in done.stderr


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two ``#rrggbb`` colours."""
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_text_colours_meet_wcag_aa() -> None:
    colours = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6})", CSS.read_text()))
    pairs = [
        ("ink", "bg", 7.0),
        ("muted", "bg", 4.5),
        ("link", "bg", 4.5),
        ("bad", "bad-bg", 4.5),
        ("ok", "ok-bg", 4.5),
        ("ink", "panel", 7.0),
        ("link", "panel", 4.5),
        ("bad", "bg", 4.5),
    ]
    for text, background, needed in pairs:
        ratio = contrast(colours[text], colours[background])
        assert ratio >= needed, f"{text} on {background}: {ratio:.2f} < {needed}"
    assert contrast("#ffffff", "#0b4f9c") >= 4.5  # button text
    assert contrast("#ffffff", "#0d2b4e") >= 7.0  # header text
