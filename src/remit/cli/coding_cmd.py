"""``remit coding …``: load MedDRA / WHODrug, autocode, and the manual coding queue."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from remit.cli.common import DbOption, JsonOption, UserOption, acting_on, console, print_json
from remit.services import coding

app = typer.Typer(
    help="Medical coding: load MedDRA / WHODrug, autocode AEs and medications, coding queue.",
    no_args_is_help=True,
)

FolderArgument = Annotated[
    Path, typer.Argument(help="Folder of the distribution files.", file_okay=False)
]
KindOption = Annotated[
    str | None, typer.Option("--kind", help="ae (adverse events) or cm (medications).")
]


def _loaded(record: coding.DictionaryRecord, json_output: bool) -> None:
    if json_output:
        print_json(record.to_dict())
        return
    console.print(
        f"loaded {record.kind} {escape(record.version)}: {record.term_count} terms "
        f"(files sha256 {record.files_sha256[:12]})"
    )


@app.command("load-meddra")
def load_meddra_command(
    folder: FolderArgument,
    db: DbOption,
    user: UserOption,
    version: Annotated[
        str | None,
        typer.Option("--version", help="MedDRA version (default: from meddra_release.asc)."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Load a MedDRA ASCII release (llt.asc, pt.asc, hlt.asc, hlgt.asc, soc.asc, mdhier.asc)."""
    with acting_on(db, user) as (engine, actor):
        record = coding.load_meddra(engine, actor, folder, version=version)
    _loaded(record, json_output)


@app.command("load-whodrug")
def load_whodrug_command(
    folder: FolderArgument,
    version: Annotated[
        str, typer.Option("--version", help="WHODrug release, e.g. 'GLOBAL B3 2024 MAR 1'.")
    ],
    db: DbOption,
    user: UserOption,
    json_output: JsonOption = False,
) -> None:
    """Load a WHODrug release: B3 (DD.txt, DDA.txt, INA.txt) or C3 (MP.txt, ThG.txt, ATC.txt)."""
    with acting_on(db, user) as (engine, actor):
        record = coding.load_whodrug(engine, actor, folder, version=version)
    _loaded(record, json_output)


@app.command("dictionaries")
def dictionaries_command(db: DbOption, user: UserOption, json_output: JsonOption = False) -> None:
    """List the dictionary versions loaded."""
    with acting_on(db, user) as (engine, actor):
        found = coding.list_dictionaries(engine, actor)
    if json_output:
        print_json([d.to_dict() for d in found])
        return
    view = Table("id", "kind", "version", "language", "terms")
    for d in found:
        view.add_row(str(d.id), d.kind, escape(d.version), d.language or "", str(d.term_count))
    console.print(view)


@app.command("autocode")
def autocode_command(db: DbOption, user: UserOption, json_output: JsonOption = False) -> None:
    """Code every uncoded AE and medication by exact or synonym match; recode on a new version."""
    with acting_on(db, user) as (engine, actor):
        result = coding.autocode(engine, actor)
    if json_output:
        print_json(result.to_dict())
        return
    console.print(result.summary())


@app.command("queue")
def queue_command(
    db: DbOption, user: UserOption, kind: KindOption = None, json_output: JsonOption = False
) -> None:
    """List the AEs and medications that still need a code."""
    with acting_on(db, user) as (engine, actor):
        found = coding.coding_queue(engine, actor, kind)
    if json_output:
        print_json([q.to_dict() for q in found])
        return
    view = Table("kind", "id", "participant", "verbatim")
    for q in found:
        kind_name = "ae" if q.record_table == "adverse_event" else "cm"
        view.add_row(kind_name, str(q.record_id), q.participant_id, escape(q.verbatim))
    console.print(view)
    console.print(f"{len(found)} to code")


@app.command("search")
def search_command(
    dictionary: Annotated[str, typer.Argument(help="meddra or whodrug.")],
    text: Annotated[str, typer.Argument(help="Part of the term or drug name.")],
    db: DbOption,
    user: UserOption,
    json_output: JsonOption = False,
) -> None:
    """Search the newest version of a dictionary by term."""
    with acting_on(db, user) as (engine, actor):
        found = coding.search_terms(engine, actor, dictionary, text)
    if json_output:
        print_json([m.to_dict() for m in found])
        return
    view = Table("code", "name", "decoded", "detail", "current")
    for m in found:
        view.add_row(m.code, escape(m.name), escape(m.decod), escape(m.detail),
                     "yes" if m.current else "no")  # fmt: skip
    console.print(view)


@app.command("assign")
def assign_command(
    kind: Annotated[str, typer.Argument(help="ae or cm.")],
    record_id: Annotated[int, typer.Argument(help="The AE or medication id.")],
    code: Annotated[str, typer.Argument(help="LLT code (ae) or WHODrug drug code (cm).")],
    db: DbOption,
    user: UserOption,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why, when changing an existing code.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Code an AE or a medication by hand (audited)."""
    with acting_on(db, user) as (engine, actor):
        record = coding.assign_code(engine, actor, kind, record_id, code, reason=reason)
    if json_output:
        print_json(record.to_dict())
        return
    console.print(
        f"{kind} {record.record_id} {escape(record.verbatim)!r} coded {record.code} "
        f"{escape(record.decod or '')} ({record.dictionary})"
    )
