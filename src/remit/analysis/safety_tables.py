"""Safety tables: adverse events, SAEs, C-SSRS shift, vital-sign peaks, MADRS item 10, alerts
and dosing exposure. Counts only — no tests — so nothing here calls :mod:`remit.stats`."""

from __future__ import annotations

import math
from typing import Any, cast

import pandas as pd

from remit.analysis.data import TrialData
from remit.analysis.datasets import baseline_visits, visit_order
from remit.errors import NotFoundError
from remit.protocol import VITAL_SIGN_CODES, Protocol, SafetyRule
from remit.protocol.adverse_event import Severity
from remit.protocol.status import values
from remit.protocol.vocab import COMPARE
from remit.scales import ItemDefinition, load_scale

#: Severities, mildest first (the order of the vocabulary).
SEVERITY_ORDER: tuple[str, ...] = values(Severity)


def ideation_types() -> dict[int, str]:
    """C-SSRS ideation types (``derived.ideation_type``) in words, from the scale file's
    ``[safety.categories.ideation_type]``.

    Examples
    --------
    >>> ideation_types()[4]
    'active ideation with some intent, no plan'
    """
    return dict(load_scale("cssrs").safety.categories.get("ideation_type", {}))


def _ordered(values: pd.Series, order: tuple[str, ...]) -> list[str]:
    present = [str(v) if v is not None else "not recorded" for v in values]
    known = [o for o in order if o in present]
    return known + sorted(set(present) - set(known))


def adverse_event_tables(data: TrialData, population: tuple[str, ...]) -> dict[str, pd.DataFrame]:
    """AEs of the population by severity, relatedness, both, and term.

    ``n_events`` counts events, ``n_participants`` people with at least one, ``pct`` is
    ``100 · n_participants / len(population)``.

    Examples
    --------
    >>> from remit.analysis.examples import example_trial
    >>> data = example_trial()
    >>> ids = data.enrolled_ids
    >>> adverse_event_tables(data, ids)["ae_by_severity"].values.tolist()
    [['mild', 1, 1, 16.666666666666668]]
    """
    ae = data.adverse_events[data.adverse_events["participant_id"].isin(population)].copy()
    ae["severity"] = ae["severity"].map(lambda v: v if v is not None else "not recorded")
    ae["relatedness"] = ae["relatedness"].map(lambda v: v if v is not None else "not recorded")
    n_pop = len(population)

    def count(by: list[str], order: dict[str, tuple[str, ...]]) -> pd.DataFrame:
        cols = [*by, "n_events", "n_participants", "pct_participants"]
        if ae.empty:
            return pd.DataFrame(columns=cols)
        g = ae.groupby(by, sort=False)
        out = pd.DataFrame(
            {
                "n_events": g.size(),
                "n_participants": g["participant_id"].nunique(),
            }
        ).reset_index()
        out["pct_participants"] = 100.0 * out["n_participants"] / n_pop if n_pop else math.nan
        for col, o in order.items():
            rank = {v: i for i, v in enumerate(_ordered(ae[col], o))}
            out["_r_" + col] = out[col].map(rank)
        sort = [f"_r_{c}" for c in order] + [c for c in by if c not in order]
        out = out.sort_values(sort).drop(columns=[f"_r_{c}" for c in order])
        return out[cols].reset_index(drop=True)

    by_term = count(["term"], {})
    if not ae.empty:
        worst = ae.groupby("term")["severity"].agg(
            lambda s: max(s, key=lambda v: SEVERITY_ORDER.index(v) if v in SEVERITY_ORDER else -1)
        )
        serious = ae.groupby("term")["serious"].any()
        by_term["worst_severity"] = by_term["term"].map(worst)
        by_term["any_serious"] = by_term["term"].map(serious).astype(bool)
        by_term = by_term.sort_values(
            ["n_participants", "n_events", "term"], ascending=[False, False, True]
        ).reset_index(drop=True)
    totals = pd.DataFrame(
        [
            {
                "n_events": len(ae),
                "n_participants": int(ae["participant_id"].nunique()),
                "pct_participants": 100.0 * ae["participant_id"].nunique() / n_pop
                if n_pop
                else math.nan,
                "n_serious": int(ae["serious"].sum()),
                "n_participants_serious": int(ae.loc[ae["serious"], "participant_id"].nunique()),
            }
        ]
    )
    return {
        "ae_overview": totals,
        "ae_by_severity": count(["severity"], {"severity": SEVERITY_ORDER}),
        "ae_by_relatedness": count(["relatedness"], {"relatedness": ()}),
        "ae_by_severity_relatedness": count(
            ["severity", "relatedness"], {"severity": SEVERITY_ORDER, "relatedness": ()}
        ),
        "ae_by_term": by_term,
    }


def sae_list(data: TrialData, population: tuple[str, ...]) -> pd.DataFrame:
    """Every serious adverse event of the population, sorted by onset.

    Examples
    --------
    >>> from remit.analysis.examples import example_trial
    >>> data = example_trial()
    >>> ids = data.enrolled_ids
    >>> sae_list(data, ids).empty
    True
    """
    ae = data.adverse_events
    sae = ae[ae["serious"] & ae["participant_id"].isin(population)]
    return sae.sort_values(["onset_date", "participant_id"]).reset_index(drop=True)


def cssrs_shift(
    data: TrialData, protocol: Protocol, population: tuple[str, ...]
) -> dict[str, pd.DataFrame]:
    """C-SSRS shift: most severe ideation type up to baseline vs most severe afterwards.

    The baseline period is every visit up to and including the C-SSRS baseline visit (see
    :func:`baseline_visits`); "after" is every later visit. Behaviour after baseline is flagged.

    Examples
    --------
    >>> from remit.analysis.examples import example_trial
    >>> data = example_trial()
    >>> ids = data.enrolled_ids
    >>> from remit.protocol import load_protocol
    >>> t = cssrs_shift(data, load_protocol("oslo-mdma-mdd"), ids)["cssrs_by_participant"]
    >>> t.set_index("participant_id").loc["E4", "shift"]
    'better'
    """
    s = data.scores
    s = s[(s["scale"] == "cssrs") & s["participant_id"].isin(population)]
    order = visit_order(protocol, s["visit_code"].dropna())
    base_visit = baseline_visits(protocol).get("cssrs")
    cut = order.get(base_visit, 0) if base_visit else 0
    per: list[dict[str, Any]] = []
    for pid in population:
        mine = s[s["participant_id"] == pid]
        before: list[float] = []
        after: list[float] = []
        behaviour_after = False
        worst_visit = None
        worst_value = -1.0
        for rec in mine.to_dict(orient="records"):
            derived = cast(dict[str, Any], rec["derived"])
            t = derived.get("ideation_type")
            if not isinstance(t, int | float) or isinstance(t, bool) or math.isnan(float(t)):
                continue
            if rec["visit_code"] is None:
                continue
            if order[str(rec["visit_code"])] <= cut:
                before.append(float(t))
            else:
                after.append(float(t))
                if bool(derived.get("any_behaviour")):
                    behaviour_after = True
                if float(t) > worst_value:
                    worst_value, worst_visit = float(t), str(rec["visit_code"])
        b = max(before) if before else math.nan
        a = max(after) if after else math.nan
        shift = (
            "not assessable"
            if math.isnan(a) or math.isnan(b)
            else ("worse" if a > b else "better" if a < b else "same")
        )
        per.append(
            {
                "participant_id": pid,
                "baseline_worst": b,
                "after_worst": a,
                "after_worst_visit": worst_visit,
                "shift": shift,
                "behaviour_after": behaviour_after,
            }
        )
    by_participant = pd.DataFrame(
        per,
        columns=[
            "participant_id",
            "baseline_worst",
            "after_worst",
            "after_worst_visit",
            "shift",
            "behaviour_after",
        ],
    )
    rows = []
    types: list[int | None] = [*ideation_types(), None]
    for type_before in types:
        for type_after in types:
            sel = by_participant[
                _matches(by_participant["baseline_worst"], type_before)
                & _matches(by_participant["after_worst"], type_after)
            ]
            if len(sel) == 0:
                continue
            rows.append(
                {
                    "baseline_worst": _type_word(type_before),
                    "after_worst": _type_word(type_after),
                    "n": len(sel),
                    "participant_ids": sel["participant_id"].tolist(),
                }
            )
    table = pd.DataFrame(rows, columns=["baseline_worst", "after_worst", "n", "participant_ids"])
    return {"cssrs_shift": table, "cssrs_by_participant": by_participant}


def _matches(col: pd.Series, value: int | None) -> pd.Series:
    if value is None:
        return col.isna()
    return col == value


def _type_word(t: int | None) -> str:
    return "not assessed" if t is None else f"{t}: {ideation_types().get(t, 'type ' + str(t))}"


def vitals_tables(
    data: TrialData, protocol: Protocol, population: tuple[str, ...]
) -> dict[str, pd.DataFrame]:
    """Peaks of each vital sign per participant and dosing session against the thresholds.

    ``vitals_peaks``: one row per participant × session × sign with the highest (and, where a
    low limit exists, lowest) reading, when it happened, and whether any reading was beyond a
    limit. ``vitals_summary``: per session × sign. ``vitals_by_time``: mean per minute after
    dose (for figures).

    Examples
    --------
    >>> from remit.analysis.examples import example_trial
    >>> data = example_trial()
    >>> ids = data.enrolled_ids
    >>> from remit.protocol import load_protocol
    >>> t = vitals_tables(data, load_protocol("oslo-mdma-mdd"), ids)["vitals_summary"]
    >>> t.set_index("sign").loc["systolic_bp", "participant_ids_breached"]
    ['E2']
    """
    v = data.vitals[data.vitals["participant_id"].isin(population)]
    signs = [s for s in VITAL_SIGN_CODES if v[s].notna().any()]  # the signs read
    keys = ["participant_id", "session_number", "visit_code"]
    long = v.melt(
        id_vars=[*keys, "minutes_after_dose"],
        value_vars=list(VITAL_SIGN_CODES),
        var_name="sign",
        value_name="value",
    ).dropna(subset=["value"])
    limits = {code: _limits(protocol, str(code)) for code in long["visit_code"].unique()}
    long["high"] = [
        limits[c].get(sg, (None, None))[0]
        for c, sg in zip(long["visit_code"], long["sign"], strict=True)
    ]
    long["low"] = [
        limits[c].get(sg, (None, None))[1]
        for c, sg in zip(long["visit_code"], long["sign"], strict=True)
    ]
    high = long["high"].astype(float)
    low = long["low"].astype(float)
    long["above"] = (long["value"] > high).fillna(False).astype(bool)
    long["below"] = (long["value"] < low).fillna(False).astype(bool)
    # the first reading at the highest value gives the minute of the peak
    ordered = long.sort_values(
        [*keys, "sign", "value", "minutes_after_dose"],
        ascending=[True, True, True, True, False, True],
        kind="mergesort",
    )
    top = ordered.groupby([*keys, "sign"], sort=True).first()
    agg = long.groupby([*keys, "sign"], sort=True).agg(
        n_readings=("value", "size"),
        lowest=("value", "min"),
        n_above=("above", "sum"),
        n_below=("below", "sum"),
    )
    peaks_frame = agg.join(top[["value", "minutes_after_dose", "high", "low"]]).reset_index()
    peaks_frame = peaks_frame.rename(
        columns={
            "value": "peak",
            "minutes_after_dose": "peak_minutes",
            "high": "threshold_high",
            "low": "threshold_low",
        }
    )
    sign_rank = {sg: i for i, sg in enumerate(VITAL_SIGN_CODES)}
    peaks_frame["_sign"] = peaks_frame["sign"].map(sign_rank)
    peaks_frame = peaks_frame.sort_values([*keys, "_sign"]).drop(columns="_sign")
    peaks_frame["session_number"] = peaks_frame["session_number"].astype(int)
    peaks_frame["n_readings"] = peaks_frame["n_readings"].astype(int)
    peaks_frame["n_above"] = peaks_frame["n_above"].astype(int)
    peaks_frame["n_below"] = peaks_frame["n_below"].astype(int)
    peaks_frame["peak"] = peaks_frame["peak"].astype(float)
    peaks_frame["lowest"] = peaks_frame["lowest"].astype(float)
    peaks_frame["peak_minutes"] = peaks_frame["peak_minutes"].astype(float)
    peaks_frame["breached"] = (peaks_frame["n_above"] + peaks_frame["n_below"]) > 0
    peak_cols = [
        "participant_id",
        "session_number",
        "visit_code",
        "sign",
        "n_readings",
        "peak",
        "peak_minutes",
        "lowest",
        "threshold_high",
        "threshold_low",
        "n_above",
        "n_below",
        "breached",
    ]
    peaks_frame = peaks_frame.reindex(columns=peak_cols).reset_index(drop=True)
    summary_rows = []
    for cell, g in peaks_frame.groupby(["session_number", "visit_code", "sign"], sort=True):
        session, visit, sign = cast(tuple[Any, ...], cell)
        summary_rows.append(
            {
                "session_number": session,
                "visit_code": visit,
                "sign": sign,
                "n_participants": len(g),
                "mean_peak": float(g["peak"].mean()),
                "sd_peak": float(g["peak"].std(ddof=1)) if len(g) > 1 else math.nan,
                "max_peak": float(g["peak"].max()),
                "min_lowest": float(g["lowest"].min()),
                "threshold_high": g["threshold_high"].iloc[0],
                "threshold_low": g["threshold_low"].iloc[0],
                "n_participants_breached": int(g["breached"].sum()),
                "participant_ids_breached": g.loc[g["breached"], "participant_id"].tolist(),
            }
        )
    summary = pd.DataFrame(summary_rows)
    if v.empty or not signs:
        by_time = pd.DataFrame()
    else:
        by_time = (
            v.groupby(["session_number", "visit_code", "minutes_after_dose"])[signs]
            .agg(["mean", "count"])
            .reset_index()
        )
        by_time.columns = [
            "_".join(str(c) for c in col if c) if isinstance(col, tuple) else str(col)
            for col in by_time.columns
        ]
    return {"vitals_summary": summary, "vitals_peaks": peaks_frame, "vitals_by_time": by_time}


def _limits(protocol: Protocol, visit: str) -> dict[str, tuple[float | None, float | None]]:
    try:
        thresholds = protocol.vital_thresholds(visit)
    except NotFoundError:  # a visit the protocol does not know has no thresholds
        return {}
    return {str(k): (t.high, t.low) for k, t in thresholds.items()}


def _item10_rule(protocol: Protocol) -> tuple[ItemDefinition, SafetyRule | None]:
    """The MADRS scale file's [safety] item (item 10) and the protocol's rule on it, if any."""
    madrs = load_scale("madrs")
    item = madrs.item(madrs.safety.items[0])
    rule = next(
        (
            r
            for r in protocol.safety.rules
            if r.scale == "madrs" and r.item is not None and str(r.item) in (item.ref, item.code)
        ),
        None,
    )
    return item, rule


def madrs_item10_rule_text(data: TrialData, protocol: Protocol) -> str:
    """The protocol's safety rule on MADRS item 10 in words (the table's convention).

    Examples
    --------
    >>> from remit.protocol import load_protocol
    >>> madrs_item10_rule_text(TrialData(), load_protocol("oslo-mdma-mdd"))[:21]
    'MADRS item 10 (suicid'
    """
    item, rule = _item10_rule(protocol)
    if rule is not None:
        return rule.text
    return f"no safety rule on {load_scale('madrs').display_name} item {item.ref} in the protocol"


def madrs_item10_table(
    data: TrialData, protocol: Protocol, population: tuple[str, ...]
) -> dict[str, pd.DataFrame]:
    """MADRS item 10 (suicidal thoughts) by visit against the protocol's safety rule.

    Examples
    --------
    >>> from remit.analysis.examples import example_trial
    >>> data = example_trial()
    >>> ids = data.enrolled_ids
    >>> from remit.protocol import load_protocol
    >>> table = madrs_item10_table(data, load_protocol("oslo-mdma-mdd"), ids)["madrs_item10"]
    >>> table[["visit", "n", "n_meeting_rule"]].values.tolist()[0]
    ['V3', 6, 0]
    """
    item, rule = _item10_rule(protocol)
    threshold = float(rule.value) if rule is not None else math.nan
    op = rule.op if rule is not None else ">="
    s = data.scores
    s = s[(s["scale"] == "madrs") & s["participant_id"].isin(population)]
    order = visit_order(protocol, s["visit_code"].dropna())
    rows = []
    for visit, g in sorted(s.groupby("visit_code"), key=lambda kv: order[str(kv[0])]):
        values = [answers.get(item.code, answers.get(item.ref)) for answers in g["items"]]
        numbers = [float(x) for x in values if isinstance(x, int | float) and not math.isnan(x)]
        meets = [
            p
            for p, x in zip(g["participant_id"], values, strict=True)
            if isinstance(x, int | float) and _compare(float(x), op, threshold)
        ]
        rows.append(
            {
                "visit": visit,
                "n": len(numbers),
                "mean": sum(numbers) / len(numbers) if numbers else math.nan,
                "max": max(numbers) if numbers else math.nan,
                "n_meeting_rule": len(meets),
                "participant_ids": meets,
            }
        )
    columns = ["visit", "n", "mean", "max", "n_meeting_rule", "participant_ids"]
    return {"madrs_item10": pd.DataFrame(rows, columns=columns)}


def _compare(x: float, op: str, y: float) -> bool:
    if math.isnan(y):
        return False
    return COMPARE[op](x, y)


def alert_table(data: TrialData, population: tuple[str, ...]) -> pd.DataFrame:
    """Alerts of the population by rule, level and status.

    Examples
    --------
    >>> from remit.analysis.examples import example_trial
    >>> data = example_trial()
    >>> ids = data.enrolled_ids
    >>> alert_table(data, ids).empty
    True
    """
    a = data.alerts[data.alerts["participant_id"].isin(population)]
    if a.empty:
        return pd.DataFrame(columns=["rule_id", "level", "status", "n", "n_participants"])
    g = a.groupby(["rule_id", "level", "status"], dropna=False)
    return pd.DataFrame(
        {"n": g.size(), "n_participants": g["participant_id"].nunique()}
    ).reset_index()


def dosing_tables(data: TrialData, population: tuple[str, ...]) -> dict[str, pd.DataFrame]:
    """Doses given and withheld per session and kind; the list of withheld doses.

    Examples
    --------
    >>> from remit.analysis.examples import example_trial
    >>> data = example_trial()
    >>> ids = data.enrolled_ids
    >>> dosing_tables(data, ids)["doses_withheld"]["participant_id"].tolist()
    ['E4']
    """
    d = data.doses[data.doses["participant_id"].isin(population)]
    rows = []
    for keys, g in d.groupby(["session_number", "visit_code", "kind"]):
        session, visit, kind = cast(tuple[Any, ...], keys)
        given = g[g["status"] == "given"]
        rows.append(
            {
                "session_number": int(session),
                "visit_code": visit,
                "kind": kind,
                "n_given": len(given),
                "n_withheld": int((g["status"] == "withheld").sum()),
                "total_mg_given": float(given["dose_mg"].sum()),
                "mean_mg_given": float(given["dose_mg"].mean()) if len(given) else math.nan,
            }
        )
    by_session = pd.DataFrame(
        rows,
        columns=[
            "session_number",
            "visit_code",
            "kind",
            "n_given",
            "n_withheld",
            "total_mg_given",
            "mean_mg_given",
        ],
    )
    withheld = d[d["status"] == "withheld"][
        ["participant_id", "session_number", "visit_code", "kind", "dose_mg", "withheld_reason"]
    ].reset_index(drop=True)
    return {"doses_by_session": by_session, "doses_withheld": withheld}
