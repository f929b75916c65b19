"""``remit randomise keygen|generate|status|allocations|balance|unblind|unblindings``: the
concealed list and emergency unblinding."""

from __future__ import annotations

import math
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
    errors_as_exit,
    print_json,
)
from remit.errors import InputError

app = typer.Typer(
    help="Randomisation: the allocation key, the concealed list, its use, the balance by arm "
    "and emergency unblinding.",
    no_args_is_help=True,
)


@app.command("keygen")
def keygen_command(
    path: Annotated[Path, typer.Argument(help="The new key file (refused if it exists).")],
    json_output: JsonOption = False,
) -> None:
    """Make a new allocation key file (mode 0600) for sealing the randomisation list.

    Keep it away from the database and back it up: without it the list cannot be read. Give
    it to Remit with REMIT_ALLOCATION_KEY_FILE=PATH.
    """
    with errors_as_exit():
        key = sv.new_allocation_key_file(path)
    if json_output:
        print_json({"path": str(path), "key_id": key.key_id})
        return
    typer.echo(f"allocation key {key.key_id} written to {path}")
    typer.echo(f"use it with: export REMIT_ALLOCATION_KEY_FILE={path}")


def _parse_sizes(values: list[str]) -> int | dict[str, int]:
    if len(values) == 1 and "=" not in values[0]:
        try:
            return int(values[0])
        except ValueError:
            pass
    sizes: dict[str, int] = {}
    for value in values:
        stratum, sep, number = value.rpartition("=")
        try:
            if not sep:
                raise ValueError(value)
            sizes[stratum] = int(number)
        except ValueError:
            raise InputError(
                f"--n-per-stratum {value!r}",
                expected="one number for every stratum, or STRATUM=N for each stratum",
                hint="see the strata with `remit randomise status` once generated, or the "
                "protocol's [[randomisation.strata]]",
            ) from None
    return sizes


def _status_table(status: sv.RandomisationStatus) -> None:
    if not status.generated:
        typer.echo("no randomisation list is generated")
        return
    key = {None: "no key configured", True: "the configured key is the list's"}.get(
        status.key_matches, "the configured key is NOT the list's"
    )
    typer.echo(
        f"{status.method} list of {status.slots} slots, {status.used} used; generated "
        f"{status.created_at:%Y-%m-%d %H:%M} UTC by {status.created_by or 'Remit'}; "
        f"key {status.key_id} ({key})"
    )
    view = Table("stratum", "slots", "used", "left")
    for s in status.strata:
        view.add_row(s.stratum, str(s.slots), str(s.used), str(s.left))
    console.print(view)


@app.command("generate")
def generate_command(
    n_per_stratum: Annotated[
        list[str],
        typer.Option(
            "--n-per-stratum",
            help="Most participants a stratum may enrol: one number, or STRATUM=N (repeat).",
        ),
    ],
    db: DbOption,
    user: UserOption,
    seed: Annotated[
        int | None, typer.Option("--seed", help="The seed to record (default: drawn).")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Generate the study's randomisation list once, sealed with the allocation key.

    Only the unblinded statistician may; the seed is printed for their records and stored
    sealed.
    """
    with acting_on(db, user) as (engine, actor):
        made = sv.generate_list(engine, actor, n_per_stratum=_parse_sizes(n_per_stratum), seed=seed)
    if json_output:
        print_json(made)
        return
    _status_table(made.status)
    typer.echo(f"seed {made.seed} (stored sealed; keep it with the statistical records)")


@app.command("status")
def status_command(db: DbOption, user: UserOption, json_output: JsonOption = False) -> None:
    """Whether the list exists, and its slots used and left by stratum (no arms)."""
    with acting_on(db, user) as (engine, actor):
        found = sv.randomisation_status(engine, actor)
    if json_output:
        print_json(found)
        return
    _status_table(found)


@app.command("allocations")
def allocations_command(db: DbOption, user: UserOption, json_output: JsonOption = False) -> None:
    """Every allocation with its arm and kit (unblinded roles only)."""
    with acting_on(db, user) as (engine, actor):
        found = sv.list_allocations(engine, actor)
    if json_output:
        print_json(found)
        return
    view = Table("participant", "site", "stratum", "sequence", "kit", "arm", "allocated")
    for a in found:
        view.add_row(
            a.participant_id,
            a.site,
            a.stratum,
            str(a.sequence),
            str(a.kit),
            a.arm,
            f"{a.allocated_at:%Y-%m-%d %H:%M}",
        )
    console.print(view)


@app.command("balance")
def balance_command(db: DbOption, user: UserOption, json_output: JsonOption = False) -> None:
    """Allocations per arm overall, by stratum and by factor (unblinded roles only)."""
    with acting_on(db, user) as (engine, actor):
        found = sv.allocation_balance_report(engine, actor)
    frame = found.to_frame()
    if json_output:
        print_json(frame.to_dict(orient="records"))
        return
    view = Table("margin", "level", "arm", "n", "share", "imbalance")
    for row in frame.to_dict(orient="records"):
        share = float(row["share"])
        shown = "" if math.isnan(share) else f"{share:.2f}"  # NaN: no allocation in the level
        view.add_row(
            str(row["margin"]),
            str(row["level"]),
            str(row["arm"]),
            str(row["n"]),
            shown,
            str(row["imbalance"]),
        )
    console.print(view)


@app.command("unblind")
def unblind_command(
    participant: Annotated[str, typer.Argument(help="The participant's study ID.")],
    db: DbOption,
    user: UserOption,
    reason: Annotated[
        str,
        typer.Option("--reason", help="Why the blind must be broken (required, audited)."),
    ] = "",
    json_output: JsonOption = False,
) -> None:
    """Break the blind of one participant in an emergency and show their arm (investigators).

    Audited, raised as an urgent alert (so the protocol's notification chain tells people),
    listed for the unblinded roles and flagged in the analysis data (unblinded_at).
    """
    with acting_on(db, user) as (engine, actor):
        done = sv.emergency_unblind(engine, actor, participant, reason)
    if json_output:
        print_json(done)
        return
    typer.echo(
        f"{done.participant_id} (kit {done.kit}) is in arm {done.arm} ({done.arm_label}); "
        f"unblinding {done.id} recorded {done.unblinded_at:%Y-%m-%d %H:%M} UTC and notified"
    )


@app.command("unblindings")
def unblindings_command(db: DbOption, user: UserOption, json_output: JsonOption = False) -> None:
    """Every emergency unblinding with the arm (unblinded roles only)."""
    with acting_on(db, user) as (engine, actor):
        found = sv.list_unblindings(engine, actor)
    if json_output:
        print_json(found)
        return
    view = Table("participant", "kit", "arm", "unblinded", "by", "reason")
    for u in found:
        view.add_row(
            u.participant_id,
            str(u.kit),
            u.arm or "",
            f"{u.unblinded_at:%Y-%m-%d %H:%M}",
            u.unblinded_by or "",
            u.reason,
        )
    console.print(view)
