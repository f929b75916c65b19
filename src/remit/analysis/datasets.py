"""Analysis datasets: one row per participant (ADSL) and per participant × visit × parameter (ADQS).

Conventions (also in ``docs/analysis.md``):

- *Analysis visit order* is the protocol's visit order; visits the protocol does not know
  (e.g. unscheduled) come after, sorted by code.
- *Baseline visit of a scale*: the protocol's baseline of that scale (its ``[baseline]`` table,
  see :mod:`remit.protocol.baseline`). ``BASE`` is the value at that visit — no carrying
  forward from other visits.
- *Analysis record*: when a participant has more than one form of the same scale at one visit,
  the latest (``assessed_at``) is the analysis record (``ANL01FL = "Y"``); the others stay in
  ADQS with ``ANL01FL`` empty.
- ``CHG = AVAL − BASE`` and ``PCHG = 100 · CHG / BASE`` on records after the baseline visit
  (empty on the baseline record and before it; ``PCHG`` empty when ``BASE`` is 0).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from remit.analysis.data import TrialData
from remit.errors import InputError, NotFoundError, ScaleError
from remit.protocol import Protocol, RemissionEndpoint, ResponseEndpoint
from remit.protocol.baseline import resolve_baseline
from remit.scales import load_scale

#: Age groups of ADSL ``AGEGR1`` (lower bound inclusive, label). The protocol sets no groups.
AGE_GROUPS: tuple[tuple[float, str], ...] = (
    (0.0, "<18"),
    (18.0, "18-34"),
    (35.0, "35-49"),
    (50.0, "50-64"),
    (65.0, ">=65"),
)

# Relative tolerance of the "reduced by at least p %" comparison, so that 15 of 30 is exactly
# a 50 % reduction in floating point too.
_PCT_TOL = 1e-9


def visit_order(protocol: Protocol, codes: Any = ()) -> dict[str, int]:
    """Position of each visit code: protocol order first, then unknown codes sorted.

    Examples
    --------
    >>> from remit.protocol import load_protocol
    >>> order = visit_order(load_protocol("oslo-mdma-mdd"), ["UNS1"])
    >>> order["V3"] < order["V13"] < order["FU7"] < order["UNS1"]
    True
    """
    order = {code: i + 1 for i, code in enumerate(protocol.visit_codes)}
    extra = sorted({str(c) for c in codes} - set(order))
    for j, code in enumerate(extra):
        order[code] = len(protocol.visit_codes) + j + 1
    return order


def baseline_visits(protocol: Protocol) -> dict[str, str]:
    """The baseline visit of every scale the protocol assesses: :meth:`Protocol.baseline_visit`.

    Scales without a baseline (assessed only after the reference visit, with no ``[baseline]``
    entry) are left out.

    Examples
    --------
    >>> from remit.protocol import load_protocol
    >>> b = baseline_visits(load_protocol("oslo-mdma-mdd"))
    >>> b["madrs"], b["sds"], b["cssrs"]
    ('V3', 'V3', 'SCR')
    """
    scales = dict.fromkeys(s for visit in protocol.visits for s in visit.scales())
    for item in (*protocol.endpoints, *protocol.analysis.analyses):
        scales.update(dict.fromkeys(item.scale_refs()))
    return {s: v for s in scales if (v := resolve_baseline(protocol, s)) is not None}


def primary_visit(protocol: Protocol) -> str | None:
    """The visit of the primary endpoint (its ``to_visit`` or last visit), else ``None``.

    Examples
    --------
    >>> from remit.protocol import load_protocol
    >>> primary_visit(load_protocol("oslo-mdma-mdd"))
    'V13'
    """
    for e in protocol.endpoints:
        if e.role == "primary":
            if hasattr(e, "to_visit"):
                return str(e.to_visit)
            return str(e.visits[-1])
    return None


def follow_up_visit(protocol: Protocol) -> str | None:
    """The last visit of kind ``follow-up`` in the protocol, else ``None``.

    Examples
    --------
    >>> from remit.protocol import load_protocol
    >>> follow_up_visit(load_protocol("oslo-mdma-mdd"))
    'FU7'
    """
    codes = [v.code for v in protocol.visits if v.kind == "follow-up"]
    return codes[-1] if codes else None


def _age_group(age: float) -> str | None:
    if age is None or (isinstance(age, float) and math.isnan(age)):
        return None
    label = None
    for low, name in AGE_GROUPS:
        if age >= low:
            label = name
    return label


def _visits_done(data: TrialData) -> set[tuple[str, str]]:
    v = data.visits
    done = {
        (str(p), str(c))
        for p, c in zip(
            v.loc[v["actual_date"].notna(), "participant_id"],
            v.loc[v["actual_date"].notna(), "visit_code"],
            strict=True,
        )
    }
    s = data.scores
    done |= {(str(p), str(c)) for p, c in zip(s["participant_id"], s["visit_code"], strict=True)}
    return done


def build_adsl(data: TrialData, protocol: Protocol) -> pd.DataFrame:
    """One row per participant screened: population flags, demography, baseline scores.

    Columns: ``participant_id``, ``STUDYID``, ``USUBJID``, ``SITEID``, ``arm`` (also
    ``TRT01P``), ``SEX``, ``AGE``, ``AGEGR1`` (see :data:`AGE_GROUPS`), ``status``,
    ``screened_date``, ``enrolled_date``, ``ineligible_reasons``, ``withdrawn_reason``,
    ``simulated``; flags ``"Y"``/``"N"``: ``SCRNFL`` (screened), ``ENRLFL`` (enrolled),
    ``FASFL`` (full analysis set = enrolled), ``SAFFL`` (dosed at least once), ``COMPPFL``
    (completed the primary endpoint visit), ``COMPFUFL`` (completed the follow-up visit),
    ``UNBLNDFL`` (the blind broken for the participant in an emergency);
    ``n_doses_given``, ``first_dose_at``; and ``<scale>_total_baseline`` for every scale with a
    total, at that scale's baseline visit.

    Examples
    --------
    >>> from remit.protocol import load_protocol
    >>> adsl = build_adsl(TrialData(), load_protocol("oslo-mdma-mdd"))
    >>> len(adsl), "ENRLFL" in adsl.columns
    (0, True)
    """
    p = data.participants
    enrolled = set(data.enrolled_ids)
    doses = data.doses[data.doses["status"] == "given"]
    n_given = doses.groupby("participant_id").size()
    first_dose = doses.groupby("participant_id")["given_at"].min()
    done = _visits_done(data)
    prim = primary_visit(protocol)
    fu = follow_up_visit(protocol)
    out = pd.DataFrame(
        {
            "participant_id": p["participant_id"],
            "STUDYID": protocol.study.id,
            "USUBJID": [f"{protocol.study.id}-{pid}" for pid in p["participant_id"]],
            "SITEID": p["site"],
            "arm": p["arm"],
            "TRT01P": p["arm"],
            "SEX": p["sex"],
            "AGE": p["age_years"],
            "AGEGR1": [_age_group(a) for a in p["age_years"]],
            "status": p["status"],
            "screened_date": p["screened_date"],
            "enrolled_date": p["enrolled_date"],
            "ineligible_reasons": p["ineligible_reasons"],
            "withdrawn_reason": p["withdrawn_reason"],
            "simulated": p["simulated"],
        }
    )
    pid = out["participant_id"].astype(str)

    def flag(values: Any) -> list[str]:
        return ["Y" if bool(v) else "N" for v in values]

    out["SCRNFL"] = "Y"
    out["ENRLFL"] = flag(pid.isin(enrolled))
    out["FASFL"] = out["ENRLFL"]
    out["SAFFL"] = flag(pid.isin(set(n_given.index)))
    out["COMPPFL"] = flag([prim is not None and (x, prim) in done for x in pid])
    out["COMPFUFL"] = flag([fu is not None and (x, fu) in done for x in pid])
    # the blind broken for this participant in an emergency (the services' unblinded_at)
    unblinded = p["unblinded_at"] if "unblinded_at" in p else pd.Series(None, index=p.index)
    out["UNBLNDFL"] = flag([not pd.isna(v) for v in unblinded])
    out["n_doses_given"] = [int(n_given.get(x, 0)) for x in pid]
    out["first_dose_at"] = pd.to_datetime(
        [first_dose.get(x, pd.NaT) for x in pid], utc=True
    ).astype("datetime64[ns, UTC]")
    totals = scale_values(data, protocol, parts=("total",))
    base = totals[totals["ABLFL"] == "Y"]
    for scale in sorted(base["scale"].unique()):
        sub = base[base["scale"] == scale].set_index("participant_id")["AVAL"]
        out[f"{scale}_total_baseline"] = [float(sub.get(x, np.nan)) for x in pid]
    return out.reset_index(drop=True)


def _number(value: object) -> float | None:
    if type(value) is float:  # the usual cells first, by exact type
        return None if value != value else value
    if type(value) is int:
        return float(value)
    if isinstance(value, bool | np.bool_):
        return float(value)
    if isinstance(value, int | float | np.integer | np.floating):
        f = float(value)
        return None if math.isnan(f) else f
    return None


@dataclass(frozen=True)
class _Param:
    paramcd: str
    param: str
    label: str
    category: str


def _param_for(scale: str, part: str, code: str, labels: Mapping[str, str]) -> _Param:
    if part == "total":
        return _Param(f"{scale.upper()}TOT", f"{scale}_total", f"{scale.upper()} total", "TOTAL")
    cat = {"subscales": "SUBSCALE", "derived": "DERIVED", "items": "ITEM"}[part]
    label = labels.get(code, code)
    return _Param(
        f"{scale}_{code}".upper(),
        f"{scale}_{code}",
        f"{scale.upper()} {label}",
        cat,
    )


def _labels(scale: str) -> dict[str, str]:
    try:
        definition = load_scale(scale)
    except (ScaleError, InputError, NotFoundError, OSError):  # an unknown scale: codes only
        return {}
    labels = {i.code: i.label for i in definition.items}
    labels.update({s.code: s.label for s in definition.subscales})
    labels.update({d.name: d.label or d.name for d in getattr(definition, "derived", ())})
    return labels


def scale_values(
    data: TrialData,
    protocol: Protocol,
    *,
    parts: tuple[str, ...] = ("total", "subscales", "derived", "items"),
) -> pd.DataFrame:
    """Long table of every numeric score: one row per form × parameter, with BASE and CHG.

    This is ADQS without the endpoint criteria (see :func:`build_adqs`). ``parts`` chooses the
    parameters: scale totals, subscales, derived values (booleans as 0/1) and item answers.

    Examples
    --------
    >>> from remit.protocol import load_protocol
    >>> list(scale_values(TrialData(), load_protocol("oslo-mdma-mdd")).columns)[:5]
    ['participant_id', 'USUBJID', 'arm', 'visit_code', 'AVISIT']
    """
    known = {"total", "subscales", "derived", "items"}
    unknown = [p for p in parts if p not in known]
    if unknown:
        raise InputError(f"unknown score part(s) {unknown}", expected=", ".join(sorted(known)))
    s = data.scores
    arms = dict(zip(data.participants["participant_id"], data.participants["arm"], strict=True))
    order = visit_order(protocol, s["visit_code"].dropna())
    base_visit = baseline_visits(protocol)
    has_timepoint = "timepoint" in s.columns
    labels: dict[str, dict[str, str]] = {}
    params: dict[tuple[str, str, str], _Param] = {}
    rows: list[dict[str, Any]] = []
    for rec in s.itertuples(index=False):
        scale = str(rec.scale)
        if scale not in labels:
            labels[scale] = _labels(scale)
        values: list[tuple[str, str, float]] = []
        if "total" in parts:
            total = _number(rec.total)
            if total is not None:
                values.append(("total", "total", total))
        for part in ("subscales", "derived", "items"):
            if part not in parts:
                continue
            mapping = getattr(rec, part)
            for code in sorted(mapping):
                number = _number(mapping[code])
                if number is not None:
                    values.append((part, str(code), number))
        if not values:
            continue
        # the form's cells, the same in each of its parameters' rows: made once per form
        head = {
            "participant_id": rec.participant_id,
            "USUBJID": f"{protocol.study.id}-{rec.participant_id}",
            "arm": arms.get(rec.participant_id),
            "visit_code": rec.visit_code,
            "AVISIT": rec.visit_code,
            "AVISITN": math.nan if rec.visit_code is None else float(order[str(rec.visit_code)]),
            "study_day": rec.study_day,
            "ADY": rec.study_day,
            "ATPT": getattr(rec, "timepoint", None) if has_timepoint else None,
            "scale": scale,
            "version": rec.version,
        }
        tail = {
            "assessed_at": rec.assessed_at,
            "prorated": rec.prorated,
            "n_missing": rec.n_missing,
        }
        for part, code, value in values:
            param = params.get((scale, part, code))
            if param is None:
                param = params[(scale, part, code)] = _param_for(scale, part, code, labels[scale])
            rows.append(
                {
                    **head,
                    "PARAMCD": param.paramcd,
                    "PARAM": param.label,
                    "param": param.param,
                    "PARCAT1": param.category,
                    "AVAL": value,
                    **tail,
                }
            )
    columns = [
        "participant_id",
        "USUBJID",
        "arm",
        "visit_code",
        "AVISIT",
        "AVISITN",
        "study_day",
        "ADY",
        "ATPT",
        "scale",
        "version",
        "PARAMCD",
        "PARAM",
        "param",
        "PARCAT1",
        "AVAL",
        "assessed_at",
        "prorated",
        "n_missing",
        "ANL01FL",
        "BASEVIS",
        "ABLFL",
        "BASE",
        "CHG",
        "PCHG",
    ]
    if not rows:
        empty = pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
        for c in ("AVAL", "BASE", "CHG", "PCHG", "AVISITN", "study_day", "ADY"):
            empty[c] = empty[c].astype(float)
        return empty
    long = pd.DataFrame(rows)
    long["assessed_at"] = long["assessed_at"].astype("datetime64[ns, UTC]")
    long = long.sort_values(
        ["participant_id", "PARCAT1", "param", "AVISITN", "assessed_at"],
        kind="mergesort",
        na_position="first",
    ).reset_index(drop=True)
    long["ATPT"] = _objects(
        [None if _missing_text(t) else str(t) for t in long["ATPT"].tolist()], long.index
    )
    # the latest form of a participant × visit × timepoint × parameter is the analysis record;
    # a form recorded without a visit is kept but is not an analysis record. A parameter is
    # its part and its name: a derived value may share its name with an item (C-SSRS
    # ``actual_attempt``, MADRS ``suicidal_thoughts``) and is still another parameter.
    last = ~long.duplicated(
        ["participant_id", "visit_code", "ATPT", "PARCAT1", "param"], keep="last"
    )
    last &= long["visit_code"].notna()
    long["ANL01FL"] = _objects([_yes(x) for x in last.tolist()], long.index)
    long["BASEVIS"] = _objects([base_visit.get(sc) for sc in long["scale"].tolist()], long.index)
    is_base = last & (long["visit_code"] == long["BASEVIS"])
    long["ABLFL"] = _objects([_yes(x) for x in is_base.tolist()], long.index)
    flagged = long[long["ABLFL"] == "Y"]
    # each participant × parameter's baseline value (the last baseline record of it wins)
    base = dict(
        zip(
            zip(
                flagged["participant_id"].tolist(),
                flagged["PARCAT1"].tolist(),
                flagged["param"].tolist(),
                strict=True,
            ),
            flagged["AVAL"].tolist(),
            strict=True,
        )
    )
    keys = zip(
        long["participant_id"].tolist(),
        long["PARCAT1"].tolist(),
        long["param"].tolist(),
        strict=True,
    )
    long["BASE"] = [float(base.get(k, np.nan)) for k in keys]
    base_pos = [order.get(str(b)) if b is not None else None for b in long["BASEVIS"].tolist()]
    after = np.array(
        [
            bp is not None and n > bp
            for n, bp in zip(long["AVISITN"].tolist(), base_pos, strict=True)
        ]
    )
    chg = (long["AVAL"] - long["BASE"]).where(after)
    long["CHG"] = chg.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        pchg = 100.0 * chg / long["BASE"]
    long["PCHG"] = pchg.where(long["BASE"] != 0).astype(float)
    return long[columns]


def _missing_text(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _objects(values: list[Any], index: pd.Index) -> pd.Series:
    """A column of Python objects (``None`` stays ``None``, not NaN)."""
    return pd.Series(values, index=index, dtype=object)


def _yes(flag: object) -> str | None:
    return "Y" if bool(flag) else None


def responds(base: float, value: float, min_reduction_pct: float) -> bool | None:
    """Whether ``value`` is at least ``min_reduction_pct`` % below ``base`` (None if unknown).

    Exactly the threshold counts as a response (15 of 30 is a 50 % reduction).

    Examples
    --------
    >>> responds(30, 15, 50), responds(30, 15.5, 50), responds(0, 0, 50)
    (True, False, None)
    """
    if _missing(base) or _missing(value) or base <= 0:
        return None
    reduction = 100.0 * (base - value)
    bound = min_reduction_pct * base
    return bool(reduction >= bound - _PCT_TOL * abs(bound))


def remits(value: float, max_total: float) -> bool | None:
    """Whether ``value`` is at or below the remission cut-off (None if missing).

    Examples
    --------
    >>> remits(10, 10), remits(11, 10), remits(float("nan"), 10)
    (True, False, None)
    """
    if _missing(value):
        return None
    return bool(value <= max_total)


def _missing(x: float | None) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def build_adqs(
    data: TrialData,
    protocol: Protocol,
    *,
    parts: tuple[str, ...] = ("total", "subscales", "derived", "items"),
) -> pd.DataFrame:
    """One row per participant × visit × parameter, with baseline, change and criteria flags.

    Columns: ``participant_id``, ``USUBJID``, ``arm``, ``visit_code`` (= ``AVISIT``),
    ``AVISITN`` (protocol order), ``study_day`` (= ``ADY``), ``ATPT`` (time point within the
    visit, from an optional ``scores.timepoint`` column, e.g. dosing-day ratings), ``scale``,
    ``version``,
    ``PARAMCD`` (e.g. ``MADRSTOT``; items ``MADRS_SUICIDAL_THOUGHTS``), ``PARAM`` (label),
    ``param`` (canonical, e.g. ``madrs_total``), ``PARCAT1`` (TOTAL, SUBSCALE, DERIVED, ITEM),
    ``AVAL``, ``assessed_at``, ``prorated``, ``n_missing``, ``ANL01FL``, ``BASEVIS`` (baseline
    visit of the scale), ``ABLFL``, ``BASE``, ``CHG``, ``PCHG``; then for each response and
    remission endpoint ``k`` of the protocol (numbered from 1 in protocol order) ``CRITk`` (the
    definition in words) and ``CRITkFL`` (``"Y"``/``"N"``; empty where the endpoint does not
    apply or the value is missing) on the total of that endpoint's scale at its visits.

    Examples
    --------
    >>> from remit.protocol import load_protocol
    >>> adqs = build_adqs(TrialData(), load_protocol("oslo-mdma-mdd"))
    >>> [c for c in adqs.columns if c.startswith("CRIT")]
    ['CRIT1', 'CRIT1FL', 'CRIT2', 'CRIT2FL']
    """
    long = scale_values(data, protocol, parts=parts)
    k = 0
    for e in protocol.endpoints:
        if not isinstance(e, ResponseEndpoint | RemissionEndpoint):
            continue
        k += 1
        applies = (
            (long["param"] == f"{e.scale}_total")
            & long["visit_code"].isin(e.visits)
            & (long["ANL01FL"] == "Y")
        )
        flags: list[str | None] = []
        for on, base, value in zip(
            applies.tolist(), long["BASE"].tolist(), long["AVAL"].tolist(), strict=True
        ):
            if not on:
                flags.append(None)
                continue
            if isinstance(e, ResponseEndpoint):
                status = responds(base, value, e.min_reduction_pct)
            else:
                status = remits(value, e.max_total)
            flags.append(None if status is None else ("Y" if status else "N"))
        long[f"CRIT{k}"] = _objects(
            [e.definition if on else None for on in applies.tolist()], long.index
        )
        long[f"CRIT{k}FL"] = _objects(flags, long.index)
    return long
