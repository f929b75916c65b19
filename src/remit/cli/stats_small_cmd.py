"""``remit stats paired`` and ``remit stats proportion``, thin over :mod:`remit.stats`.

They join the ``stats`` group of :mod:`remit.cli.stats_cmd` through :func:`register`.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from remit.cli.common import JsonOption, console, errors_as_exit, print_json, read_csv
from remit.errors import DataWarning, InputError

if TYPE_CHECKING:  # the statistics stack loads when a command runs, not for --help
    import pandas as pd

ConfOption = Annotated[
    float,
    typer.Option("--conf-level", help="Coverage of the confidence intervals, e.g. 0.95."),
]


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "—" if math.isnan(value) else f"{value:.6g}"
    return str(value)


def _column(frame: pd.DataFrame, name: str, option: str, path: Path) -> pd.Series:
    if name not in frame.columns:
        raise InputError(
            f"{option} {name!r} is not a column of {path}",
            expected="one of " + ", ".join(map(str, frame.columns)),
        )
    import pandas as pd

    values = pd.to_numeric(frame[name], errors="coerce")
    bad = int((values.isna() & frame[name].notna()).sum())
    if bad:
        raise InputError(
            f"column {name!r} of {path} has {bad} values that are not numbers",
            expected="numbers (leave a cell empty for a missing value)",
        )
    return values


def paired(
    data: Annotated[Path, typer.Argument(help="CSV file with one row per participant.")],
    before: Annotated[str, typer.Option("--before", help="Column with the first measurement.")],
    after: Annotated[str, typer.Option("--after", help="Column with the second measurement.")],
    conf_level: ConfOption = 0.95,
    convention: Annotated[
        str,
        typer.Option(
            "--convention", help="Which Wilcoxon p-value is reported: R (wilcox.test) or scipy."
        ),
    ] = "R",
    json_out: JsonOption = False,
) -> None:
    """Paired t-test, Wilcoxon signed-rank, Hodges-Lehmann and effect sizes of after − before.

    Rows with a missing value in either column are dropped and counted.
    """
    from remit.stats.compare import compare_paired

    with errors_as_exit():
        frame = read_csv(data, "a CSV file with a header row")
        x = _column(frame, before, "--before", data)
        y = _column(frame, after, "--after", data)
        with warnings.catch_warnings():
            # The number of dropped pairs is part of the output; no Python warning on top.
            warnings.simplefilter("ignore", DataWarning)
            result = compare_paired(x, y, conf_level=conf_level, convention=convention)
        t, w, hl, es = result.t_test, result.wilcoxon, result.hodges_lehmann, result.effect_sizes
        payload = {
            "n": result.n,
            "n_dropped": result.n_dropped,
            "difference": "after - before",
            "conf_level": conf_level,
            "mean_difference": {
                "estimate": t.mean_difference,
                "sd": t.sd_difference,
                "ci_low": t.ci_low,
                "ci_high": t.ci_high,
            },
            "t_test": {"t": t.t, "df": t.df, "p": t.p_value},
            "wilcoxon": {
                "statistic": w.statistic,
                "n_nonzero": w.n,
                "n_zero": w.n_zero,
                "ties": w.has_ties,
                "p_exact": w.p_exact,
                "p_normal": w.p_normal,
                "p_normal_continuity": w.p_normal_continuity,
                "p": w.p_value,
                "reported": w.p_value_method,
                "convention": w.convention,
            },
            "hodges_lehmann": {
                "estimate": hl.estimate,
                "ci_low": hl.ci_low,
                "ci_high": hl.ci_high,
                "ci_method": hl.ci_method,
            },
            "effect_sizes": es.to_frame().drop(columns=["n"]).to_dict(orient="records"),
        }
        if json_out:
            print_json(payload)
            return
        dropped = f" ({result.n_dropped} incomplete dropped)" if result.n_dropped else ""
        console.print(f"[bold]{after} − {before}[/]: n = {result.n} pairs{dropped}")
        table = Table("quantity", "estimate", "CI low", "CI high", "statistic", "p", "method")
        for row in result.to_frame().to_dict(orient="records"):
            table.add_row(
                str(row["quantity"]),
                _fmt(row["estimate"]),
                _fmt(row["ci_low"]),
                _fmt(row["ci_high"]),
                _fmt(row["statistic"]),
                _fmt(row["p_value"]),
                str(row["method"]),
            )
        console.print(table)
        console.print(
            f"Wilcoxon p-values: exact {_fmt(w.p_exact)}, normal {_fmt(w.p_normal)}, "
            f"normal with continuity correction {_fmt(w.p_normal_continuity)}; "
            f"reported: [bold]{w.p_value_method}[/] ({w.convention} convention)"
        )


def proportion(
    k: Annotated[int, typer.Argument(help="Number of successes (e.g. responders).")],
    n: Annotated[int, typer.Argument(help="Number of participants.")],
    conf_level: ConfOption = 0.95,
    json_out: JsonOption = False,
) -> None:
    """A proportion K/N with Clopper-Pearson, Wilson, Jeffreys and Agresti-Coull intervals."""
    from remit.stats.proportion import proportion_ci

    with errors_as_exit():
        result = proportion_ci(k, n, conf_level=conf_level)
        if json_out:
            print_json(
                {
                    "k": k,
                    "n": n,
                    "estimate": result.estimate,
                    "conf_level": conf_level,
                    "intervals": [
                        {"method": m, "ci_low": lo, "ci_high": hi}
                        for m, (lo, hi) in result.intervals.items()
                    ],
                }
            )
            return
        table = Table("method", "estimate", "CI low", "CI high", title=f"{k} of {n}")
        for m, (lo, hi) in result.intervals.items():
            table.add_row(m, _fmt(result.estimate), _fmt(lo), _fmt(hi))
        console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``paired`` and ``proportion`` to the ``stats`` command group."""
    app.command("paired")(paired)
    app.command("proportion")(proportion)
