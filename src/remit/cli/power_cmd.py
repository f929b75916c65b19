"""``remit power …``: sample size and power for the next trial, thin over :mod:`remit.stats`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from rich.table import Table

from remit.cli.common import JsonOption, console, errors_as_exit, print_json, read_csv
from remit.errors import InputError

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
        int | None,
        typer.Option(
            "--jobs",
            help="Worker processes when each trial is fitted singly (default: all cores).",
        ),
    ] = None,
    grid: Annotated[
        str | None,
        typer.Option(
            "--grid",
            help="Design grid, e.g. 'n=100,200;delta=0.3,0.5;rho=0.25,0.5;dropout=0,0.3' "
            "(axes left out take --n, --delta, --rho and 1 - the last --retention).",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Grid table file, .csv or .json (CSV rows appear as done)."),
    ] = None,
    figure: Annotated[
        Path | None, typer.Option("--figure", help="Power-curve figure of the grid (PNG).")
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option("--resume", help="Grid table (CSV) of an earlier run: skip its points."),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", help="Run the grid on this Dask scheduler (tcp://host:port)."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", help="Run the grid on a local Dask cluster of K workers."),
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """MMRM power / sample size (Lu, Luo & Chen 2008), analytic or by simulation.

    The analytic answer is always given; with --simulate the design (analytic N, or --n) is
    also simulated: outcomes multivariate normal with the given correlation and σ, arm
    difference --delta at the last visit only, monotone dropout following --retention,
    analysis y ~ arm * visit with unstructured covariance and Satterthwaite df, all trials
    fitted together (batched; same estimates as one fit per trial).

    With --grid, --simulate trials are run at every point of the grid (total N × effect ×
    correlation × dropout; dropout grows linearly to its value at the last visit) and a tidy
    table (--out, --json) and a power-curve figure (--figure) come out. Each point's seed
    comes from --seed and its index, so --scheduler / --workers (Dask) give the same table
    as a serial run and --resume skips the points an earlier run finished.
    """
    # the statistics stack loads when the command runs, not for --help
    import numpy as np

    from remit.stats.power import ar1, compound_symmetry, power_mmrm, sample_size_mmrm
    from remit.stats.power_sim import simulate_power_mmrm

    with errors_as_exit():
        ret = _retention(retention)
        if grid is not None:
            _run_grid(
                spec=grid,
                n_visits=len(ret),
                defaults={
                    "n": [] if n_total is None else [float(n_total)],
                    "delta": [delta],
                    "rho": [rho],
                    "dropout": [round(1.0 - ret[-1], 12)],
                },
                correlation=correlation,
                sigma=sigma,
                alpha=alpha,
                n_sim=simulate,
                seed=seed,
                out=out,
                figure=figure,
                resume=resume,
                scheduler=scheduler,
                workers=workers,
                target=power,
                json_out=json_out,
            )
            return
        grid_only = {
            "--out": out,
            "--figure": figure,
            "--resume": resume,
            "--scheduler": scheduler,
            "--workers": workers,
        }
        given = [name for name, value in grid_only.items() if value is not None]
        if given:
            raise InputError(
                f"{', '.join(given)} given without --grid",
                expected="these options only with --grid",
                hint="add --grid 'n=...;delta=...' or leave them out",
            )
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
                "engine": sim.engine,
                "n_refitted": sim.n_refitted,
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
            if s["n_refitted"]:
                table.add_row("trials refitted one at a time", str(s["n_refitted"]))
            if s["n_failed"]:
                table.add_row("simulated fits that failed", str(s["n_failed"]))
        console.print(table)


_AXES = {"n": "n", "delta": "delta", "effect": "delta", "rho": "rho", "dropout": "dropout"}


def _parse_grid(spec: str, defaults: dict[str, list[float]]) -> dict[str, list[float]]:
    axes = {k: list(v) for k, v in defaults.items()}
    for part in spec.replace(" ", ";").split(";"):
        if not part.strip():
            continue
        name, eq, values = part.partition("=")
        key = _AXES.get(name.strip().lower())
        if not eq or key is None:
            raise InputError(
                f"--grid part {part.strip()!r}",
                expected="axis=values with axis one of n, delta, rho, dropout, "
                "e.g. 'n=100,200;delta=0.5'",
            )
        try:
            axes[key] = [float(v) for v in values.split(",") if v.strip()]
        except ValueError:
            raise InputError(
                f"--grid {name.strip()}={values!r} is not a list of numbers",
                expected="comma-separated numbers, e.g. n=100,150,200",
            ) from None
    if not axes["n"]:
        raise InputError(
            "the grid has no total sample size",
            expected="n=... in --grid, or --n",
            hint="e.g. --grid 'n=100,150,200;delta=0.5'",
        )
    bad_n = [v for v in axes["n"] if v != int(v)]
    if bad_n:
        raise InputError(f"--grid n values {bad_n}", expected="whole numbers of subjects")
    return axes


def _run_grid(
    *,
    spec: str,
    n_visits: int,
    defaults: dict[str, list[float]],
    correlation: str,
    sigma: float,
    alpha: float,
    n_sim: int,
    seed: int | None,
    out: Path | None,
    figure: Path | None,
    resume: Path | None,
    scheduler: str | None,
    workers: int | None,
    target: float,
    json_out: bool,
) -> None:
    import contextlib

    import numpy as np

    from remit.stats.power_grid import GRID_COLUMNS, design_grid, run_power_grid

    if n_sim < 1:
        raise InputError(
            f"--simulate {n_sim} with --grid",
            expected="the number of trials per grid point, e.g. --simulate 500",
        )
    if scheduler is not None and workers is not None:
        raise InputError(
            "--scheduler and --workers given together",
            expected="a remote scheduler (--scheduler) or a local cluster (--workers K)",
        )
    if out is not None and out.suffix.lower() not in (".csv", ".json"):
        raise InputError(f"--out {str(out)!r}", expected="a file name ending in .csv or .json")
    axes = _parse_grid(spec, defaults)
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2**63))  # type: ignore[operator]
    points = design_grid(
        [int(v) for v in axes["n"]],
        axes["delta"],
        axes["rho"],
        axes["dropout"],
        correlation=correlation,
        sigma=sigma,
        n_visits=n_visits,
        alpha=alpha,
        n_sim=n_sim,
        seed=seed,
    )
    previous = None
    if resume is not None and resume.exists():
        previous = read_csv(resume, expected="the grid table (CSV) of an earlier run")
    elif resume is not None:
        raise InputError(
            f"--resume {str(resume)!r} does not exist",
            expected="the CSV table an earlier grid run wrote with --out",
        )
    stream = None
    if out is not None and out.suffix.lower() == ".csv":
        # rows are appended as points finish, so an interrupted run can be resumed from --out
        stream = out.open("w", encoding="utf-8")
        stream.write(",".join(GRID_COLUMNS) + "\n")
        if previous is not None:
            previous.loc[:, list(GRID_COLUMNS)].to_csv(stream, header=False, index=False)
        stream.flush()
    with contextlib.ExitStack() as stack:
        if stream is not None:
            stack.callback(stream.close)
        mapper = None
        if scheduler is not None or workers is not None:
            from remit.simulate.power_grid import dask_map

            mapper = stack.enter_context(dask_map(scheduler, workers=workers))
        bar = stack.enter_context(
            Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=console,
                transient=True,
                disable=json_out,
            )
        )
        done_before = 0 if previous is None else len(previous)
        task = bar.add_task("grid points", total=len(points), completed=done_before)

        def on_row(row: dict[str, Any]) -> None:
            if stream is not None:
                stream.write(",".join(str(row[c]) for c in GRID_COLUMNS) + "\n")
                stream.flush()
            bar.advance(task)

        result = run_power_grid(
            points, seed=seed, map_points=mapper, previous=previous, on_row=on_row
        )
    table = result.table
    if out is not None:
        if out.suffix.lower() == ".csv":
            table.to_csv(out, index=False)
        else:
            import json

            out.write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
    if figure is not None:
        from remit.reports.figures.power_curve import save_power_curve

        save_power_curve(table, figure, target=target)
    if json_out:
        print_json(result.to_dict())
        return
    shown = Table(
        "N",
        "effect",
        "rho",
        "dropout",
        "power",
        "MC SE",
        "analytic",
        "failed",
        title=f"Simulated MMRM power, {n_sim} trials per point (seed {seed})",
    )
    for row in table.itertuples(index=False):
        shown.add_row(
            str(row.n_total),
            f"{row.effect:g}",
            f"{row.rho:g}",
            f"{row.dropout:g}",
            f"{row.power:.4f}",
            f"{row.mc_se:.4f}",
            f"{row.analytic_power:.4f}",
            str(row.n_failed),
        )
    console.print(shown)
    if result.n_resumed:
        console.print(f"{result.n_resumed} point(s) taken from {resume}")
