"""The export-format family (``remit.interop.formats.EXPORT_FORMATS``): every format has its
writer, its section in ``docs/interop.md`` and a test of its files; the CLI, the web page and
the docs table come from the family; an export builds the trial data once."""

from __future__ import annotations

import ast
import inspect
import re
import sys
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from remit.cli.app import app
from remit.cli.export_cmd import FORMAT_CHOICES
from remit.errors import InputError
from remit.interop import DateShift, export_trial
from remit.interop.formats import (
    ALL,
    EXPORT_FORMATS,
    FORMATS,
    ExportFormat,
    chosen_formats,
    formats_table,
)
from remit.services import Actor

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "interop.md"


def _marked_formats(test_files: Iterable[Path]) -> dict[str, list[str]]:
    """``{format name: [test functions marked export_format(name)]}`` over the given files."""
    found: dict[str, list[str]] = {}
    for path in test_files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef) or not node.name.startswith("test_"):
                continue
            for deco in node.decorator_list:
                if (
                    isinstance(deco, ast.Call)
                    and isinstance(deco.func, ast.Attribute)
                    and deco.func.attr == "export_format"
                ):
                    for arg in deco.args:
                        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                            found.setdefault(arg.value, []).append(f"{path.name}::{node.name}")
    return found


def _problems(
    formats: Iterable[ExportFormat], docs: str, marked: dict[str, list[str]]
) -> list[str]:
    """What each format lacks: a writer of one ``ExportJob``, a docs section, a test."""
    out = []
    headings = {line[4:].strip() for line in docs.splitlines() if line.startswith("### ")}
    for f in formats:
        params = list(inspect.signature(f.write).parameters) if callable(f.write) else None
        if params is None or len(params) != 1:
            out.append(f"{f.name}: no writer of one ExportJob")
        if not any(h == f.title or h.startswith(f.title + " ") for h in headings):
            out.append(f"{f.name}: no '### {f.title}' section in docs/interop.md")
        if f"| `{f.folder}/` | {f.files} |" not in docs:
            out.append(f"{f.name}: not in the table of docs/interop.md (paste formats_table())")
        if not marked.get(f.name):
            out.append(f'{f.name}: no test marked @pytest.mark.export_format("{f.name}")')
    return out


def test_every_format_has_its_writer_docs_and_test() -> None:
    marked = _marked_formats((ROOT / "tests").rglob("test_*.py"))
    assert _problems(EXPORT_FORMATS, DOCS.read_text(encoding="utf-8"), marked) == []


def test_the_contract_fails_for_a_format_without_writer_docs_or_test() -> None:
    lone = replace(
        EXPORT_FORMATS[0],
        name="sas7bdat",
        title="SAS7BDAT",
        files="`data.sas7bdat`",
        write=lambda: [],  # type: ignore[arg-type]
    )
    problems = _problems([lone], DOCS.read_text(encoding="utf-8"), {})
    assert [p.split(":")[1].split()[:2] for p in problems] == [
        ["no", "writer"],
        ["no", "'###"],
        ["not", "in"],
        ["no", "test"],
    ]


def test_names_folders_and_titles_are_unique() -> None:
    for attribute in ("name", "folder", "title"):
        values = [getattr(f, attribute) for f in EXPORT_FORMATS]
        assert len(values) == len(set(values)), attribute
    assert ALL not in FORMATS
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", f.name) for f in EXPORT_FORMATS)


def test_docs_table_is_generated_from_the_family() -> None:
    assert formats_table() in DOCS.read_text(encoding="utf-8")


def test_cli_choices_and_help_come_from_the_family() -> None:
    assert (*FORMATS, ALL) == FORMAT_CHOICES
    result = CliRunner().invoke(app, ["export", "--help"], terminal_width=200)
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert all(name in text for name in (*FORMATS, ALL))


def test_web_page_offers_every_format() -> None:
    from jinja2 import Environment, FileSystemLoader

    import remit.web

    templates = Path(remit.web.__file__).parent / "templates"
    source = (templates / "exports.html").read_text(encoding="utf-8")
    body = source.split("{% block main %}")[1].split("{% endblock %}")[0]
    page = Environment(loader=FileSystemLoader(templates)).from_string(body)
    html = page.render(formats=EXPORT_FORMATS, done=[], csrf_token="t")
    for f in EXPORT_FORMATS:
        assert f'name="format_{f.name}"' in html
        assert f.title in html
    assert html.count("checked") == sum(f.web_default for f in EXPORT_FORMATS)


def test_all_and_unknown_names() -> None:
    assert chosen_formats([ALL]) == EXPORT_FORMATS
    assert [f.name for f in chosen_formats(["odm", "csv", "odm"])] == ["csv", "odm"]
    with pytest.raises(InputError, match="sas7bdat"):
        chosen_formats(["sas7bdat"])
    with pytest.raises(InputError):
        chosen_formats([])


def test_an_export_builds_the_trial_data_once(
    trial_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from remit.services import trial_data

    original = trial_data.build_trial_data
    calls: list[Any] = []

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs.get("actor"))
        return original(*args, **kwargs)

    # every module of remit that holds the builder (however it imported it) gets the counter
    for module in list(sys.modules.values()):
        name = getattr(module, "__name__", "")
        if name.startswith("remit") and getattr(module, "build_trial_data", None) is original:
            monkeypatch.setattr(module, "build_trial_data", counting)
    result = export_trial(trial_engine, tmp_path, date_shift=DateShift(seed=5))
    assert set(result.files) == set(FORMATS)
    assert len(calls) == 1  # every format, ODM included, read the frames built once
    calls.clear()
    export_trial(trial_engine, tmp_path / "odm", formats=("odm",))
    assert len(calls) == 1
    calls.clear()
    built = original(trial_engine, actor=Actor.system("tests"))
    again = export_trial(trial_engine, tmp_path / "given", formats=("csv",), data=built)
    assert calls == []  # data already built are exported as they are
    assert again.participants == len(built.participants)
    assert (tmp_path / "given" / "csv").is_dir()


def test_an_export_takes_built_data_or_an_actor_not_both(
    trial_engine: Engine, tmp_path: Path
) -> None:
    from remit.services import build_trial_data

    data = build_trial_data(trial_engine, actor=Actor.system("tests"))
    with pytest.raises(InputError, match="both trial data and actor"):
        export_trial(trial_engine, tmp_path, data=data, actor=Actor.system("tests"))
