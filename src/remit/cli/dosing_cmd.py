"""``remit dose …`` and ``remit vitals …``: the dosing day from the command line."""

from __future__ import annotations

import csv
import io
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from remit import services as sv
from remit.cli.common import (
    DbOption,
    JsonOption,
    UserOption,
    acting_on,
    console,
    print_json,
)
from remit.cli.trial_cmd import (
    KeyOption,
    ParticipantOption,
    VisitOption,
    parse_time,
    show,
)
from remit.errors import InputError
from remit.protocol import VITAL_SIGN_CODES, VITAL_SIGNS
from remit.protocol.status import DoseKind, FollowUpCallStatus, values

app = typer.Typer(help="Dosing sessions: start, doses, end.", no_args_is_help=True)
vitals_app = typer.Typer(
    help="Vital signs (with plausibility checks and alerts).", no_args_is_help=True
)

AtOption = Annotated[str, typer.Option("--at", help="Time with zone, e.g. 2024-03-01T09:00Z.")]


def _sign_help(code: str) -> str:
    """The help of a short vital-sign option: its label and unit from the vocabulary."""
    sign = VITAL_SIGNS[code]
    return f"{sign.label} ({sign.unit}); the same as --sign {code}=VALUE."


@app.command("start")
def start_command(
    participant: ParticipantOption,
    visit: VisitOption,
    at: AtOption,
    db: DbOption,
    user: UserOption,
    key: KeyOption = None,
    json_output: JsonOption = False,
) -> None:
    """Start the dosing session held at a visit."""
    with acting_on(db, user) as (engine, actor):
        started = sv.start_dosing_session(
            engine,
            actor,
            participant,
            visit,
            started_at=parse_time(at, "--at"),
            idempotency_key=key,
        )
    show(started, json_output, f"session {started.session_number} of {participant} started")


@app.command("give")
def give_command(
    participant: ParticipantOption,
    visit: VisitOption,
    kind: Annotated[str, typer.Option("--kind", help=", ".join(values(DoseKind)) + ".")],
    mg: Annotated[float, typer.Option("--mg", help="Dose in mg.")],
    db: DbOption,
    user: UserOption,
    at: Annotated[
        str | None, typer.Option("--at", help="When it was taken (time with zone).")
    ] = None,
    withheld: Annotated[
        str | None, typer.Option("--withheld", help="Record the dose as withheld, with why.")
    ] = None,
    override: Annotated[
        str | None,
        typer.Option("--override", help="Investigator: give beyond the protocol's limits, why."),
    ] = None,
    key: KeyOption = None,
    json_output: JsonOption = False,
) -> None:
    """Record a dose given (or withheld); refused beyond the protocol's limits unless overridden."""
    with acting_on(db, user) as (engine, actor):
        dose = sv.record_dose(
            engine,
            actor,
            participant,
            visit,
            kind=kind,
            dose_mg=mg,
            status="withheld" if withheld else "given",
            given_at=None if withheld or at is None else parse_time(at, "--at"),
            withheld_reason=withheld,
            override_reason=override,
            idempotency_key=key,
        )
    show(dose, json_output, f"{dose.kind} dose {dose.shown}")
    if not json_output:
        for warning in dose.warnings:
            console.print(f"[bold yellow]warning:[/] {warning}", highlight=False)
        for category in dose.deviations:
            console.print(f"[bold red]protocol deviation recorded:[/] {category}", highlight=False)


@app.command("end")
def end_command(
    participant: ParticipantOption,
    visit: VisitOption,
    at: AtOption,
    db: DbOption,
    user: UserOption,
    notes: Annotated[str | None, typer.Option("--notes", help="Notes on the session.")] = None,
    json_output: JsonOption = False,
) -> None:
    """End the dosing session."""
    with acting_on(db, user) as (engine, actor):
        ended = sv.end_dosing_session(
            engine,
            actor,
            participant,
            visit,
            ended_at=parse_time(at, "--at"),
            notes=notes,
        )
    call = f"; follow-up call due {ended.follow_up_due_date}" if ended.follow_up_due_date else ""
    show(ended, json_output, f"session {ended.session_number} of {participant} ended{call}")


@app.command("sign-off")
def sign_off_command(
    participant: ParticipantOption,
    visit: VisitOption,
    at: AtOption,
    db: DbOption,
    user: UserOption,
    note: Annotated[str | None, typer.Option("--note", help="What the discharge rests on.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Investigator: sign the participant's discharge off (a discharge criterion)."""
    with acting_on(db, user) as (engine, actor):
        signed = sv.sign_off_discharge(
            engine, actor, participant, visit, signed_at=parse_time(at, "--at"), note=note
        )
    show(signed, json_output, f"discharge of {participant} signed off ({visit})")


@app.command("call")
def call_command(
    participant: ParticipantOption,
    visit: VisitOption,
    at: AtOption,
    status: Annotated[
        str,
        typer.Option(
            "--status",
            help=" or ".join(
                s.value for s in FollowUpCallStatus if s != FollowUpCallStatus.SCHEDULED
            )
            + ".",
        ),
    ],
    db: DbOption,
    user: UserOption,
    note: Annotated[
        str | None, typer.Option("--note", help="What was said (required when not reached).")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Record the next-day follow-up call of a dosing session."""
    with acting_on(db, user) as (engine, actor):
        done = sv.record_follow_up_call(
            engine,
            actor,
            participant,
            visit,
            status=status,
            called_at=parse_time(at, "--at"),
            note=note,
        )
    show(done, json_output, f"follow-up call of {participant} ({visit}): {done.follow_up_status}")


def _sign_values(pairs: list[str], named: dict[str, float | None]) -> dict[str, float | None]:
    values = dict(named)
    for pair in pairs:
        code, sep, text = pair.partition("=")
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if not sep or not code.strip() or math.isnan(number):
            raise InputError(
                f"--sign {pair!r} is not SIGN=VALUE",
                expected="e.g. --sign respiratory_rate=18 (signs: "
                + ", ".join(VITAL_SIGN_CODES)
                + ")",
            )
        values[code.strip()] = number
    return values


@vitals_app.command("add")
def vitals_add_command(
    participant: ParticipantOption,
    visit: VisitOption,
    at: AtOption,
    db: DbOption,
    user: UserOption,
    sign: Annotated[
        list[str] | None,
        typer.Option(
            "--sign",
            help="SIGN=VALUE for any vital sign, repeatable (e.g. --sign oxygen_saturation=97). "
            "Signs: " + ", ".join(VITAL_SIGN_CODES) + ".",
        ),
    ] = None,
    systolic: Annotated[
        int | None, typer.Option("--systolic", help=_sign_help("systolic_bp"))
    ] = None,
    diastolic: Annotated[
        int | None, typer.Option("--diastolic", help=_sign_help("diastolic_bp"))
    ] = None,
    heart_rate: Annotated[int | None, typer.Option("--hr", help=_sign_help("heart_rate"))] = None,
    temperature: Annotated[
        float | None, typer.Option("--temp", help=_sign_help("temperature"))
    ] = None,
    key: KeyOption = None,
    json_output: JsonOption = False,
) -> None:
    """Record vital signs; values beyond the protocol's thresholds raise alerts."""
    with acting_on(db, user) as (engine, actor):
        # the short options name signs of the vocabulary; --sign takes any of them
        named: dict[str, float | None] = {
            "systolic_bp": systolic,
            "diastolic_bp": diastolic,
            "heart_rate": heart_rate,
            "temperature": temperature,
        }
        done = sv.record_vitals(
            engine,
            actor,
            participant,
            visit,
            measured_at=parse_time(at, "--at"),
            values=_sign_values(sign or [], named),
            idempotency_key=key,
        )
    show(done, json_output, f"vital signs {done.id} recorded for {participant} {visit}")
    if not json_output:
        for alert in done.alerts:
            console.print(f"[bold red]ALERT {alert.level}:[/] {alert.message}", highlight=False)


def _sheet_readings(path: Path) -> list[sv.VitalsEntry]:
    """The readings of a monitor sheet: a CSV file with a ``measured_at`` column (time with
    zone) and a column per sign read (sign codes of the vocabulary); an empty cell is a sign
    not measured at that time."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise InputError(f"--file {path}: {e.strerror or e}", expected="a readable CSV file") from e
    rows = list(csv.reader(io.StringIO(text)))
    header = [c.strip() for c in rows[0]] if rows else []
    expected = "a header row measured_at," + ",".join(VITAL_SIGN_CODES[:4]) + ",… (sign codes)"
    if "measured_at" not in header:
        raise InputError(f"--file {path} has no measured_at column", expected=expected)
    readings = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise InputError(
                f"--file {path} line {line} has {len(row)} cells",
                expected=f"{len(header)} cells, one per column of the header",
            )
        cells = dict(zip(header, (cell.strip() for cell in row), strict=True))
        values: dict[str, float | None] = {}
        for code, cell in cells.items():
            if code == "measured_at":
                continue
            try:
                values[code] = float(cell) if cell else None
            except ValueError:
                raise InputError(
                    f"--file {path} line {line}: {code} {cell!r} is not a number",
                    expected="a number, or an empty cell for a sign not measured",
                ) from None
        at = parse_time(cells["measured_at"], f"--file {path} line {line} measured_at")
        readings.append(sv.VitalsEntry(measured_at=at, values=values))
    return readings


@vitals_app.command("sheet")
def vitals_sheet_command(
    participant: ParticipantOption,
    visit: VisitOption,
    file: Annotated[
        Path,
        typer.Option(
            "--file",
            help="CSV monitor sheet: measured_at (time with zone) and a column per sign code "
            "(e.g. measured_at,systolic_bp,diastolic_bp,heart_rate,temperature); an empty "
            "cell is a sign not measured.",
        ),
    ],
    db: DbOption,
    user: UserOption,
    key: KeyOption = None,
    json_output: JsonOption = False,
) -> None:
    """Record a monitor sheet's readings in one transaction: all of them, or none if one is
    refused (its reading is named); each raises the alerts one reading would."""
    with acting_on(db, user) as (engine, actor):
        readings = _sheet_readings(file)
        done = sv.record_vitals_series(
            engine, actor, participant, visit, readings, idempotency_key=key
        )
    if json_output:
        print_json([r.to_dict() for r in done])
        return
    console.print(
        f"{len(done)} readings of vital signs recorded for {participant} {visit} "
        f"(ids {done[0].id}-{done[-1].id})",
        highlight=False,
    )
    for record in done:
        for alert in record.alerts:
            console.print(
                f"[bold red]ALERT {alert.level}:[/] {record.measured_at:%H:%M} UTC {alert.message}",
                highlight=False,
            )


# --- the pre-dose checklist ---------------------------------------------------------------------


@app.command("checklist")
def checklist_command(
    participant: ParticipantOption,
    visit: VisitOption,
    db: DbOption,
    user: UserOption,
    at: Annotated[
        str | None,
        typer.Option("--at", help="Time the checklist is judged or completed at (with zone)."),
    ] = None,
    complete: Annotated[
        bool, typer.Option("--complete", help="Complete it (refused while an item fails).")
    ] = False,
    confirm: Annotated[
        list[str] | None, typer.Option("--confirm", help="A confirm item ticked (repeatable).")
    ] = None,
    not_applicable: Annotated[
        list[str] | None,
        typer.Option("--not-applicable", help="ITEM=REASON for an item that does not apply."),
    ] = None,
    override_reason: Annotated[
        str | None,
        typer.Option("--override-reason", help="Investigator: give over overridable items."),
    ] = None,
    key: KeyOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show the pre-dose checklist of a dosing session (each item pass, fail, not yet …), or
    complete it with --complete; the initial dose is refused until it is complete."""
    marked: dict[str, str] = {}
    for pair in not_applicable or []:
        item, sep, reason = pair.partition("=")
        if not sep or not item.strip() or not reason.strip():
            raise InputError(
                f"--not-applicable {pair!r} is not ITEM=REASON",
                expected="e.g. --not-applicable pregnancy_test='post-menopausal'",
            )
        marked[item.strip()] = reason.strip()
    when = parse_time(at, "--at") if at is not None else datetime.now(UTC)
    with acting_on(db, user) as (engine, actor):
        if complete:
            found = sv.complete_checklist(
                engine,
                actor,
                participant,
                visit,
                completed_at=when,
                confirmed=confirm or [],
                not_applicable=marked,
                override_reason=override_reason,
                idempotency_key=key,
            )
        else:
            found = sv.checklist_status(engine, actor, participant, visit, at=when)
    if json_output:
        print_json(found.to_dict())
        return
    view = Table("item", "status", "why")
    for i in found.items:
        view.add_row(i.id, i.status, i.detail)
    console.print(view)
    state = "complete" if found.complete else f"{len(found.failing)} item(s) not cleared"
    done = f"; completed (id {found.completion_id})" if found.completion_id else ""
    console.print(f"checklist of {participant} {visit}: {state}{done}", highlight=False)
