"""``remit stats rbmi`` and ``remit stats tipping-point``, thin over :mod:`remit.stats.rbmi`.

They join the ``stats`` group of :mod:`remit.cli.stats_cmd` through :func:`register`.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from remit.cli.common import JsonOption, console, errors_as_exit, print_json, read_csv
from remit.errors import InputError
from remit.stats.choices import STRATEGIES

if TYPE_CHECKING:  # the statistics stack loads when a command runs, not for --help
    import pandas as pd

    from remit.stats.rbmi import RbmiResult

METHODS = ("condmean", "bayes")
RESAMPLING = ("jackknife", "bootstrap")

DataArg = Annotated[Path, typer.Argument(help="CSV file, one row per subject and visit.")]
FormulaOption = Annotated[
    str,
    typer.Option(
        "--formula",
        "-f",
        help="Response and baseline covariates, R style, e.g. 'chg ~ arm*visit + base'. The "
        "imputation model is always group*visit + covariate*visit (unstructured Σ) and the "
        "analysis an ANCOVA per visit (response ~ group + covariates).",
    ),
]
SubjectOption = Annotated[str, typer.Option("--subject", "-s", help="Subject id column.")]
VisitOption = Annotated[str, typer.Option("--visit", "-v", help="Visit column (sorted order).")]
GroupOption = Annotated[
    str | None,
    typer.Option("--group", "-g", help="Arm column (leave out for one arm: MAR and delta only)."),
]
ReferenceOption = Annotated[
    str | None,
    typer.Option("--reference", "-r", help="Reference (control) arm: a level of --group."),
]
StrategyOption = Annotated[
    str,
    typer.Option(
        "--strategy",
        help="Imputation after dropout: mar, j2r (jump to reference), cr (copy reference) or "
        "cir (copy increments in reference).",
    ),
]
StrategyColumnOption = Annotated[
    str | None,
    typer.Option(
        "--strategy-column",
        help="Column giving each subject's own strategy (mar/j2r/cr/cir; empty cells: "
        "--strategy), e.g. from the intercurrent event that ended follow-up.",
    ),
]
MethodOption = Annotated[
    str,
    typer.Option(
        "--method",
        help="condmean (conditional mean imputation, jackknife or bootstrap) or bayes "
        "(approximate-Bayesian multiple imputation with Rubin's rules).",
    ),
]
ResamplingOption = Annotated[
    str,
    typer.Option("--resampling", help="condmean only: jackknife (default) or bootstrap."),
]
SamplesOption = Annotated[
    int | None,
    typer.Option(
        "--samples",
        "-n",
        help="Imputed data sets (bayes, default 200) or bootstrap samples (default 1000).",
    ),
]
SeedOption = Annotated[
    int | None,
    typer.Option("--seed", help="Seed of the draws; the same seed gives the same result."),
]
AlphaOption = Annotated[
    float, typer.Option("--alpha", help="1 − confidence level of the intervals.")
]


def _level(frame: pd.DataFrame, column: str, value: str, option: str) -> Hashable:
    """Match a command-line string to a value of ``column`` (which may hold numbers)."""
    if column not in frame.columns:
        raise InputError(
            f"column {column!r} is not in the data",
            expected="one of " + ", ".join(map(str, frame.columns)),
        )
    import pandas as pd

    levels = pd.unique(frame[column].dropna()).tolist()
    for level in levels:
        if str(level) == value:
            return plain_level(level)
    raise InputError(
        f"{option} {value!r} is not a value of {column!r}",
        expected="one of " + ", ".join(sorted(map(str, levels))),
    )


def plain_level(level: Any) -> Hashable:
    """A numpy scalar as the Python value the stats functions compare with."""
    item = getattr(level, "item", None)
    return item() if callable(item) else level  # type: ignore[no-any-return]


def _arms(frame: pd.DataFrame, group: str | None, reference: str | None) -> Hashable:
    """The reference level, or ``None`` for one arm (no --group)."""
    if group is None:
        if reference is not None:
            raise InputError(
                f"--reference {reference!r} given without --group",
                expected="--group naming the arm column, or neither for a single arm",
            )
        return None
    if reference is None:
        raise InputError(
            "--group given without --reference",
            expected="--reference naming the control arm, a level of --group",
        )
    return _level(frame, group, reference, "--reference")


def _model(
    frame: pd.DataFrame, formula: str, group: str | None, visit: str
) -> tuple[str, list[str]]:
    """Response and covariates named by ``formula``; every column must exist."""
    from remit.stats.mmrm import formula_variables

    if "~" not in formula:
        raise InputError(
            f"--formula {formula!r} has no response",
            expected="'response ~ terms', e.g. 'chg ~ arm*visit + base'",
        )
    lhs = formula_variables(formula.split("~", 1)[0])
    if len(lhs) != 1:
        raise InputError(
            f"--formula {formula!r} must have one response column, found {list(lhs)}",
            expected="'response ~ terms'",
        )
    rhs = formula_variables(formula)
    named = (*lhs, *rhs, *([] if group is None else [group]), visit)
    missing = [c for c in named if c not in frame.columns]
    if missing:
        raise InputError(
            f"column(s) {sorted(set(missing))} not in the data",
            expected="one of " + ", ".join(map(str, frame.columns)),
            hint="check --formula, --group and --visit against the CSV header",
        )
    return lhs[0], [c for c in rhs if c not in (group, visit)]


def _strategy(
    frame: pd.DataFrame, subject: str, strategy: str, column: str | None
) -> str | dict[Hashable, str]:
    names = [s.lower() for s in STRATEGIES]
    if strategy.lower() not in names:
        raise InputError(
            f"--strategy {strategy!r} is not known", expected="one of " + ", ".join(names)
        )
    if column is None:
        return strategy.upper()
    if column not in frame.columns:
        raise InputError(
            f"--strategy-column {column!r} is not in the data",
            expected="one of " + ", ".join(map(str, frame.columns)),
        )
    given = frame[[subject, column]].dropna()
    given = given[given[column].astype(str).str.strip() != ""]
    per_subject = given.groupby(subject)[column].agg(lambda s: sorted(set(map(str, s))))
    out: dict[Hashable, str] = {}
    for who, values in per_subject.items():
        if len(values) > 1:
            raise InputError(
                f"subject {who!r} has strategies {values} in {column!r}",
                expected="one strategy per subject",
            )
        if values[0].lower() not in names:
            raise InputError(
                f"subject {who!r} has strategy {values[0]!r} in {column!r}",
                expected="one of " + ", ".join(names),
            )
        out[plain_level(who)] = values[0].upper()
    import pandas as pd

    for who in pd.unique(frame[subject]):
        out.setdefault(plain_level(who), strategy.upper())
    return out


def _method(method: str, resampling: str, samples: int | None) -> tuple[str, int]:
    if method not in METHODS:
        raise InputError(f"--method {method!r} is not known", expected="condmean or bayes")
    if resampling not in RESAMPLING:
        raise InputError(
            f"--resampling {resampling!r} is not known", expected="jackknife or bootstrap"
        )
    if samples is not None and samples < 2:
        raise InputError(f"--samples {samples}", expected="an integer ≥ 2")
    if method == "bayes":
        return "bayes", 200 if samples is None else samples
    return resampling, 1000 if samples is None else samples


def _fmt(value: Any, column: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if not isinstance(value, float):
        return str(value)
    if column == "p":
        return f"{value:.3g}" if value >= 1e-4 else "<0.0001"
    if column in ("df", "delta"):
        return "∞" if math.isinf(value) else f"{value:.4g}"
    return f"{value:.4f}"


def _print(title: str, rows: list[dict[str, Any]], columns: list[str]) -> None:
    table = Table(title=title, title_justify="left")
    for col in columns:
        table.add_column(col, justify="left" if col in ("visit", "contrast") else "right")
    for row in rows:
        table.add_row(*(_fmt(row.get(c), c) for c in columns))
    console.print(table)


def rbmi(
    data: DataArg,
    formula: FormulaOption,
    subject: SubjectOption,
    visit: VisitOption,
    group: GroupOption = None,
    reference: ReferenceOption = None,
    strategy: StrategyOption = "mar",
    strategy_column: StrategyColumnOption = None,
    delta: Annotated[
        float | None,
        typer.Option("--delta", help="Added to imputed values after dropout in the active arm(s)."),
    ] = None,
    method: MethodOption = "condmean",
    resampling: ResamplingOption = "jackknife",
    samples: SamplesOption = None,
    seed: SeedOption = None,
    alpha: AlphaOption = 0.05,
    json_out: JsonOption = False,
) -> None:
    """Reference-based imputation (MAR, J2R, CR, CIR, delta): treatment differences per visit.

    Conditional mean imputation with jackknife or bootstrap, or approximate-Bayesian multiple
    imputation pooled by Rubin's rules; each visit's difference with SE, CI and p.
    """
    from remit.stats.rbmi import rbmi_bayes, rbmi_condmean

    with errors_as_exit():
        frame = read_csv(data, "a CSV file with one row per subject and visit")
        y, covariates = _model(frame, formula, group, visit)
        ref = _arms(frame, group, reference)
        plan = _strategy(frame, subject, strategy, strategy_column)
        how, n = _method(method, resampling, samples)
        common: dict[str, Any] = {
            "y": y,
            "subject": subject,
            "visit": visit,
            "group": group,
            "reference": ref,
            "covariates": covariates,
            "strategy": plan,
            "delta": delta,
            "seed": seed,
            "alpha": alpha,
        }
        result: RbmiResult
        if how == "bayes":
            result = rbmi_bayes(frame, n_samples=n, **common)
        else:
            result = rbmi_condmean(frame, method=how, n_boot=n, **common)  # type: ignore[arg-type]
        payload = result.to_dict()
        payload.pop("delta")
        payload["delta"] = delta
        means = visit if group is None else f"{group}*{visit}"
        payload["imputation_model"] = f"{y} ~ {means}" + "".join(
            f" + {c}*{visit}" for c in covariates
        )
        payload["analysis_model"] = (
            f"mean of {y}"
            if group is None
            else f"{y} ~ {group}" + "".join(f" + {c}" for c in covariates)
        )
        if json_out:
            print_json(payload)
            return
        console.print(result.summary().splitlines()[0], highlight=False, soft_wrap=True)
        console.print(
            f"imputation model {payload['imputation_model']} (unstructured Σ, REML); "
            f"analysis {payload['analysis_model']} at each visit"
            + ("" if delta is None else f"; delta {delta:g}")
            + ("" if result.seed is None else f"; seed {result.seed}"),
            highlight=False,
            soft_wrap=True,
        )
        _print(
            "Treatment differences by visit",
            payload["table"],
            ["visit", "contrast", "estimate", "se", "ci_low", "ci_high", "p", "df"],
        )


def _deltas(text: str) -> list[float]:
    """``"0,-1,-2"`` or ``"start:stop:step"`` (stop included)."""
    try:
        if ":" in text:
            parts = [float(p) for p in text.split(":")]
            if len(parts) != 3 or parts[2] == 0:
                raise ValueError
            start, stop, step = parts
            if (stop - start) * step < 0:
                raise ValueError
            count = math.floor((stop - start) / step + 1e-9) + 1
            grid = [start + i * step for i in range(count)]
        else:
            grid = [float(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise InputError(
            f"--deltas {text!r} is not a grid",
            expected="comma-separated numbers or start:stop:step, e.g. '0:-10:-0.5'",
            hint="the step must lead from start to stop",
        ) from None
    if not grid or not all(math.isfinite(d) for d in grid):
        raise InputError(f"--deltas {text!r} is empty or not finite", expected="finite numbers")
    if len(grid) > 10_000:
        raise InputError(f"--deltas {text!r} has {len(grid)} points", expected="at most 10000")
    return grid


def tipping(
    data: DataArg,
    formula: FormulaOption,
    subject: SubjectOption,
    visit: VisitOption,
    deltas: Annotated[
        str,
        typer.Option(
            "--deltas",
            help="Grid tried in order, 'start:stop:step' (stop included) or comma-separated; "
            "run it from 0 towards less benefit for the active arm (e.g. '0:-10:-0.5' when the "
            "arm's effect is positive).",
        ),
    ],
    group: GroupOption = None,
    reference: ReferenceOption = None,
    arm: Annotated[
        str | None,
        typer.Option("--arm", help="Active arm whose imputed values move (default: the other)."),
    ] = None,
    at_visit: Annotated[
        str | None, typer.Option("--at-visit", help="Visit analysed (default: the last).")
    ] = None,
    strategy: StrategyOption = "mar",
    strategy_column: StrategyColumnOption = None,
    method: MethodOption = "condmean",
    resampling: ResamplingOption = "jackknife",
    samples: SamplesOption = None,
    seed: SeedOption = None,
    alpha: AlphaOption = 0.05,
    whole_grid: Annotated[
        bool,
        typer.Option("--whole-grid", help="Run every delta, not only up to the tipping point."),
    ] = False,
    figure: Annotated[
        Path | None,
        typer.Option("--figure", help="Write a PNG of estimate and CI against delta here."),
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Tipping-point analysis: delta-adjusted imputation over a grid until significance is lost.

    Prints the estimate, CI and p at each delta and the tipping delta (the first whose CI
    includes 0); --figure writes the curve as a PNG.
    """
    from remit.stats.rbmi import tipping_point

    with errors_as_exit():
        frame = read_csv(data, "a CSV file with one row per subject and visit")
        y, covariates = _model(frame, formula, group, visit)
        ref = _arms(frame, group, reference)
        if arm is not None and group is None:
            raise InputError(f"--arm {arm!r} given without --group", expected="--group too")
        active = None if arm is None or group is None else _level(frame, group, arm, "--arm")
        target = None if at_visit is None else _level(frame, visit, at_visit, "--at-visit")
        plan = _strategy(frame, subject, strategy, strategy_column)
        how, n = _method(method, resampling, samples)
        grid = _deltas(deltas)
        if figure is not None and figure.suffix.lower() != ".png":
            raise InputError(
                f"--figure {str(figure)!r} is not a .png file", expected="a path ending in .png"
            )
        result = tipping_point(
            frame,
            y=y,
            subject=subject,
            visit=visit,
            group=group,
            reference=ref,
            deltas=grid,
            arm=active,
            at_visit=target,
            covariates=covariates,
            strategy=plan,
            method=how,  # type: ignore[arg-type]
            n_boot=n,
            n_samples=n,
            seed=seed,
            alpha=alpha,
            stop=not whole_grid,
        )
        if figure is not None:
            from remit.reports.figures.tipping import tipping_point_figure, write_png

            write_png(tipping_point_figure(result), figure)
        payload = result.to_dict()
        payload["figure"] = None if figure is None else str(figure)
        if json_out:
            print_json(payload)
            return
        tip = "not reached" if result.tipping_delta is None else f"{result.tipping_delta:g}"
        what = "the mean" if result.reference is None else f"{result.arm} − {result.reference}"
        console.print(
            f"Tipping point ({result.strategy}, {result.method}) for {what} at visit "
            f"{result.visit}: delta {tip}",
            highlight=False,
            soft_wrap=True,
        )
        _print(
            "Estimate by delta",
            payload["table"],
            ["delta", "estimate", "se", "ci_low", "ci_high", "p"],
        )
        if figure is not None:
            console.print(f"figure written to {figure}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``rbmi`` and ``tipping-point`` to the ``stats`` command group."""
    app.command("rbmi")(rbmi)
    app.command("tipping-point")(tipping)
