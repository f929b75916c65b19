"""``remit scales …``: list, show and score the rating scales."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from remit.cli.common import JsonOption, console, errors_as_exit, print_json, report_problems
from remit.errors import InputError
from remit.scales import (
    ItemDefinition,
    ScaleDefinition,
    check_scale,
    list_scales,
    load_scale,
    scale_source,
    score,
    total_parts,
)

app = typer.Typer(
    help="Rating scales: list them, show their items and rules, check a file, score a form.",
    no_args_is_help=True,
)

ScalesDbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Also the scales kept in this trial database (SQLite path or URL; see "
        "`remit scales add`).",
    ),
]


def _with_trial_scales(db: str | None) -> None:
    """Install the scales kept in ``--db`` (nothing when not given)."""
    if db is None:
        return
    from remit import services as sv
    from remit.cli.common import open_engine

    with open_engine(db) as engine:
        sv.open_trial_scales(engine)


VersionOption = Annotated[
    str | None,
    typer.Option(
        "--version",
        "-v",
        help="Scale version, e.g. 'since_last_visit' for C-SSRS (default: the first).",
    ),
]


def _read_answers(text: str) -> dict[str, Any]:
    """Answers from an inline JSON object or from a JSON file."""
    stripped = text.strip()
    source = "--answers"
    if not stripped.startswith("{"):
        path = Path(text)
        if not path.is_file():
            raise InputError(
                f"--answers {text!r} is neither a JSON object nor an existing file",
                expected='an inline JSON object such as \'{"1": 3, "2": 4}\' or a path to one',
                hint="quote the JSON in the shell, or check the file path",
            )
        stripped = path.read_text(encoding="utf-8")
        source = str(path)
    try:
        answers = json.loads(stripped)
    except json.JSONDecodeError as error:
        raise InputError(
            f"{source} is not valid JSON ({error.msg} at line {error.lineno}, "
            f"column {error.colno})",
            expected='a JSON object such as {"1": 3, "2": 4}',
        ) from None
    if not isinstance(answers, dict):
        raise InputError(
            f"{source} holds a JSON {type(answers).__name__}, not an object",
            expected='a JSON object keyed by item number or code, e.g. {"1": 3}',
        )
    return answers


def _allowed(item: ItemDefinition) -> str:
    """What an item accepts, briefly, for the table."""
    if item.kind in ("integer", "number") and item.min is not None and item.max is not None:
        extra = " or a range" if item.accept_range else ""
        return f"{item.min:g}–{item.max:g}{extra}"
    if item.kind == "choice":
        return ", ".join(item.options)
    return {"boolean": "yes/no", "time": "HH:MM", "text": "text"}.get(item.kind, item.kind)


def _range(lo: float | None, hi: float | None) -> list[float] | None:
    return None if lo is None or hi is None else [lo, hi]


def _describe(d: ScaleDefinition, version: str) -> dict[str, Any]:
    items = d.items_for(version)
    return {
        "code": d.code,
        "name": d.name,
        "short_name": d.display_name,
        "description": d.description,
        "respondent": d.respondent,
        "recall": d.recall,
        "versions": list(d.versions),
        "version": version,
        "licence_note": d.licence_note,
        "references": list(d.references),
        "total_range": None if d.total_range is None else list(d.total_range),
        "total": None
        if d.total is None
        else {
            "method": d.total.method,
            "of": d.total.source,
            "parts": list(total_parts(d, version)),
            "skipped_items": d.total.skipped,
        },
        "missing_rule": {"kind": d.missing_rule.kind, "max_missing": d.missing_rule.max_missing},
        "bands": [{"min": b.min, "max": b.max, "label": b.label} for b in d.bands],
        "safety": {
            "items": list(d.safety.items),
            "fields": list(d.safety.fields),
            "categories": {k: dict(v) for k, v in d.safety.categories.items()},
        },
        "subscales": [
            {
                "code": s.code,
                "label": s.label,
                "items": list(s.items),
                "method": s.method if s.method != "rule" else f"rule {s.rule}",
                "bins": [b.describe() for b in s.bins],
                "range": None if s.range is None else list(s.range),
            }
            for s in d.subscales_for(version)
        ],
        "derived": [
            {"name": dv.name, "label": dv.label, "rule": dv.rule} for dv in d.derived_for(version)
        ],
        "items": [
            {
                "number": it.number,
                "ref": it.ref,
                "code": it.code,
                "label": it.label,
                "kind": it.kind,
                "range": _range(it.min, it.max),
                "options": dict(it.options),
                "required": it.required,
                "scored": it.scored,
                "section": it.section,
                "skip_when": None
                if it.skip_when is None
                else {"kind": it.skip_when.kind, "items": list(it.skip_when.items)},
                "implies": list(it.implies),
                "accept_range": it.accept_range,
                "blank_value": it.blank_value,
                "wording": it.wording,
            }
            for it in items
        ],
    }


@app.command("list")
def list_(db: ScalesDbOption = None, json_out: JsonOption = False) -> None:
    """List the scales: code, name, respondent, versions, total range, source.

    The shipped scales, those in the directories named by REMIT_SCALES_PATH
    (os.pathsep-separated; e.g. written by `remit import redcap-dictionary`) and, with --db,
    those kept in the trial database.
    """
    with errors_as_exit():
        _with_trial_scales(db)
        codes = list_scales()
        definitions = [load_scale(code) for code in codes]
        sources = {code: scale_source(code) for code in codes}
        if json_out:
            print_json(
                [
                    {
                        "code": d.code,
                        "name": d.name,
                        "short_name": d.display_name,
                        "respondent": d.respondent,
                        "recall": d.recall,
                        "versions": list(d.versions),
                        "items": len(d.items),
                        "total_range": None if d.total_range is None else list(d.total_range),
                        "source": sources[d.code],
                    }
                    for d in definitions
                ]
            )
            return
        table = Table(title="Scales")
        for column in ("code", "name", "respondent", "versions", "items", "total", "source"):
            table.add_column(column, overflow="fold")
        for d in definitions:
            total = "—" if d.total_range is None else f"{d.total_range[0]:g}–{d.total_range[1]:g}"
            table.add_row(
                *(escape(x) for x in (d.code, d.name, d.respondent, ", ".join(d.versions))),
                str(len(d.items)),
                total,
                escape(sources[d.code]),
            )
        console.print(table)


@app.command()
def show(
    code: Annotated[str, typer.Argument(help="Scale code, e.g. madrs (see `remit scales list`).")],
    version: VersionOption = None,
    wording: Annotated[
        Path | None,
        typer.Option(
            "--wording",
            help="A local TOML or CSV file of licensed item wording keyed by item code "
            "(see docs/scales.md); shown in place of the short labels.",
        ),
    ] = None,
    db: ScalesDbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Show a scale: items and ranges, total, bands, subscales, derived values, missing rule."""
    with errors_as_exit():
        _with_trial_scales(db)
        d = load_scale(code, wording=wording)
        v = d.check_version(version)
        info = _describe(d, v)
        if json_out:
            print_json(info)
            return
        # user scales (a REDCap import) may hold [field] text: escaped, or Rich eats it
        console.print(
            f"[bold]{escape(d.name)}[/] ({escape(d.code)}, version {escape(v)}) — "
            f"{escape(d.respondent)}, {escape(d.recall)}"
        )
        console.print(escape(d.description), highlight=False)
        console.print(f"[dim]{escape(d.licence_note)}[/]", highlight=False)
        table = Table(title="Items")
        items = d.items_for(v)
        table.add_column("#", no_wrap=True)
        # codes are what people type: never cut them
        table.add_column("code", no_wrap=True, min_width=max(len(it.code) for it in items))
        for column in ("label", "answer", "notes"):
            table.add_column(column, overflow="fold")
        for it in items:
            notes = []
            if not it.required:
                notes.append("optional")
            if not it.scored:
                notes.append("not scored")
            if it.section:
                notes.append(it.section)
            if it.skip_when:
                notes.append("skipped if " + it.skip_when.describe())
            label = it.label if it.wording is None else f"{it.label}: {it.wording}"
            table.add_row(
                *(escape(x) for x in (it.ref, it.code, label, _allowed(it), "; ".join(notes)))
            )
        console.print(table)
        total = info["total"]
        if total is not None and d.total_range is not None:
            console.print(
                f"Total: {total['method']} of {total['of']} ({', '.join(total['parts'])}), "
                f"range {d.total_range[0]:g}–{d.total_range[1]:g}; "
                f"missing items: {d.missing_rule.describe()}",
                highlight=False,
            )
        else:
            console.print("Total: none (the scale is reported item by item / by derived values)")
        for b in d.bands:
            console.print(escape(f"  band {b.min:g}–{b.max:g}: {b.label}"), highlight=False)
        for s in d.subscales_for(v):
            how = f"rule {s.rule}" if s.method == "rule" else s.method
            bins = f"; recoded {', '.join(x.describe() for x in s.bins)}" if s.bins else ""
            console.print(
                escape(f"  subscale {s.code}: {s.label} = {how} of {', '.join(s.items)}{bins}"),
                highlight=False,
            )
        for dv in d.derived_for(v):
            console.print(escape(f"  derived {dv.name} ({dv.rule}): {dv.label}"), highlight=False)


@app.command("score")
def score_(
    code: Annotated[str, typer.Argument(help="Scale code, e.g. madrs.")],
    answers: Annotated[
        str,
        typer.Option(
            "--answers",
            "-a",
            help="Answers as an inline JSON object keyed by item number or code (e.g. "
            '\'{"1": 3, "2": 4}\'; null = blank) or the path of a JSON file holding one.',
        ),
    ],
    version: VersionOption = None,
    db: ScalesDbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Score one form: total, band, subscales, derived values, and whether it is complete.

    A blank required item (always a safety item, e.g. MADRS item 10) makes the form incomplete:
    --json gives "complete": false and "missing_required": ["10"].

    C-SSRS asks questions 3-5 only after a yes to question 2:
    -v since_last_visit -a '{"1": "yes", "2": "no"}' gives ideation type 1;
    -v since_last_visit -a '{"1": "yes", "2": "no", "3": "yes"}' is refused naming item 3.
    """
    with errors_as_exit():
        _with_trial_scales(db)
        result = score(code, _read_answers(answers), version=version)
        if json_out:
            data = result.to_dict()
            data.pop("answers")
            print_json(data)
            return
        console.print(escape(result.summary()), highlight=False)


@app.command("check")
def check_command(
    source: Annotated[
        str, typer.Argument(help="A scale definition file (TOML) or a shipped scale's code.")
    ],
    json_out: JsonOption = False,
) -> None:
    """Check a scale definition: exit 0 when sound, else exit 2 with one line per problem."""
    with errors_as_exit():
        problems = check_scale(source)
    report_problems(source, problems, json_out, "docs/scales.md")


@app.command("add")
def add_command(
    file: Annotated[Path, typer.Argument(help="A scale definition file (TOML).")],
    db: Annotated[str, typer.Option("--db", envvar="REMIT_DATABASE_URL", help="Trial database.")],
    user: Annotated[
        str, typer.Option("--user", envvar="REMIT_USER", help="Who adds it (data manager).")
    ],
    json_out: JsonOption = False,
) -> None:
    """Keep a scale definition in the trial database (audited; a changed definition is a new
    revision, refused once a form uses the scale): usable at once by `remit scales --db`,
    protocols and forms of that database, without REMIT_SCALES_PATH."""
    from remit import services as sv
    from remit.cli.common import acting_on

    if not file.is_file():
        with errors_as_exit():
            raise InputError(f"{file} is not a file", expected="a scale definition (TOML)")
    with acting_on(db, user) as (engine, actor):
        kept = sv.add_scale(engine, actor, file.read_text(encoding="utf-8"), source=file.name)
    if json_out:
        print_json(kept.to_dict())
        return
    console.print(
        escape(
            f"kept scale {kept.code} ({kept.name}), revision {kept.revision}, in the trial database"
        ),
        highlight=False,
        soft_wrap=True,
    )
