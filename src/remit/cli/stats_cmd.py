"""``remit stats …``: statistics on a CSV file (MMRM; more commands join this group)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from remit.cli import stats_rbmi_cmd, stats_small_cmd
from remit.cli.common import (
    JsonOption,
    console,
    err_console,
    errors_as_exit,
    print_json,
    read_csv,
)
from remit.errors import InputError, RemitWarning
from remit.stats.choices import DF_METHODS, STRUCTURES

if TYPE_CHECKING:  # the statistics stack loads when a command runs, not for --help
    from remit.stats.mmrm import MMRMResult

app = typer.Typer(
    help="Statistics on a long-format CSV file: MMRM and friends.",
    no_args_is_help=True,
)


# ------------------------------------------------------------------------------ mmrm


def _mmrm_payload(
    fit: MMRMResult,
    group: str | None,
    compare: str | None,
    reference: str | None,
    notes: list[str],
) -> dict[str, Any]:
    visit = fit.design.visit
    coefficients = fit.coefficients.to_dict(orient="records")
    lsmeans: list[dict[str, Any]] = []
    differences: list[dict[str, Any]] = []
    if visit in fit.design.factors:
        by = [visit, group] if group else [visit]
        for row in fit.lsmeans(by).to_dict(orient="records"):
            lsmeans.append(
                {
                    "visit": row[visit],
                    "group": row[group] if group else None,
                    "estimate": row["estimate"],
                    "se": row["se"],
                    "df": row["df"],
                }
            )
        if group:
            levels = fit.design.factors[group]
            ref = _level(reference, levels, "--reference") if reference is not None else None
            cmp = _level(compare, levels, "--compare") if compare is not None else None
            table = fit.differences(group, reference=ref, compare=cmp)
            differences = [
                {str(k): v for k, v in row.items()} for row in table.to_dict(orient="records")
            ]
    out = {
        "neg2_loglik": fit.neg2_loglik,
        "aic": fit.aic,
        "bic": fit.bic,
        "converged": fit.converged,
        "message": fit.message,
        "method": fit.method,
        "df_method": fit.df_method,
        "covariance_structure": fit.covariance_structure,
        "n_subjects": fit.n_subjects,
        "n_obs": fit.n_obs,
        "dropped_rows": len(fit.dropped_rows),
        "coefficients": coefficients,
        "covariance": fit.covariance_matrix().tolist(),
        "visits": list(fit.visits),
        "lsmeans": lsmeans,
        "differences": differences,
        "warnings": notes,
    }
    return out


def _level(value: str, levels: tuple[Any, ...], option: str) -> Any:
    """Match a command-line string to a factor level (levels may be numbers)."""
    for level in levels:
        if str(level) == value:
            return level
    raise InputError(
        f"{option} {value!r} is not a level of the group column",
        expected="one of " + ", ".join(map(str, levels)),
    )


def _num(value: Any, column: str) -> str:
    if not isinstance(value, float):
        return str(value)
    if column == "p":
        return f"{value:.3g}" if value >= 1e-4 else "<0.0001"
    return f"{value:.2f}" if column == "df" else f"{value:.4f}"


def _print_table(title: str, rows: list[dict[str, Any]], columns: list[str]) -> None:
    table = Table(title=title, title_justify="left")
    for col in columns:
        table.add_column(col, justify="left" if col in ("term", "contrast", "group") else "right")
    for row in rows:
        table.add_row(*(_num(row[c], c) for c in columns))
    console.print(table)


@app.command("mmrm")
def mmrm(
    data: Annotated[Path, typer.Argument(help="CSV file, one row per subject and visit.")],
    formula: Annotated[
        str,
        typer.Option(
            "--formula", "-f", help="Fixed effects, R style, e.g. 'y ~ arm*visit + base'."
        ),
    ],
    subject: Annotated[str, typer.Option("--subject", "-s", help="Subject id column.")],
    visit: Annotated[str, typer.Option("--visit", "-v", help="Visit column (a factor).")],
    group: Annotated[
        str | None,
        typer.Option("--group", "-g", help="Arm column: LS means and differences per visit."),
    ] = None,
    covariance: Annotated[
        str,
        typer.Option("--covariance", "-c", help="Covariance: " + ", ".join(STRUCTURES) + "."),
    ] = "us",
    df: Annotated[
        str, typer.Option("--df", help="Degrees of freedom: " + ", ".join(DF_METHODS) + ".")
    ] = "satterthwaite",
    method: Annotated[str, typer.Option("--method", help="reml (default) or ml.")] = "reml",
    compare: Annotated[
        str | None,
        typer.Option("--compare", help="Group level compared with the reference (default: all)."),
    ] = None,
    reference: Annotated[
        str | None,
        typer.Option("--reference", help="Reference group level (default: the first level)."),
    ] = None,
    coordinates: Annotated[
        str | None,
        typer.Option(
            "--coordinates",
            help="Numeric position (time) column(s) for sp_exp, comma-separated if several.",
        ),
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Fit a mixed model for repeated measures (MMRM) and print estimates, Σ, LS means and
    differences between arms per visit."""
    from remit.stats.mmrm import fit_mmrm

    with errors_as_exit():
        frame = read_csv(data, "a CSV file with one row per subject and visit")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RemitWarning)
            fit = fit_mmrm(
                frame,
                formula,
                subject=subject,
                visit=visit,
                covariance=covariance,
                group=group,
                df=df,  # type: ignore[arg-type]
                method=method,  # type: ignore[arg-type]
                coordinates=None if coordinates is None else coordinates.split(","),
            )
            notes = [str(w.message) for w in caught if issubclass(w.category, RemitWarning)]
            payload = _mmrm_payload(fit, group, compare, reference, notes)
        if json_out:
            print_json(payload)
            return
        for note in notes:
            err_console.print(f"[yellow]warning:[/] {note}", highlight=False, soft_wrap=True)
        status = "converged" if fit.converged else "[red]did NOT converge[/]"
        console.print(
            f"MMRM {fit.method.upper()}, {fit.covariance_structure} covariance, "
            f"{fit.df_method} df — {fit.n_obs} observations, {fit.n_subjects} subjects, {status}"
        )
        console.print(
            f"-2 log-likelihood {fit.neg2_loglik:.4f}   AIC {fit.aic:.4f}   BIC {fit.bic:.4f}"
        )
        cols = ["term", "estimate", "se", "df", "t", "p", "ci_low", "ci_high"]
        _print_table("Fixed effects", payload["coefficients"], cols)
        sigma = Table(title="Covariance Σ (by visit)", title_justify="left")
        sigma.add_column("visit")
        for v in fit.visits:
            sigma.add_column(str(v), justify="right")
        for v, row in zip(fit.visits, payload["covariance"], strict=True):
            sigma.add_row(str(v), *(f"{x:.4f}" for x in row))
        console.print(sigma)
        if payload["lsmeans"]:
            rows = [
                {**r, "group": r["group"] if r["group"] is not None else ""}
                for r in payload["lsmeans"]
            ]
            _print_table("LS means", rows, ["visit", "group", "estimate", "se", "df"])
        if payload["differences"]:
            _print_table(
                "Differences by visit",
                payload["differences"],
                ["visit", "contrast", "estimate", "se", "df", "t", "p", "ci_low", "ci_high"],
            )


# `paired`, `proportion`, `rbmi` and `tipping-point` live in their own modules and join here.
stats_small_cmd.register(app)
stats_rbmi_cmd.register(app)
