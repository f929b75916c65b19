"""``remit analyse``: run the protocol's analysis plan on a trial database or a data folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from remit.analysis import POOLED_LABEL, AnalysisResult, methods_text, run_analysis_plan
from remit.cli.common import JsonOption, console, errors_as_exit, print_json
from remit.cli.trial_source import (
    DataOption,
    ProtocolOption,
    SourceDbOption,
    SourceRoleOption,
    SourceUserOption,
    UnblindedOption,
    load_trial,
    protocol_for_folder,
    trial_from_database,
)

__all__ = ["app", "load_trial", "protocol_for_folder", "trial_from_database"]

app = typer.Typer(
    help="Run the protocol's analysis plan and print the results.",
    invoke_without_command=True,
)


def _number(value: Any, digits: int = 2) -> str:
    if value is None:
        return ""
    try:
        f = float(value)
    except (TypeError, ValueError):
        return str(value)
    if f != f:  # NaN
        return ""
    if abs(f) < 0.001 and f != 0:
        return f"{f:.2e}"
    return f"{f:.{digits}f}" if not f.is_integer() or digits == 0 else f"{f:g}"


def _print(result: AnalysisResult) -> None:
    p = result.provenance
    if result.simulated:
        console.print("[bold yellow]SIMULATED DATA — not a real trial[/]")
    if result.blinded:
        console.print(
            f"[bold]{POOLED_LABEL.upper()}[/]: every analysis pools both arms; no comparison "
            "between arms is made",
            highlight=False,
        )
    console.print(
        f"[bold]{p.protocol_id}[/] v{p.protocol_version}: {len(result.population)} enrolled; "
        f"protocol sha256 {p.protocol_sha256[:12]}…, data sha256 {p.data_sha256[:12]}…",
        highlight=False,
    )
    gaps = result.missing[result.missing["n_missing"] > 0]
    gaps = gaps[gaps["n_missing"] < gaps["n_population"]]
    for rec in gaps.to_dict(orient="records"):
        who = ", ".join(str(x) for x in rec["missing_ids"])
        console.print(
            f"missing {rec['scale']} at {rec['visit_code']}: {rec['n_missing']} ({who})",
            highlight=False,
        )
    headline = result.to_frame()
    by_arm = headline["arm"].dropna().nunique() > 1
    columns = ["scale", "visit", "quantity", "estimate", "SE", "CI", "p", "n"]
    table = Table(*(["arm", *columns] if by_arm else columns))
    for rec in headline.to_dict(orient="records"):
        ci = ""
        if rec["ci_low"] == rec["ci_low"] and rec["ci_high"] == rec["ci_high"]:
            ci = f"{_number(rec['ci_low'])} to {_number(rec['ci_high'])}"
        cells = [
            str(rec["scale"]),
            str(rec["visit"]),
            str(rec["quantity"]),
            _number(rec["estimate"]),
            _number(rec["se"]),
            ci,
            _number(rec["p"], 4),
            _number(rec["n"], 0),
        ]
        if by_arm:
            cells.insert(0, rec["arm"] if isinstance(rec["arm"], str) else "")
        table.add_row(*cells)
    console.print(table)
    safety = [s for s in result.sections if s.kind == "safety"]
    for s in safety:
        overview = s.tables.get("ae_overview")
        if overview is None:
            continue
        for row in overview.to_dict(orient="records"):
            arm = f"{row['arm']}: " if by_arm and isinstance(row.get("arm"), str) else ""
            console.print(
                f"{arm}adverse events: {int(row['n_events'])} in {int(row['n_participants'])} "
                f"participants; serious: {int(row['n_serious'])}",
                highlight=False,
            )
    for s in result.sections:
        for note in s.notes:
            console.print(f"[dim]{s.id}: {note}[/]", highlight=False)


@app.callback()
def analyse(
    db: SourceDbOption = None,
    user: SourceUserOption = None,
    role: SourceRoleOption = None,
    data: DataOption = None,
    protocol: ProtocolOption = None,
    unblinded: UnblindedOption = False,
    save_data: Annotated[
        Path | None,
        typer.Option(
            "--save-data",
            help="Also write the data analysed to this folder as CSV files (for --data later).",
        ),
    ] = None,
    methods: Annotated[
        bool, typer.Option("--methods", help="Also print the generated methods section.")
    ] = False,
    datasets: Annotated[
        bool,
        typer.Option(
            "--datasets",
            help="With --json, also include the ADSL and ADQS analysis datasets (large).",
        ),
    ] = False,
    json: JsonOption = False,
) -> None:
    """Run every analysis of the protocol's plan on the trial's data.

    Give the data with --db (a trial database, read as --user) or --data (a folder of CSV
    files). A randomised trial read blinded is analysed pooled (both arms together); the
    unblinded statistician gives --unblinded for the analysis by arm.
    """
    with errors_as_exit():
        trial, plan_protocol = load_trial(
            db, data, protocol, user=user, role=role, unblinded=unblinded
        )
        if save_data is not None:
            trial.to_directory(save_data)
        result = run_analysis_plan(trial, plan_protocol, require_arms=unblinded)
    if json:
        out = result.to_dict(include_datasets=datasets)
        out["methods"] = methods_text(result)
        print_json(out)
        return
    _print(result)
    if methods:
        console.print()
        for paragraph in methods_text(result):
            console.print(paragraph, highlight=False, soft_wrap=True)
            console.print()
