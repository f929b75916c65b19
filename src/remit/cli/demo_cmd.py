"""``remit demo``: a synthetic trial like the Norwegian MDMA-AT study, analysed end to end."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from remit.cli.common import JsonOption, console, errors_as_exit, print_json
from remit.errors import InputError
from remit.protocol import Protocol, load_protocol
from remit.simulate import SimulationResult
from remit.simulate.targets import OSLO_TARGETS, rct_targets

if TYPE_CHECKING:
    from remit.analysis import AnalysisResult

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
#: Participants enrolled in the randomised demo by default (about 12 per arm).
RCT_PARTICIPANTS = 24
#: Places per stratum of the randomised demo's list (each stratum may take every participant).
RCT_LIST_PLACES = 200
#: The allocation key of the randomised demo, in the output directory.
ALLOCATION_KEY_FILE = "allocation.key"
#: Where the randomised demo writes the exports built from unblinded data (``exports`` holds
#: the blinded ones, as a blinded role would get them).
UNBLINDED_EXPORTS = "exports-unblinded"
#: The reason of the randomised demo's simulated database lock, before the unblinding.
LOCK_REASON = "database lock before unblinding (simulated by remit demo)"


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

    def mmrm(scale: str) -> dict[str, float] | None:
        if change.empty:  # an arm-by-visit model: no pooled change (see summarise_arms)
            return None
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


def summarise_arms(result: AnalysisResult, protocol: Protocol) -> dict[str, Any]:
    """The by-arm summary of a randomised demo: n per arm, the MMRM difference between arms
    at the primary visit (each arm minus the first) with its CI, response and remission by
    arm at the primary visit; every number from the analysis result (unrounded)."""
    _, primary, _ = _visits(protocol)
    people = result.adsl[result.adsl["participant_id"].isin(result.population)]
    n_per_arm = {a.code: int((people["arm"] == a.code).sum()) for a in protocol.arms}
    mmrm = result.section("mmrm")
    diffs = getattr(mmrm, "arm_differences", None)
    differences = []
    if diffs is not None:
        rows = diffs[(diffs["scale"] == "madrs") & (diffs["visit"].astype(str) == primary)]
        for rec in rows.to_dict(orient="records"):
            differences.append(
                {
                    "contrast": str(rec["contrast"]),
                    "estimate": float(rec["estimate"]),
                    "se": float(rec["se"]),
                    "ci_low": float(rec["ci_low"]),
                    "ci_high": float(rec["ci_high"]),
                    "p": float(rec["p"]),
                }
            )
    props = result.section("responders").tables["proportions"]
    by_arm: dict[str, dict[str, int]] = {}
    for a in protocol.arms:
        counts = {}
        for kind in ("response", "remission"):
            rows = props[
                (props["kind"] == kind) & (props["visit"] == primary) & (props["arm"] == a.code)
            ]
            counts[f"{kind}_{primary.lower()}"] = int(rows.iloc[0]["k"]) if len(rows) else 0
        by_arm[a.code] = counts
    return {
        "n_per_arm": n_per_arm,
        f"madrs_difference_{primary.lower()}": differences[0] if differences else None,
        "responders_by_arm": by_arm,
    }


def run_demo(
    out: Path,
    *,
    seed: int = DEMO_SEED,
    force: bool = False,
    pdf: bool = False,
    exports: bool = True,
    progress: Callable[[str, int, int], None] | None = None,
    protocol_id: str = DEMO_PROTOCOL,
    participants: int | None = None,
) -> DemoRun:
    """Create ``out/trial.db``, simulate the trial, run the plan, write ``out/report.html``
    and (with ``exports``) the CDISC, CSV and ODM exports in ``out/exports``.

    ``progress(phase, done, total)`` is called as the work advances. ``protocol_id`` a
    built-in protocol; a randomised one (``mdma-mdd-rct-example``) runs the randomised demo
    (:func:`_randomised`). ``participants``: how many are enrolled (default: 12 for a
    single-arm protocol, :data:`RCT_PARTICIPANTS` for a randomised one).
    """
    from remit.interop import export_trial
    from remit.services import build_trial_data
    from remit.simulate import close_demo_database, create_demo_database, simulate_trial

    def tell(phase: str, done: int, total: int) -> None:
        if progress is not None:
            progress(phase, done, total)

    protocol = load_protocol(protocol_id)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file", expected="a directory (created if missing)")
    randomised = protocol.randomisation is not None
    if participants is not None and participants < 4:
        raise InputError(
            f"--participants {participants}", expected="at least 4 enrolled participants"
        )
    if participants is not None and not randomised and participants != OSLO_TARGETS.n_enrolled:
        targets = replace(
            OSLO_TARGETS,
            n_enrolled=participants,
            n_women=round(OSLO_TARGETS.n_women * participants / OSLO_TARGETS.n_enrolled),
            n_remitters=min(round(0.75 * participants), participants - 2),
        )
    else:
        targets = OSLO_TARGETS
    tell("creating the trial and the demo users", 0, 1)
    demo = create_demo_database(out / "trial.db", protocol, force=force)
    engine = demo.engine
    try:
        arm_targets = None
        unblinded = None
        if randomised:
            engine, unblinded = _randomise(demo, out, seed)
            mdma, placebo = rct_targets(participants or RCT_PARTICIPANTS)
            second = protocol.arms[1].code
            targets, arm_targets = mdma, {second: placebo}
        simulation = simulate_trial(
            engine,
            protocol,
            rng=seed,
            start_date=DEMO_START,
            staff=demo.staff,
            targets=targets,
            arm_targets=arm_targets,
            unblinded=unblinded,
            epro=randomised,  # the RCT's participants answer their self-reports themselves
            progress=lambda done, total: tell(ENTERING, done, total),
        )
        if unblinded is not None:  # blinded exports, database lock, then the arms
            data = _unblind(engine, demo.staff, unblinded, out, exports=exports, tell=tell)
        else:
            data = build_trial_data(engine, actor=demo.staff["statistician"])
        if exports and unblinded is None:
            tell("writing the exports (CSV, SDTM, ADaM, ODM)", 0, 1)
            export_trial(engine, out / "exports", data=data)  # the data built above
    finally:
        close_demo_database(demo)
    # the analysis plan and the report (SciPy, statsmodels, matplotlib) are imported only now:
    # their memory is not held through the simulation and the exports
    from remit.analysis import run_analysis_plan
    from remit.reports import render_report

    tell("running the analysis plan", 0, 1)
    result = run_analysis_plan(data, protocol, require_arms=randomised)
    tell("writing the report", 0, 1)
    written = render_report(result, data, protocol, out, pdf=pdf)
    summary = summarise(result, protocol)
    if randomised:  # the pooled rows of summarise() are one arm's here: by arm instead
        summary = {k: v for k, v in summary.items() if k in ("n_enrolled", "relapses", "simulated")}
        summary["protocol"] = protocol.study.id
        summary.update(summarise_arms(result, protocol))
        summary["allocation_key"] = str(out / ALLOCATION_KEY_FILE)
        summary["exports_unblinded"] = str(out / UNBLINDED_EXPORTS) if exports else None
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


def _randomise(demo: Any, out: Path, seed: int) -> tuple[Any, Any]:
    """A new allocation key in ``out`` (a previous demo's key goes with its database), the
    engine carrying it, and the unblinded statistician, who generates the list."""
    from remit import services as sv
    from remit.simulate import UNBLINDED_DEMO_USER

    key_file = out / ALLOCATION_KEY_FILE
    key_file.unlink(missing_ok=True)  # the database it sealed was just replaced
    key = sv.new_allocation_key_file(key_file)
    engine = sv.with_allocation_key(demo.engine, key)
    una = sv.actor_for(engine, UNBLINDED_DEMO_USER[0], UNBLINDED_DEMO_USER[1], None)
    sv.generate_list(engine, una, n_per_stratum=RCT_LIST_PLACES, seed=seed)
    return engine, una


def _unblind(
    engine: Any,
    staff: Mapping[str, Any],
    una: Any,
    out: Path,
    *,
    exports: bool,
    tell: Callable[[str, int, int], None],
) -> Any:
    """The end of the randomised demo: the exports as the blinded statistician reads the
    trial (``out/exports``: arm masked, no dose in mg), the database lock by the data
    manager, then the unblinded analysis data read by the unblinded statistician (audited)
    and, with ``exports``, their exports in ``out/`` :data:`UNBLINDED_EXPORTS`."""
    from remit import services as sv
    from remit.interop import export_trial

    if exports:
        tell("writing the blinded exports (CSV, SDTM, ADaM, ODM)", 0, 1)
        blinded = sv.build_trial_data(engine, actor=staff["statistician"])
        export_trial(engine, out / "exports", data=blinded)
    sv.lock(engine, staff["data_manager"], "study", reason=LOCK_REASON)
    data = sv.build_trial_data(
        engine, actor=una, unblinded=True, purpose="remit demo: the analysis by arm after lock"
    )
    if exports:
        tell("writing the unblinded exports", 0, 1)
        export_trial(engine, out / UNBLINDED_EXPORTS, data=data)
    return data


#: The cyclic collector's thresholds while the demo runs (see :func:`imports_frozen`).
DEMO_GC_THRESHOLDS = (10_000, 20, 20)


@contextmanager
def imports_frozen() -> Iterator[None]:
    """Keep the objects that exist now (the imported modules: most of the process) out of the
    cyclic collector's full collections while the block runs: they live as long as the
    command, and walking them again on each full collection cost the demo about 2 % of its
    CPU time. Nothing is kept longer than it would be: they are handed back on exit.

    The collector also runs less often (:data:`DEMO_GC_THRESHOLDS`): the demo allocates
    millions of short-lived objects (rows, records, cells) that reference counting frees,
    and the default thresholds (700, 10, 10) made it run some 1,400 young and 11 full
    collections, 0.8 s of CPU on a loaded 2-core machine; with these, about 80 young ones and
    no full one, 0.3 s, for 4 MB more at the peak (measured with ``gc.callbacks``). The
    thresholds are restored on exit."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*DEMO_GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _print_arms(s: dict[str, Any]) -> None:
    from remit.reports.format import fmt, fmt_ci

    primary = next(k for k in s if k.startswith("madrs_difference_"))
    visit = primary.rsplit("_", 1)[1].upper()
    table = Table("quantity", *s["n_per_arm"], title="Randomised demo trial, by arm")
    table.add_row("randomised and analysed", *(str(n) for n in s["n_per_arm"].values()))
    for kind in ("response", "remission"):
        table.add_row(
            f"{kind} at {visit}",
            *(str(c[f"{kind}_{visit.lower()}"]) for c in s["responders_by_arm"].values()),
        )
    console.print(table)
    d = s[primary]
    if d is not None:
        console.print(
            f"MMRM difference in MADRS change at {visit} ({d['contrast']}): "
            f"{fmt(d['estimate'], 'estimate')} (SE {fmt(d['se'], 'se')}; 95% CI "
            f"{fmt_ci(d['ci_low'], d['ci_high'])})",
            highlight=False,
        )
    console.print(f"allocation key: {s['allocation_key']}", highlight=False)


def _print(run: DemoRun) -> None:
    from remit.reports.format import fmt, fmt_ci

    s = run.summary
    console.print("[bold yellow]SIMULATED DATA — not a real trial[/]")
    if "n_per_arm" in s:
        _print_arms(s)
        _print_paths(run)
        return
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
    _print_paths(run)


def _print_paths(run: DemoRun) -> None:
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
        blinded = " (blinded: arm masked)" if run.summary.get("exports_unblinded") else ""
        console.print(f"exports:  {run.summary['exports']}{blinded}", highlight=False)
    if run.summary.get("exports_unblinded"):
        console.print(
            f"unblinded exports (after the database lock, for the unblinded statistician "
            f"only): {run.summary['exports_unblinded']}",
            highlight=False,
        )
    logins = Table("username", "role", "demo password", title="Demo users")
    for username, role, password in run.logins:
        logins.add_row(username, role, password)
    console.print(logins)
    key = run.summary.get("allocation_key")
    prefix = f"REMIT_ALLOCATION_KEY_FILE={key} " if key else ""
    console.print(f"explore it: {prefix}remit serve --db {run.database}", highlight=False)


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
            help="Write the CSV, CDISC SDTM/ADaM, ODM and REDCap exports to DIR/exports (a "
            "randomised protocol: blinded there, and from unblinded data after a database lock "
            "in DIR/exports-unblinded).",
        ),
    ] = True,
    protocol: Annotated[
        str,
        typer.Option(
            "--protocol",
            help="Built-in protocol to simulate: oslo-mdma-mdd (default) or the randomised "
            "mdma-mdd-rct-example.",
        ),
    ] = DEMO_PROTOCOL,
    participants: Annotated[
        int | None,
        typer.Option(
            "--participants",
            min=4,
            help="Participants to enrol (default 12, or 24 for a randomised protocol).",
        ),
    ] = None,
    json: JsonOption = False,
) -> None:
    """Simulate a trial like the Norwegian MDMA-AT study, analyse it and write its report.

    Twelve participants enrolled from a larger screened pool are entered visit by visit
    through the same services staff use (audit trail, visit windows and safety alerts are
    real); everything is marked SIMULATED.
    """
    with errors_as_exit(), imports_frozen():
        if json:
            run = run_demo(
                out, seed=seed, force=force, pdf=pdf, exports=exports,
                protocol_id=protocol, participants=participants,
            )  # fmt: skip
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

                run = run_demo(
                    out, seed=seed, force=force, pdf=pdf, exports=exports, progress=show,
                    protocol_id=protocol, participants=participants,
                )  # fmt: skip
    if json:
        print_json(
            {
                **run.summary,
                "logins": [{"username": u, "role": r, "password": p} for u, r, p in run.logins],
            }
        )
        return
    _print(run)
