"""``remit result …``: laboratory, ECG and screening-test results from the command line."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from remit import services as sv
from remit.cli.common import DbOption, JsonOption, UserOption, acting_on, console, print_json
from remit.cli.trial_cmd import KeyOption, ParticipantOption, VisitOption, parse_time, show

app = typer.Typer(
    help="Clinical results (lab, ECG, screening tests) against the protocol's normal ranges.",
    no_args_is_help=True,
)


@app.command("add")
def add_command(
    participant: ParticipantOption,
    visit: VisitOption,
    test: Annotated[str, typer.Option("--test", help="The protocol's test code.")],
    value: Annotated[str, typer.Option("--value", help="A number, or the answer (negative …).")],
    at: Annotated[str, typer.Option("--at", help="When the sample was taken (time with zone).")],
    db: DbOption,
    user: UserOption,
    comment: Annotated[str | None, typer.Option("--comment", help="A comment.")] = None,
    key: KeyOption = None,
    json_output: JsonOption = False,
) -> None:
    """Record a result; one outside the normal range (or a positive screen) raises an alert."""
    with acting_on(db, user) as (engine, actor):
        found = sv.record_result(
            engine,
            actor,
            participant,
            visit,
            test,
            value,
            collected_at=parse_time(at, "--at"),
            comment=comment,
            idempotency_key=key,
        )
    flag = f" FLAGGED, {len(found.alerts)} alert(s)" if found.flagged else ""
    show(
        found,
        json_output,
        f"result {found.id}: {found.label} {value} ({found.interpretation}){flag}",
    )


@app.command("list")
def list_command(
    participant: ParticipantOption,
    db: DbOption,
    user: UserOption,
    visit: Annotated[str | None, typer.Option("--visit", help="Only this visit.")] = None,
    test: Annotated[str | None, typer.Option("--test", help="Only this test.")] = None,
    json_output: JsonOption = False,
) -> None:
    """List a participant's results, oldest first."""
    with acting_on(db, user) as (engine, actor):
        found = sv.list_results(engine, actor, participant, visit_code=visit, test=test)
    if json_output:
        print_json([r.to_dict() for r in found])
        return
    view = Table("id", "collected", "visit", "test", "result", "normal", "interpretation")
    for r in found:
        shown = f"{r.value_number:g} {r.unit or ''}" if r.value_number is not None else r.value_text
        normal = r.expected or f"{r.normal_low if r.normal_low is not None else ''}–" + (
            f"{r.normal_high if r.normal_high is not None else ''}"
        )
        flag = " (flagged)" if r.flagged else ""
        view.add_row(
            str(r.id),
            f"{r.collected_at:%Y-%m-%d %H:%M}",
            r.visit_code or "",
            r.test_code,
            str(shown),
            normal,
            r.interpretation + flag,
        )
    console.print(view)
