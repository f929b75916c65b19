"""From a long data frame and a formula to the arrays an MMRM fit needs.

Categorical columns become factors with levels sorted as R's ``factor()`` sorts them (numbers
numerically, text alphabetically) unless the column already is a pandas ``Categorical``;
contrasts are treatment contrasts with the first level as reference. Rows with a missing
response, covariate, subject, visit or weight are dropped and reported.
"""

from __future__ import annotations

import functools
import itertools
import re
import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from remit.errors import DataWarning, StatsError

Array = NDArray[np.float64]
IntArray = NDArray[np.intp]


@dataclass(frozen=True)
class Design:
    """Everything an MMRM fit needs, rows sorted by covariance group, subject and visit."""

    formula: str
    response: str
    y: Array
    X: Array
    terms: tuple[str, ...]
    aliased: tuple[str, ...]
    subject_codes: IntArray
    subjects: tuple[Hashable, ...]
    visit_codes: IntArray
    visits: tuple[Hashable, ...]
    group_codes: IntArray
    groups: tuple[Hashable, ...]
    covariance_by: str | None
    weights: Array | None
    dropped_rows: tuple[Hashable, ...]
    data: pd.DataFrame = field(repr=False)
    model_spec: Any = field(repr=False)
    keep: IntArray = field(repr=False)
    factors: dict[str, tuple[Hashable, ...]] = field(repr=False)
    covariates: tuple[str, ...] = field(repr=False)
    subject: str = ""
    visit: str = ""
    visit_coordinates: Array | None = field(default=None, repr=False)  # (visits, q)
    row_coordinates: Array | None = field(default=None, repr=False)  # (rows, q)

    @property
    def n_obs(self) -> int:
        return int(self.y.size)

    @property
    def n_subjects(self) -> int:
        return len(self.subjects)

    def rows(self, frame: pd.DataFrame) -> Array:
        """Design rows (kept columns only) of the fixed effects for new data ``frame``."""
        mm = self.model_spec.get_model_matrix(frame)
        return np.asarray(mm, dtype=float)[:, self.keep]


_BRACKET = re.compile(r"\[(?:T\.)?(.*?)\]")


def r_style(name: str) -> str:
    """Column name as R prints it: ``VISIT[T.5]`` → ``VISIT5``, ``Intercept`` → ``(Intercept)``.

    Examples
    --------
    >>> r_style("THERAPY[T.PLACEBO]:VISIT[T.7]")
    'THERAPYPLACEBO:VISIT7'
    """
    if name == "Intercept":
        return "(Intercept)"
    return _BRACKET.sub(lambda m: m.group(1), name)


def _sorted_levels(values: pd.Series) -> list[Hashable]:
    uniq = pd.unique(values.dropna())
    try:
        return sorted(uniq.tolist())
    except TypeError:
        return sorted(uniq.tolist(), key=str)


def _as_factor(series: pd.Series, levels: Sequence[Hashable] | None = None) -> pd.Series:
    if isinstance(series.dtype, pd.CategoricalDtype) and levels is None:
        return series.cat.remove_unused_categories()
    if levels is None:
        levels = _sorted_levels(series)
    cats = pd.Index(list(levels))
    if cats.is_unique and not isinstance(series.dtype, pd.CategoricalDtype):
        # codes by lookup: what pd.Categorical(series, categories) does, without its checks
        codes = cats.get_indexer(series)  # type: ignore[arg-type]  # any array-like works
        return pd.Series(pd.Categorical.from_codes(codes, categories=cats), index=series.index)
    return pd.Series(pd.Categorical(series, categories=list(levels)), index=series.index)


@functools.lru_cache(maxsize=256)
def _parse(formula: str) -> Any:
    # Formulas are parsed once per process: repeated fits (simulations, sensitivity
    # analyses) reuse the parsed object, which formulaic does not modify.
    from formulaic import Formula

    try:
        return Formula(formula)
    except Exception as exc:  # formulaic raises several exception types
        raise StatsError(
            f"formula {formula!r} cannot be parsed: {exc}",
            expected="an R-style formula such as 'y ~ arm * visit + baseline'",
        ) from None


def formula_variables(formula: str) -> tuple[str, ...]:
    """The columns the fixed-effects side of an R-style formula uses, sorted.

    ``formula`` may be a whole formula (``"y ~ arm * visit"``) or its right-hand side only
    (``"visit+arm"``); spacing and the way terms are written do not matter. This is the
    parser :func:`build_design` uses, so a caller deciding from a formula (e.g. whether it
    models ``arm``) reads it exactly as the fit will.

    Examples
    --------
    >>> formula_variables("visit+arm")
    ('arm', 'visit')
    >>> formula_variables("value ~ arm:visit + baseline")
    ('arm', 'baseline', 'visit')
    """
    parsed = _parse(formula)
    side = parsed.rhs if "~" in formula else parsed
    return tuple(sorted(str(v) for v in side.required_variables))


def formula_without(rhs: str, variable: str) -> str:
    """The right-hand side ``rhs`` without every term that involves ``variable``.

    ``*`` is expanded first (``arm * visit`` is ``arm + visit + arm:visit``), so removing
    ``arm`` keeps ``visit``; the terms left are written joined by ``+`` in the parser's
    order. An empty string when no term is left. The same parser as :func:`build_design`.

    Examples
    --------
    >>> formula_without("baseline + arm * visit", "arm")
    'baseline + visit'
    >>> formula_without("arm:visit + visit", "visit")
    ''
    """
    parsed = _parse(rhs)
    kept = [
        str(term)
        for term in parsed
        if str(term) != "1" and variable not in {str(f) for f in term.factors}
    ]
    return " + ".join(kept)


def _formula_variables(formula: str) -> tuple[str, list[str]]:
    parsed = _parse(formula)
    if "~" not in formula:
        raise StatsError(
            f"formula {formula!r} has no response",
            expected="'response ~ terms'",
            hint="put the response column left of '~'",
        )
    lhs = sorted(str(v) for v in parsed.lhs.required_variables)
    rhs = sorted(str(v) for v in parsed.rhs.required_variables)
    if len(lhs) != 1:
        raise StatsError(
            f"formula {formula!r} must have exactly one response column, found {lhs}",
            expected="'response ~ terms'",
        )
    return lhs[0], rhs


def build_design(
    data: pd.DataFrame,
    formula: str,
    *,
    subject: str,
    visit: str,
    covariance_by: str | None = None,
    weights: str | None = None,
    visit_levels: Sequence[Hashable] | None = None,
    coordinates: str | Sequence[str] | None = None,
    force_factors: Sequence[str] = (),
) -> Design:
    """Check the data and build the fixed-effects design of an MMRM.

    Parameters
    ----------
    data
        Long format: one row per subject and visit.
    formula
        R-style formula of the fixed effects, e.g. ``"y ~ arm * visit + baseline"``.
    subject, visit
        Columns identifying the subject and the visit (the visit is a factor).
    covariance_by
        Column whose levels get separate covariance matrices (constant within a subject).
    weights
        Column of positive weights.
    visit_levels
        Order of the visits; default sorted like R's ``factor()``.
    coordinates
        Numeric column(s) with the position (time) of each observation, for spatial covariance
        structures (Euclidean distance when several); when they vary within a visit level each
        subject's Σ_i comes from its own positions.
    force_factors
        Formula columns to treat as factors even when numeric (e.g. an arm coded 0/1).

    Returns
    -------
    Design
        The design.

    Examples
    --------
    >>> df = pd.DataFrame({"id": [1, 1, 2, 2, 3, 3], "t": ["a", "b"] * 3,
    ...                    "y": [1.0, 2.0, 1.5, 2.5, 0.5, 2.2]})
    >>> d = build_design(df, "y ~ t", subject="id", visit="t")
    >>> d.terms
    ('(Intercept)', 'tb')
    """

    if not isinstance(data, pd.DataFrame):
        raise StatsError(
            f"data must be a pandas DataFrame, got {type(data).__name__}",
            expected="a long-format DataFrame",
        )
    response, rhs_vars = _formula_variables(formula)
    wanted = [response, *rhs_vars, subject, visit]
    if covariance_by is not None:
        wanted.append(covariance_by)
    if weights is not None:
        wanted.append(weights)
    coord_cols = [coordinates] if isinstance(coordinates, str) else list(coordinates or [])
    wanted.extend(coord_cols)
    missing = [c for c in dict.fromkeys(wanted) if c not in data.columns]
    if missing:
        raise StatsError(
            f"column(s) {missing} not found in the data",
            expected="one of " + ", ".join(map(str, data.columns)),
            hint="check the spelling of the formula and the subject/visit arguments",
        )
    columns = list(dict.fromkeys(wanted))
    frame = data.loc[:, columns].copy()

    # visit as factor (its levels index Σ)
    if visit_levels is not None:
        levels = list(visit_levels)
        unknown = sorted(set(frame[visit].dropna().unique()) - set(levels), key=str)
        if unknown:
            raise StatsError(
                f"visit column {visit!r} has values {unknown} not in visit_levels",
                expected="visit_levels listing every visit in the data",
            )
        frame[visit] = _as_factor(frame[visit], levels)
    else:
        frame[visit] = _as_factor(frame[visit])

    declared_visits = list(frame[visit].cat.categories)
    factor_cols: list[str] = []
    for col in columns:
        if col in (response, subject, weights) or col == visit or col in coord_cols:
            continue
        series = frame[col]
        if (
            col in force_factors
            or isinstance(series.dtype, pd.CategoricalDtype)
            or series.dtype == object
            or pd.api.types.is_string_dtype(series)
            or pd.api.types.is_bool_dtype(series)
        ):
            frame[col] = _as_factor(series)
            factor_cols.append(col)
    if visit in rhs_vars:
        factor_cols.append(visit)

    if not pd.api.types.is_numeric_dtype(frame[response]):
        raise StatsError(
            f"response column {response!r} is not numeric (dtype {frame[response].dtype})",
            expected="a numeric response",
        )

    incomplete = frame.isna().any(axis=1).to_numpy()
    dropped = tuple(data.index[incomplete].tolist())
    if dropped:
        warnings.warn(
            f"{len(dropped)} row(s) with a missing response, covariate, subject, visit or "
            f"weight were left out of the MMRM (their row labels are in result.dropped_rows)",
            DataWarning,
            stacklevel=3,
        )
    frame = frame.loc[~incomplete]
    if frame.empty:
        raise StatsError(
            "no complete rows remain for the MMRM",
            expected="rows with the response and every covariate present",
        )
    for col in factor_cols:
        frame[col] = frame[col].cat.remove_unused_categories()
    frame[visit] = frame[visit].cat.remove_unused_categories()
    visits = tuple(frame[visit].cat.categories.tolist())
    unused = [v for v in declared_visits if v not in visits]
    if unused:
        warnings.warn(
            f"visit level(s) {unused} have no complete rows and were left out of Σ",
            DataWarning,
            stacklevel=3,
        )
    if len(visits) < 2:
        raise StatsError(
            f"visit column {visit!r} has {len(visits)} level(s) among complete rows",
            expected="at least two visits",
            hint="use an ordinary linear model for a single visit",
        )

    if weights is not None:
        w = frame[weights].to_numpy(dtype=float)
        if np.any(w <= 0) or not np.all(np.isfinite(w)):
            raise StatsError(
                f"weights column {weights!r} has non-positive or infinite values",
                expected="strictly positive finite weights",
            )

    visit_coords: Array | None = None
    if coord_cols:
        for col in coord_cols:
            values = frame[col]
            if not pd.api.types.is_numeric_dtype(values) or not np.all(
                np.isfinite(values.to_numpy(dtype=float))
            ):
                raise StatsError(
                    f"coordinates column {col!r} is not numeric and finite",
                    expected="the numeric time (position) of each observation",
                )
        # one position per visit level, or (if they vary) the mean position of each visit
        per_visit = frame.groupby(visit, observed=True)[coord_cols].mean()
        visit_coords = per_visit.loc[list(visits)].to_numpy(dtype=float)

    # sort by covariance group, subject, visit
    subj_levels = _sorted_levels(frame[subject])
    subj_codes = pd.Categorical(frame[subject], categories=subj_levels).codes.astype(np.intp)
    visit_codes = frame[visit].cat.codes.to_numpy().astype(np.intp)
    if covariance_by is not None:
        frame[covariance_by] = _as_factor(frame[covariance_by])
        grp_levels = tuple(frame[covariance_by].cat.categories.tolist())
        grp_codes = frame[covariance_by].cat.codes.to_numpy().astype(np.intp)
        per_subject = pd.Series(grp_codes).groupby(subj_codes).nunique()
        if (per_subject > 1).any():
            raise StatsError(
                f"covariance_by column {covariance_by!r} changes within a subject",
                expected="a column constant within each subject (e.g. the arm)",
            )
    else:
        grp_levels = ("all",)
        grp_codes = np.zeros(len(frame), dtype=np.intp)

    dup = pd.Series(subj_codes * len(visits) + visit_codes).duplicated()
    if dup.any():
        first = frame.loc[dup.to_numpy(), [subject, visit]].iloc[0].tolist()
        raise StatsError(
            f"subject {first[0]!r} has more than one row at visit {first[1]!r}",
            expected="at most one row per subject and visit",
            hint="aggregate or remove duplicate rows first",
        )
    order = np.lexsort((visit_codes, subj_codes, grp_codes))
    frame = frame.iloc[order]
    subj_codes = subj_codes[order]
    visit_codes = visit_codes[order]
    grp_codes = grp_codes[order]
    row_coords: Array | None = None
    if visit_coords is not None:
        positions = frame[coord_cols].to_numpy(dtype=float)
        if np.any(positions != visit_coords[visit_codes]):
            row_coords = positions  # subject-specific positions: Σ_i from each one's distances

    rhs = formula.split("~", 1)[1]
    X_full, names, model_spec = _materialise(formula, rhs, frame)
    keep = _independent_columns(X_full)
    aliased = tuple(n for i, n in enumerate(names) if i not in set(keep.tolist()))
    if aliased:
        warnings.warn(
            f"fixed-effect column(s) {list(aliased)} are linear combinations of earlier ones "
            "and were dropped (aliased)",
            DataWarning,
            stacklevel=3,
        )
    X = X_full[:, keep]
    y = frame[response].to_numpy(dtype=float)
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(X))):
        raise StatsError(
            "the response or a covariate has infinite values",
            expected="finite numbers (missing values may be left empty)",
            hint="replace inf/-inf by a value or by NaN",
        )
    w_used = frame[weights].to_numpy(dtype=float) if weights is not None else None

    covariates = tuple(
        v for v in rhs_vars if v not in factor_cols and pd.api.types.is_numeric_dtype(frame[v])
    )
    factors = {c: tuple(frame[c].cat.categories.tolist()) for c in dict.fromkeys(factor_cols)}
    # subjects that remain
    used = np.unique(subj_codes)
    remap = np.full(len(subj_levels), -1, dtype=np.intp)
    remap[used] = np.arange(used.size)
    subjects = tuple(subj_levels[i] for i in used)
    return Design(
        formula=formula,
        response=response,
        y=y,
        X=X,
        terms=tuple(names[i] for i in keep),
        aliased=aliased,
        subject_codes=remap[subj_codes],
        subjects=subjects,
        visit_codes=visit_codes,
        visits=visits,
        group_codes=grp_codes,
        groups=grp_levels,
        covariance_by=covariance_by,
        weights=w_used,
        dropped_rows=dropped,
        data=frame,
        model_spec=model_spec,
        keep=keep,
        factors=factors,
        covariates=covariates,
        subject=subject,
        visit=visit,
        visit_coordinates=visit_coords,
        row_coordinates=row_coords,
    )


@dataclass(frozen=True)
class _Recipe:
    """How to rebuild formulaic's model matrix for data with the same columns and levels.

    Each column is a product of (variable, level) indicators and at most one numeric
    variable (level ``None``); names and the model spec are formulaic's own.
    """

    columns: tuple[tuple[tuple[str, Hashable | None], ...], ...]
    names: tuple[str, ...]
    spec: Any


_RECIPES: dict[tuple[Any, ...], _Recipe | None] = {}


def _recipe_key(rhs: str, frame: pd.DataFrame) -> tuple[Any, ...]:
    cols = []
    for name in frame.columns:
        dtype = frame[name].dtype
        if isinstance(dtype, pd.CategoricalDtype):
            cols.append((name, "category", tuple(dtype.categories.tolist())))
        else:
            cols.append((name, str(dtype), ()))
    return (rhs.strip(), tuple(cols))


def _make_recipe(mm: Any, frame: pd.DataFrame) -> _Recipe | None:
    """The recipe of formulaic's matrix ``mm``, or None when a term is not a plain product."""
    spec = mm.model_spec
    columns: list[tuple[tuple[str, Hashable | None], ...]] = []
    try:
        structure = list(spec.structure)
        encoders = dict(spec.encoder_state)
    except (AttributeError, TypeError):  # pragma: no cover - another formulaic layout
        return None
    for _term, scoped_terms, term_columns in structure:
        combos: list[tuple[tuple[str, Hashable | None], ...]] = []
        for scoped in scoped_terms:
            options: list[list[tuple[str, Hashable | None]]] = []
            numeric = 0
            for sf in scoped.factors:
                name = str(sf.factor.expr)
                if name not in frame.columns or name not in encoders:
                    return None
                kind, state = encoders[name]
                kind_name = str(getattr(kind, "value", kind))
                if kind_name == "categorical":
                    levels = list(state.get("categories", []))
                    chosen = levels[1:] if sf.reduced else levels
                    options.append([(name, lvl) for lvl in chosen])
                elif kind_name == "numerical":
                    numeric += 1
                    options.append([(name, None)])
                else:
                    return None
            if numeric > 1:  # products of several numbers may round differently
                return None
            # formulaic lets the first factor of an interaction vary fastest
            combos.extend(tuple(c[::-1]) for c in itertools.product(*options[::-1]))
        if len(combos) != len(term_columns):
            return None
        columns.extend(combos)
    return _Recipe(tuple(columns), tuple(r_style(str(c)) for c in mm.columns), spec)


def _apply_recipe(recipe: _Recipe, frame: pd.DataFrame) -> Array:
    n = len(frame)
    codes: dict[str, tuple[NDArray[Any], dict[Any, int]]] = {}
    X = np.empty((n, len(recipe.columns)))
    for j, parts in enumerate(recipe.columns):
        col = np.ones(n)
        for name, level in parts:
            if level is None:
                col = col * frame[name].to_numpy(dtype=float)
                continue
            if name not in codes:
                cat = frame[name].cat
                codes[name] = (
                    cat.codes.to_numpy(),
                    {lvl: i for i, lvl in enumerate(cat.categories.tolist())},
                )
            values, index = codes[name]
            col = col * (values == index[level])
        X[:, j] = col
    return X


def _materialise(formula: str, rhs: str, frame: pd.DataFrame) -> tuple[Array, list[str], Any]:
    """Model matrix, R-style column names and formulaic's model spec of ``rhs`` on ``frame``.

    The first time a formula meets data with given columns, dtypes and factor levels, formulaic
    builds the matrix and a recipe of it is kept (only when rebuilding it from the recipe
    gives exactly formulaic's matrix); later fits of such data — a simulation's thousands of
    trials, a bootstrap — rebuild it from the recipe, which is much cheaper.
    """
    key = _recipe_key(rhs, frame)
    recipe = _RECIPES.get(key)
    if recipe is not None:
        return _apply_recipe(recipe, frame), list(recipe.names), recipe.spec
    from formulaic import model_matrix

    try:
        mm = model_matrix(_parse(rhs), frame, na_action="raise")
    except Exception as exc:  # formulaic raises many exception types
        raise StatsError(
            f"formula {formula!r} cannot be evaluated on the data: {exc}",
            expected="terms built from existing columns",
        ) from None
    X_full = np.asarray(mm, dtype=float)
    names = [r_style(str(c)) for c in mm.columns]
    if key not in _RECIPES:
        try:
            made = _make_recipe(mm, frame)
        except (AttributeError, TypeError, ValueError):  # pragma: no cover - formulaic layout
            made = None
        if made is not None and not np.array_equal(_apply_recipe(made, frame), X_full):
            made = None
        if len(_RECIPES) > 256:
            _RECIPES.clear()
        _RECIPES[key] = made
    return X_full, names, mm.model_spec


def _independent_columns(X: Array, tol: float = 1e-7) -> IntArray:
    """Indices of columns kept when later columns that depend on earlier ones are dropped.

    The columns of R (X = QR) have the geometry of those of X in p dimensions; each is
    orthogonalised (twice, for stability) against the kept ones and kept when what remains
    exceeds ``tol`` times its norm — the columns R's ``lm`` keeps.
    """
    p = X.shape[1]
    if p == 0:
        return np.zeros(0, dtype=np.intp)
    r = np.asarray(np.linalg.qr(X, mode="r"), dtype=float)
    basis = np.zeros((r.shape[0], 0))
    keep: list[int] = []
    for j in range(p):
        v = r[:, j].copy()
        norm = float(np.linalg.norm(v))
        for _ in range(2):
            v -= basis @ (basis.T @ v)
        rest = float(np.linalg.norm(v))
        if norm > 0 and rest > tol * norm:
            keep.append(j)
            basis = np.column_stack([basis, v / rest])
    return np.array(keep, dtype=np.intp)
