"""``remit conmed add|edit|stop|list``: concomitant medications with their ATC code and a dated
taper plan (``--taper 2024-01-15=50mg``, repeated)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from remit import services as sv
from remit.cli.common import DbOption, JsonOption, UserOption, acting_on, console, print_json
from remit.cli.trial_cmd import KeyOption, ParticipantOption, parse_date, show
from remit.errors import InputError

app = typer.Typer(
    help="Concomitant medications: ATC code, dose, taper plan; prohibited ones stop a dose.",
    no_args_is_help=True,
)

AtcOption = Annotated[
    str | None,
    typer.Option("--atc", help="WHO ATC code of the substance, e.g. N06AB06 (sertraline)."),
]
RouteOption = Annotated[str | None, typer.Option("--route", help="Route, e.g. oral.")]
DoseOption = Annotated[str | None, typer.Option("--dose", help="Dose, e.g. '100 mg daily'.")]
IndicationOption = Annotated[str | None, typer.Option("--indication", help="What it is for.")]
StartOption = Annotated[str | None, typer.Option("--start", help="Start date YYYY-MM-DD.")]
StopOption = Annotated[str | None, typer.Option("--stop", help="Stop date YYYY-MM-DD.")]
TaperOption = Annotated[
    list[str] | None,
    typer.Option(
        "--taper",
        help="A taper step DATE=DOSE (e.g. 2024-01-15=50mg); repeat, in date order.",
    ),
]


def parse_taper(steps: list[str] | None) -> list[tuple[str, str]]:
    """``DATE=DOSE`` options as (date, dose) pairs (the service checks dates and order).

    >>> parse_taper(["2024-01-15=50 mg"])
    [('2024-01-15', '50 mg')]
    """
    out: list[tuple[str, str]] = []
    for step in steps or ():
        when, sep, dose = step.partition("=")
        if not sep:
            raise InputError(
                f"--taper {step!r} has no '='", expected="DATE=DOSE, e.g. 2024-01-15=50mg"
            )
        out.append((when.strip(), dose.strip()))
    return out


def _line(m: sv.ConmedRecord) -> str:
    code = f" ({m.atc_code})" if m.atc_code else ""
    flag = f"; prohibited: {m.prohibited}, washout {m.washout_days} days" if m.prohibited else ""
    return f"medication {m.id}: {m.name}{code}{flag}"


@app.command("add")
def add_command(
    participant: ParticipantOption,
    name: Annotated[str, typer.Option("--name", help="Medication name, e.g. sertraline.")],
    db: DbOption,
    user: UserOption,
    atc: AtcOption = None,
    route: RouteOption = None,
    dose: DoseOption = None,
    indication: IndicationOption = None,
    start: StartOption = None,
    stop: StopOption = None,
    taper: TaperOption = None,
    key: KeyOption = None,
    json_output: JsonOption = False,
) -> None:
    """Record a concomitant medication."""
    with acting_on(db, user) as (engine, actor):
        med = sv.record_conmed(
            engine,
            actor,
            participant,
            name=name,
            atc_code=atc,
            route=route,
            dose=dose,
            indication=indication,
            start_date=parse_date(start, "--start") if start else None,
            stop_date=parse_date(stop, "--stop") if stop else None,
            taper_steps=parse_taper(taper),
            idempotency_key=key,
        )
    show(med, json_output, _line(med) + " recorded")


@app.command("edit")
def edit_command(
    conmed_id: Annotated[int, typer.Argument(help="Medication id (remit conmed list).")],
    reason: Annotated[str, typer.Option("--reason", help="Why it changes (audit trail).")],
    db: DbOption,
    user: UserOption,
    name: Annotated[str | None, typer.Option("--name", help="New name.")] = None,
    atc: AtcOption = None,
    route: RouteOption = None,
    dose: DoseOption = None,
    indication: IndicationOption = None,
    start: StartOption = None,
    stop: StopOption = None,
    taper: TaperOption = None,
    json_output: JsonOption = False,
) -> None:
    """Change a recorded medication (only the options given), with a reason."""
    changes: dict[str, Any] = {
        k: v
        for k, v in {
            "name": name,
            "atc_code": atc,
            "route": route,
            "dose": dose,
            "indication": indication,
        }.items()
        if v is not None
    }
    if start is not None:
        changes["start_date"] = parse_date(start, "--start")
    if stop is not None:
        changes["stop_date"] = parse_date(stop, "--stop")
    if taper is not None:
        changes["taper_steps"] = parse_taper(taper)
    with acting_on(db, user) as (engine, actor):
        med = sv.edit_conmed(engine, actor, conmed_id, reason=reason, **changes)
    show(med, json_output, _line(med) + " changed")


@app.command("stop")
def stop_command(
    conmed_id: Annotated[int, typer.Argument(help="Medication id (remit conmed list).")],
    stop: Annotated[str, typer.Option("--date", help="Stop date YYYY-MM-DD.")],
    db: DbOption,
    user: UserOption,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why (default: 'stopped <date>').")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Record the day a medication was stopped."""
    with acting_on(db, user) as (engine, actor):
        med = sv.stop_conmed(
            engine, actor, conmed_id, stop_date=parse_date(stop, "--date"), reason=reason
        )
    show(med, json_output, _line(med) + f" stopped {med.stop_date}")


@app.command("list")
def list_command(
    participant: ParticipantOption,
    db: DbOption,
    user: UserOption,
    json_output: JsonOption = False,
) -> None:
    """List a participant's medications, with the protocol's prohibited class if any."""
    with acting_on(db, user) as (engine, actor):
        found = sv.list_conmeds(engine, actor, participant)
    if json_output:
        print_json([m.to_dict() for m in found])
        return
    view = Table("id", "name", "ATC", "dose", "route", "start", "stop", "taper", "prohibited")
    for m in found:
        view.add_row(
            str(m.id),
            m.name,
            m.atc_code or "",
            m.dose or "",
            m.route or "",
            str(m.start_date or ""),
            str(m.stop_date or ""),
            ", ".join(f"{s.date}: {s.dose}" for s in m.taper_steps) or (m.taper_plan or ""),
            f"{m.prohibited} ({m.washout_days} d)" if m.prohibited else "",
        )
    console.print(view)
