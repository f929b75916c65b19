"""``remit power …``: sample size and power for the next trial, thin over :mod:`remit.stats`."""

from __future__ import annotations

from typing import Annotated

import numpy as np
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from rich.table import Table

from remit.cli.common import JsonOption, console, errors_as_exit, print_json
from remit.errors import InputError
from remit.stats.power import ar1, compound_symmetry, power_mmrm, sample_size_mmrm
from remit.stats.power_sim import simulate_power_mmrm

app = typer.Typer(help="Power and sample size for the next trial.", no_args_is_help=True)


def _retention(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(
            f"--retention {text!r} is not a list of numbers",
            expected="comma-separated proportions, e.g. 1,0.9,0.8,0.7",
        ) from None
    if len(values) < 2:
        raise InputError(
            f"--retention {text!r} gives {len(values)} visit(s)",
            expected="one proportion per visit, at least 2 visits",
        )
    return values


@app.command("mmrm")
def mmrm(
    delta: Annotated[
        float, typer.Option("--delta", help="Difference between arms at the last visit.")
    ],
    retention: Annotated[
        str,
        typer.Option(
            "--retention",
            help="Proportion still observed at each visit, comma-separated (e.g. 1,.9,.8,.7).",
        ),
    ],
    rho: Annotated[
        float, typer.Option("--rho", help="Correlation between visits (see --correlation).")
    ],
    correlation: Annotated[
        str,
        typer.Option("--correlation", help="Correlation structure: cs (compound symmetry) or ar1."),
    ] = "cs",
    sigma: Annotated[float, typer.Option("--sigma", help="Standard deviation.")] = 1.0,
    power: Annotated[
        float, typer.Option("--power", help="Target power when solving for the sample size.")
    ] = 0.8,
    alpha: Annotated[float, typer.Option("--alpha", help="Two-sided significance level.")] = 0.05,
    ratio: Annotated[
        float, typer.Option("--ratio", help="Allocation ratio N_treatment / N_control.")
    ] = 1.0,
    n_total: Annotated[
        int | None,
        typer.Option("--n", help="Total subjects: compute power for this N instead of solving."),
    ] = None,
    simulate: Annotated[
        int,
        typer.Option(
            "--simulate",
            help="Simulate this many trials and fit an MMRM to each (0: analytic only).",
        ),
    ] = 0,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed of the simulation (reproducible).")
    ] = None,
    jobs: Annotated[
        int | None, typer.Option("--jobs", help="Worker processes (default: all cores).")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """MMRM power / sample size (Lu, Luo & Chen 2008), analytic or by simulation.

    The analytic answer is always given; with --simulate the design (analytic N, or --n) is
    also simulated: outcomes multivariate normal with the given correlation and σ, arm
    difference --delta at the last visit only, monotone dropout following --retention,
    analysis y ~ arm * visit with unstructured covariance and Satterthwaite df.
    """
    with errors_as_exit():
        ret = _retention(retention)
        j = len(ret)
        if correlation == "cs":
            corr = compound_symmetry(j, rho)
        elif correlation == "ar1":
            corr = ar1(j, rho)
        else:
            raise InputError(f"--correlation {correlation!r}", expected="cs or ar1")
        if n_total is None:
            result = sample_size_mmrm(
                correlation=corr,
                retention=ret,
                delta=delta,
                sigma=sigma,
                power=power,
                alpha=alpha,
                ratio=ratio,
            )
        else:
            result = power_mmrm(
                n_total,
                correlation=corr,
                retention=ret,
                delta=delta,
                sigma=sigma,
                alpha=alpha,
                ratio=ratio,
            )
        payload: dict[str, object] = {"analytic": result.to_dict()}
        if simulate:
            n_b = round(result.n_b)
            n_a = round(result.n_total) - n_b
            means = np.zeros((2, j))
            means[1, -1] = delta
            cov = corr * sigma * sigma
            # The bar goes to the console; with --json stdout carries only the JSON.
            with Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=console,
                transient=True,
                disable=json_out,
            ) as bar:
                task = bar.add_task("simulating trials", total=simulate)
                sim = simulate_power_mmrm(
                    (n_b, n_a),
                    means,
                    cov,
                    retention=ret,
                    n_sim=simulate,
                    alpha=alpha,
                    seed=seed,
                    n_jobs=jobs,
                    progress=lambda done, total: bar.update(task, completed=done),
                )
            payload["simulation"] = {
                "n_per_arm": [n_b, n_a],
                "n_sim": sim.n_sim,
                "seed": sim.seed,
                "power": sim.power,
                "mc_se": sim.mc_se,
                "n_failed": sim.n_failed,
                "covariance": sim.covariance,
                "df_method": sim.df_method,
                "mean_estimate": float(sim.comparisons["mean_estimate"].iloc[0]),
            }
        if json_out:
            print_json(payload)
            return
        table = Table("", "value", title="MMRM power (Lu, Luo & Chen 2008)")
        table.add_row("subjects, control / treatment", f"{result.n_b:g} / {result.n_a:g}")
        table.add_row("subjects, total", f"{result.n_total:g}")
        table.add_row("power", f"{result.power:.4f}")
        table.add_row("dropout inflation φ", f"{result.phi_a:.6g}")
        if "simulation" in payload:
            s = payload["simulation"]
            assert isinstance(s, dict)
            table.add_row(
                f"simulated power ({s['n_sim']} trials, seed {s['seed']})",
                f"{s['power']:.4f} (Monte Carlo SE {s['mc_se']:.4f})",
            )
            if s["n_failed"]:
                table.add_row("simulated fits that failed", str(s["n_failed"]))
        console.print(table)
