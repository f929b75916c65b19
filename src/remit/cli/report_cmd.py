"""``remit report``: run the analysis plan and write the trial report (HTML, and PDF)."""

from __future__ import annotations

import os
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from remit.analysis import run_analysis_plan
from remit.cli.common import (
    JsonOption,
    acting,
    console,
    errors_as_exit,
    open_engine,
    print_json,
)
from remit.cli.trial_source import (
    DataOption,
    ProtocolOption,
    SourceDbOption,
    SourceRoleOption,
    SourceUserOption,
    UnblindedOption,
    load_trial,
)
from remit.errors import InputError
from remit.reports import render_report

if TYPE_CHECKING:
    from remit.reports.dsmb import DsmbReportResult

app = typer.Typer(
    help="Write the trial report: report.html (figures inline) and, with Chromium, report.pdf.",
    invoke_without_command=True,
)


def _status(text: str, quiet: bool) -> AbstractContextManager[object]:
    # no spinner when a program reads the JSON on standard output
    return nullcontext() if quiet else console.status(text, spinner="dots")


@app.callback()
def report(
    out: Annotated[
        Path,
        typer.Option("--out", help="Folder to write report.html (and report.pdf) into."),
    ],
    db: SourceDbOption = None,
    user: SourceUserOption = None,
    role: SourceRoleOption = None,
    data: DataOption = None,
    protocol: ProtocolOption = None,
    unblinded: UnblindedOption = False,
    pdf: Annotated[
        bool | None,
        typer.Option(
            "--pdf/--no-pdf",
            help="Require the PDF (fail without Chromium) or skip it; default: write it when "
            "Chromium is found.",
        ),
    ] = None,
    dsmb: Annotated[
        bool,
        typer.Option(
            "--dsmb",
            help="Write the DSMB closed report instead: safety by coded arm (Group A, B …, "
            "drawn at random per report), on locked or unlocked data (an interim look), with "
            "the key (code -> arm) written to --key apart from the report. The unblinded "
            "statistician only, with $REMIT_ALLOCATION_KEY_FILE; audited.",
        ),
    ] = False,
    key: Annotated[
        Path | None,
        typer.Option(
            "--key",
            help="With --dsmb: the file to write the coding key to (JSON; it must not exist "
            "and must lie outside --out, so the report and its key travel apart).",
        ),
    ] = None,
    json: JsonOption = False,
) -> None:
    """Analyse the trial with its protocol's plan and write a self-contained report.

    Give the data with --db (a trial database, read as --user) or --data (a folder of CSV
    files). A randomised trial read blinded gets the blinded (pooled) report; the unblinded
    statistician gives --unblinded for the report by arm (after the database lock), or
    --dsmb --key FILE for the DSMB's closed report by coded arm (locked or not).
    """
    if dsmb or key is not None:
        with errors_as_exit():
            if not dsmb:
                raise InputError(
                    "--key is the coding key of the DSMB closed report: it needs --dsmb",
                    expected="--dsmb --key FILE, or neither",
                )
            done = _dsmb_report(
                db, data, protocol, unblinded, out, key, user=user, role=role, pdf=pdf
            )
        _print_dsmb(done, key, json)
        return
    with errors_as_exit():
        trial, plan_protocol = load_trial(
            db,
            data,
            protocol,
            user=user,
            role=role,
            command="remit report",
            example="remit report --db trial.db --user NAME --out report/",
            unblinded=unblinded,
        )
        with _status("Running the analysis plan…", json):
            result = run_analysis_plan(trial, plan_protocol, require_arms=unblinded)
        with _status("Drawing the figures and writing the report…", json):
            written = render_report(result, trial, plan_protocol, out, pdf=pdf)
    if json:
        print_json(written.to_dict())
        return
    if written.simulated:
        console.print("[bold yellow]SIMULATED DATA — not a real trial[/]")
    if written.blinded:
        console.print("[bold]blinded (pooled) report: arms not shown[/]", highlight=False)
    console.print(f"report: {written.html_path}", highlight=False)
    if written.pdf_path is not None:
        console.print(f"pdf: {written.pdf_path}", highlight=False)
    else:
        console.print(f"pdf: not written ({written.pdf_note})", highlight=False)
    console.print(
        f"{len(written.sections)} sections, {len(written.figures)} figures, "
        f"{len(written.tables)} tables",
        highlight=False,
    )


def _dsmb_options(
    db: str | None, data: Path | None, unblinded: bool, out: Path, key: Path | None
) -> tuple[str, Path]:
    """The database and key file of ``--dsmb``, or a clear error for what is missing."""
    example = "remit report --db trial.db --user NAME --dsmb --out dsmb/ --key ~/dsmb-key.json"
    if key is None:
        raise InputError(
            "--dsmb needs --key FILE: the coding key (which code is which arm) is written "
            "apart from the report",
            expected="--key PATH of a new file outside the --out folder",
            hint=example,
        )
    if data is not None or db is None:
        raise InputError(
            "--dsmb reads the arms from the trial database's sealed randomisation list"
            + (f"; a data folder ({data}) has none" if data is not None else ""),
            expected="--db PATH|URL (or $REMIT_DATABASE_URL), not --data",
            hint=example,
        )
    if unblinded:
        raise InputError(
            "--dsmb and --unblinded were both given: the DSMB closed report codes the arms, "
            "the report by arm names them",
            expected="one of --dsmb (interim, coded arms) or --unblinded (final, after the lock)",
        )
    folder = out.resolve()
    target = key.resolve()
    if target == folder or folder in target.parents:
        raise InputError(
            f"the key file {key} lies inside the report folder {out}: the report and its key "
            "would travel together",
            expected="a --key path outside the --out folder",
            hint=example,
        )
    if key.exists():
        raise InputError(
            f"the key file {key} already exists: each closed report has its own key",
            expected="a new file for --key",
            hint="name a new file, e.g. dsmb-key-<date>.json",
        )
    if not key.parent.is_dir():
        raise InputError(
            f"the folder of the key file {key} does not exist",
            expected="--key in an existing folder",
        )
    return db, key


def _dsmb_report(
    db: str | None,
    data: Path | None,
    protocol: str | None,
    unblinded: bool,
    out: Path,
    key: Path | None,
    *,
    user: str | None,
    role: str | None,
    pdf: bool | None,
) -> DsmbReportResult:
    """Read the trial with its arms (audited, no lock needed), code the arms, write the closed
    report into ``out`` and the key into ``key``."""
    import hashlib
    import json as jsonlib

    # Imported here: the database stack and the report's figures load only for this command.
    from remit import services as sv
    from remit.analysis.dsmb import coded_data, coded_protocol, draw_coding
    from remit.reports.dsmb import DsmbFacts, render_dsmb_report
    from remit.services.trial_data import build_interim_trial_data

    if protocol is not None:
        raise InputError(
            f"--dsmb with --protocol {protocol}: the closed report is run with the protocol in "
            "force in the database (the one the trial was randomised under)",
            expected="--dsmb without --protocol",
        )
    database, key_path = _dsmb_options(db, data, unblinded, out, key)
    if not user:
        raise InputError(
            "remit report --dsmb needs --user: the database is read as a user (only the "
            "unblinded statistician may, and the read is audited)",
            expected="--user NAME (or $REMIT_USER)",
        )
    with open_engine(database) as engine:
        actor = acting(engine, user, role)
        in_force = sv.trial_protocol(engine, source=f"{database} (protocol in force)")
        coding = draw_coding(in_force)
        key_sha256 = hashlib.sha256(
            jsonlib.dumps(coding.to_key(), sort_keys=True).encode()
        ).hexdigest()
        read = build_interim_trial_data(
            engine,
            actor=actor,
            purpose=f"remit report --dsmb: DSMB closed report {coding.report_id}",
            interim={"report_id": coding.report_id, "key_sha256": key_sha256},
        )
    coded = coded_protocol(in_force, coding)
    data_coded = coded_data(read.data, coding)
    result = run_analysis_plan(data_coded, coded, require_arms=True)
    facts = DsmbFacts(coding.report_id, key_sha256, read.cut_off, read.study_locked)
    written = render_dsmb_report(result, data_coded, coded, facts, out, pdf=pdf)
    key_doc = {
        "kind": "remit DSMB coding key",
        "warning": "keep apart from the closed report: this file names the arms",
        **coding.to_key(),
        "key_sha256": key_sha256,
        "protocol_id": in_force.study.id,
        "protocol_version": in_force.study.version,
        "protocol_sha256": in_force.sha256,
        "cut_off": written.cut_off,
        "study_locked": read.study_locked,
        "report_sha256": hashlib.sha256(written.html_path.read_bytes()).hexdigest(),
    }
    # a new file (never over an existing key), readable by its writer alone from the start
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(jsonlib.dumps(key_doc, indent=2) + "\n")
    return written


def _print_dsmb(done: DsmbReportResult, key: Path | None, json: bool) -> None:
    if json:
        print_json({**done.to_dict(), "key": str(key)})
        return
    if done.simulated:
        console.print("[bold yellow]SIMULATED DATA — not a real trial[/]")
    state = "data locked" if done.study_locked else "INTERIM, data not locked"
    console.print(
        f"[bold]DSMB closed report {done.report_id}[/] ({state}, cut-off {done.cut_off}): "
        "arms coded",
        highlight=False,
    )
    console.print(f"report: {done.html_path}", highlight=False)
    if done.pdf_path is not None:
        console.print(f"pdf: {done.pdf_path}", highlight=False)
    else:
        console.print(f"pdf: not written ({done.pdf_note})", highlight=False)
    console.print(
        f"key: {key} (which code is which arm: give it to the DSMB separately)", highlight=False
    )
