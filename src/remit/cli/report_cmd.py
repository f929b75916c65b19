"""``remit report``: run the analysis plan and write the trial report (HTML, and PDF)."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Annotated

import typer

from remit.analysis import run_analysis_plan
from remit.cli.common import JsonOption, console, errors_as_exit, print_json
from remit.cli.trial_source import (
    DataOption,
    ProtocolOption,
    SourceDbOption,
    SourceRoleOption,
    SourceUserOption,
    UnblindedOption,
    load_trial,
)
from remit.reports import render_report

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
    json: JsonOption = False,
) -> None:
    """Analyse the trial with its protocol's plan and write a self-contained report.

    Give the data with --db (a trial database, read as --user) or --data (a folder of CSV
    files). A randomised trial read blinded gets the blinded (pooled) report; the unblinded
    statistician gives --unblinded for the report by arm.
    """
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
