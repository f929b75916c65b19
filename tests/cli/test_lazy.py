"""``remit`` loads a sub-command's module only when that command runs (issue 16, part 3): the
listed help is each command's own, and ``remit --help`` or ``remit scales`` import none of the
heavy libraries (timings are measured by ``benchmarks/bench_cli_startup.py``, not here)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from remit.cli.lazy import ENTRIES, Entry

HEAVY = ("scipy", "pandas", "statsmodels", "matplotlib", "sqlalchemy", "fastapi", "numpy")


def _first_paragraph(text: str | None) -> str:
    return " ".join((text or "").split("\n\n")[0].split())


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_the_listed_help_is_the_commands_own(entry: Entry) -> None:
    loaded = entry.load()
    assert loaded.name == entry.name
    assert _first_paragraph(loaded.help) == _first_paragraph(entry.help), (
        f"remit.cli.lazy.ENTRIES: the help of {entry.name!r} differs from its command's: "
        "copy the first paragraph of the command's help"
    )


def test_entries_are_unique() -> None:
    names = [e.name for e in ENTRIES]
    assert len(names) == len(set(names))


def _imported_after(args: list[str]) -> list[str]:
    """The heavy modules a fresh interpreter holds after running ``remit ARGS``."""
    code = textwrap.dedent(
        f"""
        import sys
        from typer.testing import CliRunner
        from remit.cli.app import app
        result = CliRunner().invoke(app, {args!r})
        assert result.exit_code == 0, result.output
        print(",".join(m for m in {HEAVY!r} if m in sys.modules))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    return [m for m in done.stdout.strip().split(",") if m]


def test_help_imports_no_heavy_library() -> None:
    assert _imported_after(["--help"]) == []


@pytest.mark.parametrize(
    "args",
    [
        ["stats", "--help"],
        ["stats", "mmrm", "--help"],
        ["stats", "rbmi", "--help"],
        ["stats", "paired", "--help"],
        ["power", "--help"],
        ["power", "mmrm", "--help"],
    ],
    ids=" ".join,
)
def test_statistics_help_imports_no_heavy_library(args: list[str]) -> None:
    # the option words listed in the help come from remit.stats.choices, not the models
    assert _imported_after(args) == []


def test_the_statistics_load_when_a_name_is_used() -> None:
    code = (
        "import sys, remit.stats as s; before = 'numpy' in sys.modules; f = s.fit_mmrm; "
        "print(before, 'numpy' in sys.modules, f.__module__)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    assert done.stdout.split() == ["False", "True", "remit.stats.mmrm"]


def test_scoring_a_form_imports_no_heavy_library() -> None:
    answers = '{"1":2,"2":2,"3":2,"4":2,"5":2,"6":2,"7":2,"8":2,"9":2,"10":1}'
    assert _imported_after(["scales", "score", "madrs", "-a", answers]) == []
