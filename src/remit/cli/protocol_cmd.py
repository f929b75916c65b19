"""``remit protocol …``: list, show, check and compare protocol files; compute a schedule."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer
from rich.table import Table

from remit.cli.common import JsonOption, console, errors_as_exit, print_json, report_problems
from remit.errors import InputError
from remit.protocol import (
    VITAL_SIGNS,
    DosingSession,
    Protocol,
    builtin_protocols,
    check_protocol,
    compute_schedule,
    diff_protocols,
    load_protocol,
)
from remit.protocol.baseline import resolve_baseline
from remit.protocol.vocab import LEVELS

app = typer.Typer(
    help="Protocol files: list the built-in ones, show a schedule, check a file, compare two.",
    no_args_is_help=True,
)

SourceArgument = Annotated[
    str, typer.Argument(help="A built-in protocol name (see `remit protocol list`) or a TOML file.")
]


def _window(w: tuple[int, int]) -> str:
    return f"{w[0]:+d}/{w[1]:+d}"


_SHORT = {
    "independent_rater": "indep. rater",
    "self_report": "self",
    "investigator": "investigator",
    "therapist": "therapist",
    "since_last_visit": "SLV",
    "baseline": "baseline",
}


def _assessment_words(protocol: Protocol, code: str) -> list[str]:
    words = []
    for a in protocol.assessments_at(code):
        version = f"/{_SHORT.get(a.version, a.version)}" if a.version else ""
        timing = f", {a.timing.replace('_', ' ')}" if a.timing else ""
        words.append(f"{a.scale}{version} ({_SHORT.get(a.rater, a.rater)}{timing})")
    return words


def _limits(high: float | None, low: float | None) -> str:
    parts = [f"> {high:g}" if high is not None else "", f"< {low:g}" if low is not None else ""]
    return " or ".join(p for p in parts if p)


def _vital_limits_table(protocol: Protocol) -> Table:
    """The tiered vital-sign limits of ``[safety.vitals]``: one row per sign, one column per
    level (most pressing last), each cell ``> high`` and/or ``< low``."""
    table = Table(title="Vital-sign alert limits (at every visit)")
    rule = protocol.safety.vitals
    if rule is None:  # pragma: no cover - only called with limits
        return table
    used = {lv for x in rule.limits.values() for lv in (*x.high, *x.low)}
    levels = [lv for lv in reversed(LEVELS) if lv in used]
    for column in ("sign", *levels):
        table.add_column(column)
    for sign, limits in rule.limits.items():
        unit = VITAL_SIGNS[sign].unit
        cells = [
            f"{_limits(limits.high.get(lv), limits.low.get(lv))} {unit}"
            if lv in limits.high or lv in limits.low
            else ""
            for lv in levels
        ]
        table.add_row(VITAL_SIGNS[sign].label, *cells)
    return table


def _dose_rows(d: DosingSession, protocol: Protocol) -> list[tuple[str, str]]:
    rows = []
    arms = [a.code for a in protocol.arms]
    if not d.arm_doses:
        dose = d.dose_for(None)
        rows.append(
            ("all arms", f"{dose.initial_mg:g} + {dose.supplemental_mg:g} mg {dose.substance}")
        )
    else:
        for arm in arms:
            dose = d.dose_for(arm)
            rows.append(
                (arm, f"{dose.initial_mg:g} + {dose.supplemental_mg:g} mg {dose.substance}")
            )
    return rows


def _show_json(protocol: Protocol) -> dict[str, Any]:
    days = protocol.nominal_days()
    return {
        "study": {
            "id": protocol.study.id,
            "title": protocol.study.title,
            "design": protocol.study.design,
            "version": protocol.study.version,
            "target_enrolment": protocol.study.target_enrolment,
            "reference_visit": protocol.study.reference_visit,
            "sha256": protocol.sha256,
        },
        "arms": [{"code": a.code, "label": a.label, "ratio": a.ratio} for a in protocol.arms],
        "visits": [
            {
                "code": v.code,
                "label": v.label,
                "kind": v.kind,
                "anchor": v.anchor,
                "target_day": v.target_day,
                "window": list(v.window),
                "day": days[v.code],
                "therapy_session": v.therapy_session,
                "duration_min": v.duration_min,
                "arms": list(v.arms),
                "assessments": [a.model_dump(mode="json") for a in v.assessments],
                "assumption": v.assumption,
            }
            for v in protocol.visits
        ],
        "dosing_sessions": [
            {
                "visit": d.visit,
                "number": d.number,
                "substance": d.substance,
                "initial_mg": d.initial_mg,
                "supplemental_mg": d.supplemental_mg,
                "supplemental_offer_min": list(d.supplemental_offer_min),
                "supplemental_may_be_withheld": d.supplemental_may_be_withheld,
                "max_total_mg": d.max_total_mg,
                "duration_h": d.duration_h,
                "arm_doses": {
                    arm: dose.model_dump(mode="json") for arm, dose in d.arm_doses.items()
                },
                "vitals": d.vitals.model_dump(mode="json"),
                "vas_timepoints": list(d.vas_timepoints),
            }
            for d in protocol.dosing
        ],
        "endpoints": [
            {
                "id": e.id,
                "kind": e.kind,
                "role": e.role,
                "label": e.label,
                "definition": e.definition,
            }
            for e in protocol.endpoints
        ],
        "baseline": _baselines(protocol),
    }


def _baselines(protocol: Protocol) -> dict[str, str]:
    """The baseline visit of each scale the protocol assesses (``[baseline]``)."""
    scales = dict.fromkeys(s for v in protocol.visits for s in v.scales())
    return {s: v for s in scales if (v := resolve_baseline(protocol, s)) is not None}


@app.command("list")
def list_command(json_output: JsonOption = False) -> None:
    """List the protocols shipped with Remit."""
    with errors_as_exit():
        rows: list[dict[str, Any]] = []
        for name in builtin_protocols():
            p = load_protocol(name)
            rows.append(
                {
                    "name": name,
                    "title": p.study.short_title,
                    "design": p.study.design,
                    "arms": len(p.arms),
                    "visits": len(p.visits),
                    "dosing_sessions": len(p.dosing),
                    "sha256": p.sha256,
                }
            )
        if json_output:
            print_json(rows)
            return
        table = Table(title="Built-in protocols")
        for column in ("name", "title", "design", "arms", "visits", "dosing"):
            table.add_column(column)
        for r in rows:
            table.add_row(
                r["name"],
                r["title"],
                r["design"],
                str(r["arms"]),
                str(r["visits"]),
                str(r["dosing_sessions"]),
            )
        console.print(table)


@app.command("show")
def show_command(
    source: SourceArgument,
    details: Annotated[
        bool, typer.Option("--details", help="Add each visit's description and assumption.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Show the schedule: visits with day, window, what happens and forms; then the doses."""
    with errors_as_exit():
        protocol = load_protocol(source)
        if json_output:
            print_json(_show_json(protocol))
            return
        s = protocol.study
        console.print(f"[bold]{s.title}[/]")
        console.print(
            f"{s.id} v{s.version} · {s.design} · {len(protocol.arms)} arm(s): "
            + ", ".join(f"{a.code} ({a.label})" for a in protocol.arms)
            + f" · target n = {s.target_enrolment} · day 0 = {s.reference_visit}",
            highlight=False,
        )
        days = protocol.nominal_days()
        table = Table(title="Visits", show_lines=True)
        table.add_column("visit", style="bold")
        table.add_column("day", justify="right")
        table.add_column("timing")
        table.add_column("window")
        table.add_column("what happens")
        table.add_column("forms")
        for v in protocol.visits:
            day = days[v.code]
            what = f"{v.label} ({v.kind}"
            what += f", {v.duration_min} min" if v.duration_min else ""
            what += ", therapy" if v.therapy_session else ""
            what += ")"
            if v.arms:
                what += " — arms " + ", ".join(v.arms)
            if details and v.description:
                what += f"\n[dim]{v.description}[/]"
            if details and v.assumption:
                what += f"\n[italic dim]assumption: {v.assumption}[/]"
            table.add_row(
                v.code,
                "" if day is None else str(day),
                f"{v.target_day} d after {v.anchor}",
                _window(v.window),
                what,
                "\n".join(_assessment_words(protocol, v.code)),
            )
        console.print(table)
        console.print(
            "[dim]day: planned day from the reference visit; window: days around the target; "
            "forms: scale/version (rater); SLV = since last visit[/]"
        )
        therapy = protocol.therapy_sessions()
        console.print(
            f"{len(therapy)} therapy sessions: " + ", ".join(v.code for v in therapy),
            highlight=False,
        )
        if protocol.dosing:
            doses = Table(title="Dosing sessions", show_lines=True)
            for column in ("session", "visit", "dose", "supplemental offered", "max", "vitals"):
                doses.add_column(column)
            for d in protocol.dosing:
                vitals = d.vitals
                limits = ", ".join(VITAL_SIGNS[sign].label for sign in vitals.recorded_signs())
                lo, hi = d.supplemental_offer_min
                withheld = ", may be withheld" if d.supplemental_may_be_withheld else ""
                doses.add_row(
                    str(d.number),
                    d.visit,
                    "\n".join(f"{arm}: {text}" for arm, text in _dose_rows(d, protocol)),
                    f"{lo}–{hi} min after the initial dose{withheld}",
                    f"{d.max_total_mg:g} mg",
                    ("pre-dose, " if vitals.pre_dose else "")
                    + f"every {vitals.every_min} min to {vitals.until_min} min"
                    + (f"\n{limits}" if limits else ""),
                )
            console.print(doses)
        if protocol.safety.vitals is not None and protocol.safety.vitals.limits:
            console.print(_vital_limits_table(protocol))
        if protocol.endpoints:
            console.print("[bold]Endpoints[/]")
            for e in protocol.endpoints:
                console.print(f"  {e.role:<11} {e.id}: {e.definition}", highlight=False)
        baselines = _baselines(protocol)
        if baselines:
            words = ", ".join(f"{s} {v}" for s, v in baselines.items())
            console.print(f"[bold]Baseline visits[/]: {words}", highlight=False)


@app.command("check")
def check_command(
    source: Annotated[str, typer.Argument(help="The protocol file (or built-in name) to check.")],
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Check against the scales kept in this trial database too (`remit scales add`).",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Check a protocol file: exit 0 when sound, else exit 2 with one line per problem."""
    with errors_as_exit():
        if db is not None:
            from remit import services as sv
            from remit.cli.common import open_engine

            with open_engine(db) as engine:
                sv.open_trial_scales(engine)
        problems = check_protocol(source)
    report_problems(source, problems, json_output, "docs/protocol.md")


@app.command("diff")
def diff_command(
    a: Annotated[str, typer.Argument(help="The old protocol: a built-in name or a file.")],
    b: Annotated[str, typer.Argument(help="The new protocol: a built-in name or a file.")],
    json_output: JsonOption = False,
) -> None:
    """Say what changed from protocol A to protocol B: arms, visits, windows, doses, endpoints."""
    with errors_as_exit():
        result = diff_protocols(load_protocol(a), load_protocol(b))
    if json_output:
        print_json(result.to_dict())
        return
    console.print(result.summary(), highlight=False, soft_wrap=True)


def _parse_dates(pairs: list[str], option: str) -> dict[str, date]:
    out: dict[str, date] = {}
    for pair in pairs:
        code, sep, text = pair.partition("=")
        try:
            if not sep:
                raise ValueError
            out[code.strip()] = date.fromisoformat(text.strip())
        except ValueError:
            raise InputError(
                f"{option} {pair!r} is not CODE=DATE",
                expected="e.g. referral=2023-01-02 (dates as YYYY-MM-DD)",
            ) from None
    return out


@app.command("schedule")
def schedule_command(
    source: SourceArgument,
    anchor: Annotated[
        list[str] | None,
        typer.Option("--anchor", help="An event date, EVENT=YYYY-MM-DD (repeatable)."),
    ] = None,
    actual: Annotated[
        list[str] | None,
        typer.Option("--actual", help="The actual date of a visit, VISIT=YYYY-MM-DD (repeatable)."),
    ] = None,
    arm: Annotated[str | None, typer.Option("--arm", help="Only the visits of this arm.")] = None,
    provisional: Annotated[
        bool,
        typer.Option(
            "--provisional",
            help="Project visits whose anchor visit has not happened from its target date.",
        ),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Compute a participant's target dates and windows from the dates recorded so far."""
    with errors_as_exit():
        protocol = load_protocol(source)
        schedule = compute_schedule(
            protocol,
            _parse_dates(anchor or [], "--anchor"),
            _parse_dates(actual or [], "--actual"),
            arm=arm,
            provisional=provisional,
        )
    if json_output:
        print_json(schedule.to_dict())
        return
    table = Table(title=f"Schedule ({protocol.study.id})")
    for column in ("visit", "target", "window", "actual", "status"):
        table.add_column(column)
    for v in schedule.visits:
        table.add_row(
            v.code,
            "" if v.target_date is None else v.target_date.isoformat(),
            ""
            if v.earliest_date is None or v.latest_date is None
            else f"{v.earliest_date.isoformat()} – {v.latest_date.isoformat()}",
            "" if v.actual_date is None else v.actual_date.isoformat(),
            v.note,
        )
    console.print(table)
