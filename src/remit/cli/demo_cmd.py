"""``remit demo``: a synthetic trial like the Norwegian MDMA-AT study, analysed end to end."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from remit.analysis import AnalysisResult, run_analysis_plan
from remit.cli.common import JsonOption, console, errors_as_exit, print_json
from remit.errors import InputError
from remit.protocol import Protocol, load_protocol
from remit.reports.format import fmt, fmt_ci
from remit.simulate import SimulationResult

app = typer.Typer(
    help="Create, simulate, analyse and report a synthetic trial like the Norwegian MDMA-AT "
    "study (SIMULATED data).",
    invoke_without_command=True,
)

#: The built-in protocol the demo runs.
DEMO_PROTOCOL = "oslo-mdma-mdd"
#: The first referral of the demo (the study treated its participants from January 2023).
DEMO_START = date(2022, 11, 7)
#: What the progress bar says while the services are called.
ENTERING = "entering the trial through the services"
#: The default seed.
DEMO_SEED = 2023


@dataclass(frozen=True)
class DemoRun:
    """What :func:`run_demo` made: the summary, the paths and the demo logins."""

    summary: dict[str, Any]
    database: Path
    report: Path
    logins: tuple[tuple[str, str, str], ...]
    simulation: SimulationResult | None = None


def _visits(protocol: Protocol) -> tuple[str, str, str]:
    """(baseline, primary, follow-up) visit codes from the protocol's MADRS endpoints."""
    change = [e for e in protocol.endpoints if e.kind == "change" and e.scale == "madrs"]
    main = next((e for e in change if e.role == "primary"), change[0] if change else None)
    relapse = next((e for e in protocol.endpoints if e.kind == "relapse"), None)
    if main is None or relapse is None:
        raise InputError(
            f"protocol {protocol.study.id} lacks a MADRS change or relapse endpoint",
            expected="the endpoints the demo summary reports",
        )
    return (
        str(getattr(main, "from_visit")),  # noqa: B009
        str(getattr(main, "to_visit")),  # noqa: B009
        str(getattr(relapse, "to_visit")),  # noqa: B009
    )


def summarise(result: AnalysisResult, protocol: Protocol) -> dict[str, Any]:
    """The demo's summary, every number taken from the analysis result (unrounded)."""
    baseline, primary, followup = _visits(protocol)
    by_visit = result.section("descriptive").tables["by_visit"]
    base = by_visit[(by_visit["scale"] == "madrs") & (by_visit["visit"] == baseline)].iloc[0]
    change = result.section("mmrm").tables["change_vs_baseline"]

    def mmrm(scale: str) -> dict[str, float]:
        row = change[(change["scale"] == scale) & (change["visit"] == primary)].iloc[0]
        return {
            k: float(row[c])
            for k, c in [
                ("mean", "estimate"),
                ("se", "se"),
                ("ci_low", "ci_low"),
                ("ci_high", "ci_high"),
                ("p", "p"),
            ]
        }

    props = result.section("responders").tables["proportions"]

    def count(kind: str, visit: str) -> int:
        rows = props[(props["kind"] == kind) & (props["visit"] == visit)]
        return int(rows.iloc[0]["k"]) if len(rows) else 0

    relapses = result.section("transitions").tables["relapses"]
    return {
        "n_enrolled": len(result.population),
        "baseline_madrs_mean": float(base["mean"]),
        "baseline_madrs_sd": float(base["sd"]),
        f"madrs_change_{primary.lower()}": mmrm("madrs"),
        f"sds_change_{primary.lower()}": mmrm("sds"),
        f"responders_{primary.lower()}": count("response", primary),
        f"remitters_{primary.lower()}": count("remission", primary),
        f"responders_{followup.lower()}": count("response", followup),
        f"remitters_{followup.lower()}": count("remission", followup),
        "relapses": int(relapses["n_relapsed"].sum()),
        "simulated": result.simulated,
    }


def run_demo(
    out: Path,
    *,
    seed: int = DEMO_SEED,
    force: bool = False,
    pdf: bool = False,
    exports: bool = True,
    progress: Callable[[str, int, int], None] | None = None,
) -> DemoRun:
    """Create ``out/trial.db``, simulate the trial, run the plan, write ``out/report.html``
    and (with ``exports``) the CDISC, CSV and ODM exports in ``out/exports``.

    ``progress(phase, done, total)`` is called as the work advances.
    """
    from remit.interop import export_trial
    from remit.reports import render_report
    from remit.services import build_trial_data
    from remit.simulate import close_demo_database, create_demo_database, simulate_trial

    def tell(phase: str, done: int, total: int) -> None:
        if progress is not None:
            progress(phase, done, total)

    protocol = load_protocol(DEMO_PROTOCOL)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file", expected="a directory (created if missing)")
    tell("creating the trial and the demo users", 0, 1)
    demo = create_demo_database(out / "trial.db", protocol, force=force)
    try:
        simulation = simulate_trial(
            demo.engine,
            protocol,
            rng=seed,
            start_date=DEMO_START,
            staff=demo.staff,
            progress=lambda done, total: tell(ENTERING, done, total),
        )
        data = build_trial_data(demo.engine, actor=demo.staff["statistician"])
        if exports:
            tell("writing the exports (CSV, SDTM, ADaM, ODM)", 0, 1)
            export_trial(demo.engine, out / "exports", data=data)  # the data built above
    finally:
        close_demo_database(demo)
    tell("running the analysis plan", 0, 1)
    result = run_analysis_plan(data, protocol)
    tell("writing the report", 0, 1)
    written = render_report(result, data, protocol, out, pdf=pdf)
    summary = summarise(result, protocol)
    summary["report"] = str(written.html_path)
    summary["database"] = str(demo.path)
    summary["exports"] = str(out / "exports") if exports else None
    tell("done", 1, 1)
    return DemoRun(
        summary=summary,
        database=demo.path,
        report=written.html_path,
        logins=demo.logins,
        simulation=simulation,
    )


def _print(run: DemoRun) -> None:
    s = run.summary
    console.print("[bold yellow]SIMULATED DATA — not a real trial[/]")
    table = Table("quantity", "demo", "published", title="Demo trial vs the published study")
    primary = next(k for k in s if k.startswith("madrs_change_"))
    sds = next(k for k in s if k.startswith("sds_change_"))
    m, d = s[primary], s[sds]
    rows = [
        ("enrolled", f"{s['n_enrolled']}", "12"),
        (
            "baseline MADRS, mean (SD)",
            f"{fmt(s['baseline_madrs_mean'])} ({fmt(s['baseline_madrs_sd'], 'sd')})",
            "29.6 (4.9)",
        ),
        (
            "MADRS change to V13 (SE; 95% CI)",
            f"{fmt(m['mean'], 'estimate')} ({fmt(m['se'], 'se')}; "
            f"{fmt_ci(m['ci_low'], m['ci_high'])})",
            "−19.3 (2.4; −23.8 to −14.8)",
        ),
        (
            "SDS change to V13 (SE)",
            f"{fmt(d['mean'], 'estimate')} ({fmt(d['se'], 'se')})",
            "−11.7 (2.2)",
        ),
        (
            "responders / remitters at V13",
            f"{s.get('responders_v13')} / {s.get('remitters_v13')}",
            "9 / 9",
        ),
        (
            "responders / remitters at FU7",
            f"{s.get('responders_fu7')} / {s.get('remitters_fu7')}",
            "8 / 8",
        ),
        ("relapses", f"{s['relapses']}", "1"),
    ]
    for row in rows:
        table.add_row(*row)
    console.print(table)
    if run.simulation is not None:
        sim = run.simulation
        console.print(
            f"{sim.n_screened} screened, {sim.n_enrolled} enrolled, entered through "
            f"{sim.n_calls} service calls (each one audited transaction); alerts raised: "
            + (", ".join(f"{k} {v}" for k, v in sim.alerts.items()) or "none"),
            highlight=False,
        )
    console.print(f"database: {run.database}", highlight=False)
    console.print(f"report:   {run.report}", highlight=False)
    if run.summary.get("exports"):
        console.print(f"exports:  {run.summary['exports']}", highlight=False)
    logins = Table("username", "role", "demo password", title="Demo users")
    for username, role, password in run.logins:
        logins.add_row(username, role, password)
    console.print(logins)
    console.print(f"explore it: remit serve --db {run.database}", highlight=False)


@app.callback()
def demo(
    out: Annotated[
        Path,
        typer.Option("--out", help="Directory for trial.db and report.html (created if missing)."),
    ] = Path("remit-demo"),
    seed: Annotated[
        int,
        typer.Option("--seed", min=0, help="Random seed (0 or more): same seed, same trial."),
    ] = DEMO_SEED,
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace a previous demo in --out (never a real trial)."),
    ] = False,
    pdf: Annotated[
        bool, typer.Option("--pdf", help="Also print report.pdf with headless Chromium.")
    ] = False,
    exports: Annotated[
        bool,
        typer.Option(
            "--exports/--no-exports",
            help="Write the CSV, CDISC SDTM/ADaM, ODM and REDCap exports to DIR/exports.",
        ),
    ] = True,
    json: JsonOption = False,
) -> None:
    """Simulate a trial like the Norwegian MDMA-AT study, analyse it and write its report.

    Twelve participants enrolled from a larger screened pool are entered visit by visit
    through the same services staff use (audit trail, visit windows and safety alerts are
    real); everything is marked SIMULATED.
    """
    with errors_as_exit():
        if json:
            run = run_demo(out, seed=seed, force=force, pdf=pdf, exports=exports)
        else:
            with Progress(
                TextColumn("[progress.description]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            ) as bar:
                task = bar.add_task("starting", total=1)

                def show(phase: str, done: int, total: int) -> None:
                    bar.update(task, description=phase, completed=done, total=total)

                run = run_demo(out, seed=seed, force=force, pdf=pdf, exports=exports, progress=show)
    if json:
        print_json(
            {
                **run.summary,
                "logins": [{"username": u, "role": r, "password": p} for u, r, p in run.logins],
            }
        )
        return
    _print(run)
