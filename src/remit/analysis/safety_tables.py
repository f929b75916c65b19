"""Safety tables: adverse events, SAEs, C-SSRS shift, vital-sign peaks, MADRS item 10, alerts
and dosing exposure. Counts only — no tests — so nothing here calls :mod:`remit.stats`."""

from __future__ import annotations

import math
import re
from typing import Any, cast

import pandas as pd

from remit.analysis.data import TrialData
from remit.analysis.datasets import baseline_visits, visit_order
from remit.errors import NotFoundError
from remit.protocol import VITAL_SIGN_CODES, Protocol, SafetyRule
from remit.protocol.adverse_event import Severity
from remit.protocol.status import AlertStatus, DeviationCategory, DoseStatus, values
from remit.protocol.vocab import COMPARE, LEVELS
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
    sae = sae.sort_values(["onset_date", "participant_id"]).reset_index(drop=True)
    sae["reporting"] = [
        sae_reporting(due, reported)
        for due, reported in zip(sae["report_due_at"], sae["reported_at"], strict=True)
    ]
    return sae


def sae_reporting(due: Any, reported: Any) -> str:
    """Whether a serious adverse event was reported within its clock, in words.

    ``on time`` (reported by the due time), ``late`` (reported after it), ``not reported`` (a
    due time and no report yet) or ``no reporting clock`` (no due time recorded).

    Examples
    --------
    >>> import pandas as pd
    >>> due = pd.Timestamp("2024-03-02T10:00Z")
    >>> sae_reporting(due, pd.Timestamp("2024-03-02T09:00Z")), sae_reporting(due, pd.NaT)
    ('on time', 'not reported')
    >>> sae_reporting(due, pd.Timestamp("2024-03-03T09:00Z")), sae_reporting(pd.NaT, pd.NaT)
    ('late', 'no reporting clock')
    """
    if pd.isna(reported):
        return "no reporting clock" if pd.isna(due) else "not reported"
    if pd.isna(due):
        return "no reporting clock"
    return "on time" if reported <= due else "late"


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


#: Columns of the C-SSRS behaviour listing.
BEHAVIOUR_COLUMNS: tuple[str, ...] = (
    "participant_id",
    "visit_code",
    "assessed_date",
    "version",
    "behaviour",
    "behaviour_item",
    "lethality",
    "text_answers",
)


def _short_label(item: ItemDefinition) -> str:
    """An item's label without its trailing "(recall window)" note."""
    return re.sub(r"\s*\([^()]*\)\s*$", "", item.label) or item.code


#: The C-SSRS derived value that says whether a form reports suicidal behaviour; the items it
#: reads (its ``params.items`` in the scale file, every version) are the behaviour items.
BEHAVIOUR_FIELD = "any_behaviour"


def behaviour_items() -> dict[str, str]:
    """C-SSRS suicidal behaviour items → short label, in the scale file's order.

    They are the items the scale file's ``any_behaviour`` derived value reads (actual,
    interrupted and aborted attempt, preparatory acts, suicide), so the listing counts as
    behaviour exactly what the scoring does (not the ideation questions, which are safety
    items too).

    Examples
    --------
    >>> items = behaviour_items()
    >>> items["preparatory_behaviour"], "wish_to_be_dead" in items
    ('Preparatory acts or behaviour', False)
    """
    scale = load_scale("cssrs")
    read: set[str] = set()
    for d in scale.derived:
        if d.name == BEHAVIOUR_FIELD:
            codes = d.params.get("items", ())
            read |= {str(c) for c in codes} if isinstance(codes, list | tuple) else set()
    return {item.code: _short_label(item) for item in scale.items if item.code in read}


def _lethality(answers: dict[str, Any]) -> str:
    """The lethality ratings of a form's recent window in words (actual, potential …)."""
    scale = load_scale("cssrs")
    parts = []
    for item in scale.items:
        if "lethality" not in item.code or item.section == "lifetime":
            continue
        value = answers.get(item.code)
        if value is None or isinstance(value, bool):
            continue
        name = _short_label(item).split(",")[0]
        parts.append(f"{name}: {value}")
    return "; ".join(parts)


def cssrs_behaviour_tables(
    data: TrialData, protocol: Protocol, population: tuple[str, ...]
) -> dict[str, pd.DataFrame]:
    """C-SSRS ideation and behaviour by visit, and the listing of every behaviour event.

    ``cssrs_by_visit``: one row per visit (protocol order) with ``n`` participants assessed,
    ``n_any_ideation`` (most severe ideation type ≥ 1), ``n_type_1`` … ``n_type_5`` (the
    participants whose most severe type at the visit is that type), ``n_any_behaviour`` (any
    behaviour item answered yes) and the ids with behaviour. ``cssrs_behaviour_list``: one row
    per behaviour answered yes on a form of the recent window or since the last visit (the
    items of :func:`behaviour_items`: actual, interrupted and aborted attempt, preparatory
    acts, suicide) with the lethality ratings recorded on the form and any free-text answers. The
    lifetime history of the baseline form is not an event of the trial and is not listed.

    Examples
    --------
    >>> import pandas as pd
    >>> scores = pd.DataFrame({"participant_id": ["P1", "P1"], "visit_code": ["SCR", "FU7"],
    ...     "study_day": [None, None], "scale": ["cssrs"] * 2,
    ...     "version": ["baseline", "since_last_visit"], "total": [None, None],
    ...     "band": [None, None], "n_missing": [0, 0], "prorated": [False, False],
    ...     "assessed_at": ["2024-01-02T10:00Z", "2024-08-01T10:00Z"],
    ...     "items": [{}, {"preparatory_behaviour": True}], "subscales": [{}, {}],
    ...     "derived": [{"ideation_type": 1}, {"ideation_type": 3, "any_behaviour": True}]})
    >>> from remit.protocol import load_protocol
    >>> t = cssrs_behaviour_tables(TrialData(scores=scores), load_protocol("oslo-mdma-mdd"),
    ...                            ("P1",))
    >>> t["cssrs_behaviour_list"][["visit_code", "behaviour"]].values.tolist()
    [['FU7', 'Preparatory acts or behaviour']]
    >>> t["cssrs_by_visit"][["visit", "n", "n_any_ideation", "n_type_3", "n_any_behaviour"]
    ...                     ].values.tolist()
    [['SCR', 1, 1, 0, 0], ['FU7', 1, 1, 1, 1]]
    """
    s = data.scores
    s = s[(s["scale"] == "cssrs") & s["participant_id"].isin(population)]
    order = visit_order(protocol, s["visit_code"].dropna())
    behaviours = behaviour_items()
    types = [t for t in ideation_types() if t > 0]
    events: list[dict[str, Any]] = []
    per_visit: dict[str, dict[str, tuple[float, bool]]] = {}
    ordered = s.sort_values(["assessed_at", "participant_id"], kind="mergesort")
    for rec in ordered.to_dict(orient="records"):
        answers = cast(dict[str, Any], rec["items"])
        derived = cast(dict[str, Any], rec["derived"])
        said_yes = [code for code in behaviours if answers.get(code) is True]
        any_behaviour = bool(said_yes) or derived.get(BEHAVIOUR_FIELD) is True
        t = derived.get("ideation_type")
        visit = rec["visit_code"]
        if visit is not None:
            worst, before = per_visit.setdefault(str(visit), {}).get(
                str(rec["participant_id"]), (math.nan, False)
            )
            value = float(cast(float, t)) if _is_number(t) else math.nan
            if math.isnan(worst) or (not math.isnan(value) and value > worst):
                worst = value
            per_visit[str(visit)][str(rec["participant_id"])] = (worst, before or any_behaviour)
        texts = "; ".join(
            f"{code}: {value}"
            for code, value in sorted(answers.items())
            if isinstance(value, str) and value.strip()
        )
        when = rec["assessed_at"]
        for code in said_yes:
            events.append(
                {
                    "participant_id": rec["participant_id"],
                    "visit_code": visit,
                    "assessed_date": None if pd.isna(when) else when.date(),
                    "version": rec["version"],
                    "behaviour": behaviours[code],
                    "behaviour_item": code,
                    "lethality": _lethality(answers),
                    "text_answers": texts,
                }
            )
    by_visit_rows = []
    for visit in sorted(per_visit, key=lambda v: order[v]):
        people = per_visit[visit]
        worst_of = [w for w, _b in people.values()]
        behaved = sorted(p for p, (_w, b) in people.items() if b)
        by_visit_rows.append(
            {
                "visit": visit,
                "n": len(people),
                "n_any_ideation": sum(1 for w in worst_of if w >= 1),
                **{f"n_type_{t}": sum(1 for w in worst_of if w == t) for t in types},
                "n_any_behaviour": len(behaved),
                "participant_ids_behaviour": behaved,
            }
        )
    columns = [
        "visit",
        "n",
        "n_any_ideation",
        *(f"n_type_{t}" for t in types),
        "n_any_behaviour",
        "participant_ids_behaviour",
    ]
    return {
        "cssrs_by_visit": pd.DataFrame(by_visit_rows, columns=columns),
        "cssrs_behaviour_list": pd.DataFrame(events, columns=list(BEHAVIOUR_COLUMNS)),
    }


def vitals_tables(
    data: TrialData, protocol: Protocol, population: tuple[str, ...]
) -> dict[str, pd.DataFrame]:
    """Peaks of each vital sign per participant and dosing session against the thresholds.

    ``vitals_peaks``: one row per participant × session × sign with the highest (and, where a
    low limit exists, lowest) reading, when it happened, and whether any reading was beyond a
    limit. Readings outside a dosing session (no session number, e.g. at a screening visit)
    are kept, one row per visit; where the protocol sets no limit for the visit, ``judged`` is
    false (the reading was not compared with anything, which is not "within limits").
    ``vitals_summary``: per session × sign. ``vitals_by_time``: mean per minute after dose
    (for figures).

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
    # the whole first row of each group (``first()`` would skip missing cells column by
    # column); readings outside a dosing session (no session number) are groups too
    top = ordered.drop_duplicates(subset=[*keys, "sign"], keep="first")
    agg = long.groupby([*keys, "sign"], sort=True, dropna=False).agg(
        n_readings=("value", "size"),
        lowest=("value", "min"),
        n_above=("above", "sum"),
        n_below=("below", "sum"),
    )
    # merge, not join: merge matches the missing session numbers of two rows, join does not
    peaks_frame = agg.reset_index().merge(
        top[[*keys, "sign", "value", "minutes_after_dose", "high", "low"]],
        on=[*keys, "sign"],
        how="left",
    )
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
    peaks_frame["session_number"] = peaks_frame["session_number"].astype("Int64")
    peaks_frame["n_readings"] = peaks_frame["n_readings"].astype(int)
    peaks_frame["n_above"] = peaks_frame["n_above"].astype(int)
    peaks_frame["n_below"] = peaks_frame["n_below"].astype(int)
    peaks_frame["peak"] = peaks_frame["peak"].astype(float)
    peaks_frame["lowest"] = peaks_frame["lowest"].astype(float)
    peaks_frame["peak_minutes"] = peaks_frame["peak_minutes"].astype(float)
    peaks_frame["breached"] = (peaks_frame["n_above"] + peaks_frame["n_below"]) > 0
    peaks_frame["judged"] = (
        peaks_frame["threshold_high"].notna() | peaks_frame["threshold_low"].notna()
    )
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
        "judged",
    ]
    peaks_frame = peaks_frame.reindex(columns=peak_cols).reset_index(drop=True)
    summary_rows = []
    cells = peaks_frame.groupby(["session_number", "visit_code", "sign"], sort=True, dropna=False)
    for cell, g in cells:
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
                "judged": bool(g["judged"].any()),
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


def _item10_rules(protocol: Protocol) -> tuple[ItemDefinition, tuple[SafetyRule, ...]]:
    """The MADRS scale file's [safety] item (item 10) and every protocol rule on it (all its
    tiers), mildest level first (the reverse of :data:`~remit.protocol.vocab.LEVELS`)."""
    madrs = load_scale("madrs")
    item = madrs.item(madrs.safety.items[0])
    rules = [
        r
        for r in protocol.safety.rules
        if r.scale == "madrs" and r.item is not None and str(r.item) in (item.ref, item.code)
    ]
    rank = {level: i for i, level in enumerate(LEVELS)}
    rules.sort(key=lambda r: -rank.get(r.level, len(rank)))
    return item, tuple(rules)


def madrs_item10_rule_text(data: TrialData, protocol: Protocol) -> str:
    """The protocol's safety rules on MADRS item 10 in words (the table's convention), every
    tier, mildest first.

    Examples
    --------
    >>> from remit.protocol import load_protocol
    >>> madrs_item10_rule_text(TrialData(), load_protocol("oslo-mdma-mdd"))[:21]
    'MADRS item 10 (suicid'
    """
    item, rules = _item10_rules(protocol)
    if rules:
        return "; ".join(r.text for r in rules)
    return f"no safety rule on {load_scale('madrs').display_name} item {item.ref} in the protocol"


def madrs_item10_table(
    data: TrialData, protocol: Protocol, population: tuple[str, ...]
) -> dict[str, pd.DataFrame]:
    """MADRS item 10 (suicidal thoughts) by visit against every protocol rule on the item.

    ``n_meeting_rule`` and ``participant_ids`` count the participants meeting any rule on the
    item; ``by_rule`` maps each rule id (every tier, mildest first) to the participants
    meeting it, so a tier above another is seen on its own.

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
    item, rules = _item10_rules(protocol)
    s = data.scores
    s = s[(s["scale"] == "madrs") & s["participant_id"].isin(population)]
    order = visit_order(protocol, s["visit_code"].dropna())
    rows = []
    for visit, g in sorted(s.groupby("visit_code"), key=lambda kv: order[str(kv[0])]):
        values = [answers.get(item.code, answers.get(item.ref)) for answers in g["items"]]
        numbers = [float(x) for x in values if _is_number(x)]
        by_rule: dict[str, list[str]] = {}
        for rule in rules:
            by_rule[rule.id] = sorted(
                {
                    str(p)
                    for p, x in zip(g["participant_id"], values, strict=True)
                    if _is_number(x) and _compare(float(x), rule.op, float(rule.value))
                }
            )
        meets = sorted({p for ids in by_rule.values() for p in ids})
        rows.append(
            {
                "visit": visit,
                "n": len(numbers),
                "mean": sum(numbers) / len(numbers) if numbers else math.nan,
                "max": max(numbers) if numbers else math.nan,
                "n_meeting_rule": len(meets),
                "participant_ids": meets,
                "by_rule": by_rule,
            }
        )
    columns = ["visit", "n", "mean", "max", "n_meeting_rule", "participant_ids", "by_rule"]
    return {"madrs_item10": pd.DataFrame(rows, columns=columns)}


def _is_number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and not math.isnan(float(x))


def _compare(x: float, op: str, y: float) -> bool:
    if math.isnan(y):
        return False
    return COMPARE[op](x, y)


#: Columns of the alerts table (one row per rule × level).
ALERT_COLUMNS: tuple[str, ...] = (
    "rule_id",
    "level",
    "n",
    "n_participants",
    "n_acknowledged",
    "median_hours_to_ack",
    "max_hours_to_ack",
    "n_open",
    "n_unclosed",
)


def alert_table(data: TrialData, population: tuple[str, ...]) -> pd.DataFrame:
    """Alerts of the population by rule and level, with the time to acknowledgement.

    One row per rule × level (levels in the order of :data:`~remit.protocol.vocab.LEVELS`,
    most urgent first; rules by name): ``n`` alerts, ``n_participants`` people,
    ``n_acknowledged`` alerts acknowledged (or closed), the median and the longest hours from
    ``raised_at`` to ``acknowledged_at`` over the alerts with both times, ``n_open`` alerts
    nobody has acknowledged yet and ``n_unclosed`` alerts not closed yet.

    Examples
    --------
    >>> import pandas as pd
    >>> alerts = pd.DataFrame({"participant_id": ["P1", "P1", "P2"],
    ...     "rule_id": ["madrs_item10"] * 3, "level": ["same_day"] * 3,
    ...     "raised_at": ["2024-01-01T10:00Z", "2024-02-01T10:00Z", "2024-01-05T08:00Z"],
    ...     "status": ["closed", "acknowledged", "open"],
    ...     "acknowledged_at": ["2024-01-01T11:00Z", "2024-02-01T13:00Z", None]})
    >>> t = alert_table(TrialData(alerts=alerts), ("P1", "P2"))
    >>> row = t.to_dict(orient="records")[0]
    >>> [row[k] for k in ("n", "n_acknowledged", "median_hours_to_ack", "max_hours_to_ack")]
    [3, 2, 2.0, 3.0]
    >>> row["n_open"], row["n_unclosed"]
    (1, 2)
    """
    a = data.alerts[data.alerts["participant_id"].isin(population)]
    if a.empty:
        return pd.DataFrame(columns=list(ALERT_COLUMNS))
    rank = {level: i for i, level in enumerate(LEVELS)}
    open_word, closed_word = AlertStatus.OPEN.value, AlertStatus.CLOSED.value
    rows: list[dict[str, Any]] = []
    for keys, g in a.groupby(["rule_id", "level"], dropna=False, sort=False):
        rule_id, level = cast(tuple[Any, Any], keys)
        hours = (g["acknowledged_at"] - g["raised_at"]).dt.total_seconds() / 3600.0
        hours = hours.dropna()
        acknowledged = g["acknowledged_at"].notna() | g["status"].isin(
            [AlertStatus.ACKNOWLEDGED.value, closed_word]
        )
        closed = g["closed_at"].notna() | (g["status"] == closed_word)
        rows.append(
            {
                "rule_id": rule_id,
                "level": None if pd.isna(level) else level,
                "n": len(g),
                "n_participants": int(g["participant_id"].nunique()),
                "n_acknowledged": int(acknowledged.sum()),
                "median_hours_to_ack": float(hours.median()) if len(hours) else math.nan,
                "max_hours_to_ack": float(hours.max()) if len(hours) else math.nan,
                "n_open": int(((g["status"] == open_word) & ~acknowledged).sum()),
                "n_unclosed": int((~closed).sum()),
            }
        )
    rows.sort(key=lambda r: (rank.get(r["level"], len(rank)), str(r["rule_id"])))
    return pd.DataFrame(rows, columns=list(ALERT_COLUMNS))


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


#: Deviation categories of the dosing day's hard stops, with their words in the report. They
#: are the words the dosing services record (``protocol.status.DeviationCategory``); the
#: deviation tables read any category and give these their own rows in ``dose_stops``.
DOSE_STOP_DEVIATIONS: dict[str, str] = {
    DeviationCategory.DOSE_STOP_OVERRIDE: "dose given despite a hard stop (investigator override)",
    DeviationCategory.DOSE_ABOVE_CAP: "dose above the protocol's cap",
}

#: Columns of the deviation listing.
DEVIATION_COLUMNS: tuple[str, ...] = (
    "participant_id",
    "visit_code",
    "occurred_date",
    "category",
    "major",
    "description",
)


def deviation_tables(data: TrialData, population: tuple[str, ...]) -> dict[str, pd.DataFrame]:
    """Protocol deviations of the population by category, and each one listed.

    ``deviations_by_category``: one row per category (most frequent first) with ``n``
    deviations, ``n_major`` and ``n_participants``; ``deviation_list``: every deviation by
    date. Study-wide deviations (no participant) belong to no population and are left out;
    :func:`study_wide_deviations` lists them.

    Examples
    --------
    >>> import pandas as pd
    >>> devs = pd.DataFrame({"participant_id": ["P1", "P1", "P2", None],
    ...     "visit_code": ["V5", "V9", "V5", None],
    ...     "category": ["visit_out_of_window", "dose_stop_override", "visit_out_of_window",
    ...                  "monitoring"],
    ...     "major": [False, True, False, False], "description": ["late", "BP 200/125", "early",
    ...     "visit missed by monitor"], "occurred_date": ["2024-02-01", "2024-03-01",
    ...     "2024-02-03", "2024-04-01"]})
    >>> t = deviation_tables(TrialData(deviations=devs), ("P1", "P2"))
    >>> t["deviations_by_category"][["category", "n", "n_major", "n_participants"]
    ...                            ].values.tolist()
    [['visit_out_of_window', 2, 0, 2], ['dose_stop_override', 1, 1, 1]]
    """
    d = data.deviations[data.deviations["participant_id"].isin(population)]
    d = d.sort_values(["occurred_date", "participant_id"], kind="mergesort")
    rows = []
    for category, g in d.groupby("category", sort=False):
        rows.append(
            {
                "category": category,
                "n": len(g),
                "n_major": int(g["major"].astype(bool).sum()),
                "n_participants": int(g["participant_id"].nunique()),
                "participant_ids": sorted({str(p) for p in g["participant_id"]}),
            }
        )
    by_category = pd.DataFrame(
        rows, columns=["category", "n", "n_major", "n_participants", "participant_ids"]
    )
    if not by_category.empty:
        by_category = by_category.sort_values(
            ["n", "category"], ascending=[False, True], kind="mergesort"
        ).reset_index(drop=True)
    listing = d[list(DEVIATION_COLUMNS)].reset_index(drop=True)
    return {"deviations_by_category": by_category, "deviation_list": listing}


#: How a study-wide deviation (no participant) starts in the section's notes.
STUDY_WIDE_DEVIATION = "study-wide deviation"


def study_wide_deviations(data: TrialData) -> list[str]:
    """The study-wide deviations (no participant), each in words.

    Examples
    --------
    >>> study_wide_deviations(TrialData())
    []
    """
    d = data.deviations[data.deviations["participant_id"].isna()]
    out = []
    for r in d.to_dict(orient="records"):
        when = r["occurred_date"]
        day = "no date" if pd.isna(when) else when.date().isoformat()
        out.append(f"{STUDY_WIDE_DEVIATION} ({r['category']}, {day}): {r['description'] or ''}")
    return out


def dose_stop_table(data: TrialData, population: tuple[str, ...]) -> pd.DataFrame:
    """Dose-stop events and overrides per dosing visit.

    One row per event kind × visit: ``withheld`` (a dose withheld, its reasons listed) and one
    per :data:`DOSE_STOP_DEVIATIONS` category recorded (an override of a hard stop, a dose
    above the cap), with ``n`` events, ``n_participants`` and the ids. Empty when nothing was
    withheld or overridden.

    Examples
    --------
    >>> from remit.analysis.examples import example_trial
    >>> data = example_trial()
    >>> dose_stop_table(data, data.enrolled_ids)[["event", "visit_code", "n"]].values.tolist()
    [['withheld', 'V5', 1]]
    """
    columns = ["event", "label", "visit_code", "n", "n_participants", "participant_ids", "details"]
    doses = data.doses[data.doses["participant_id"].isin(population)]
    rows: list[dict[str, Any]] = []
    withheld = doses[doses["status"] == DoseStatus.WITHHELD.value]
    for visit, g in withheld.groupby("visit_code", sort=True):
        reasons = sorted({str(r) for r in g["withheld_reason"].dropna()})
        rows.append(
            {
                "event": "withheld",
                "label": "dose withheld",
                "visit_code": visit,
                "n": len(g),
                "n_participants": int(g["participant_id"].nunique()),
                "participant_ids": sorted({str(p) for p in g["participant_id"]}),
                "details": "; ".join(reasons),
            }
        )
    devs = data.deviations[data.deviations["participant_id"].isin(population)]
    for category, label in DOSE_STOP_DEVIATIONS.items():
        mine = devs[devs["category"] == category]
        for visit, g in mine.groupby(mine["visit_code"].fillna("–"), sort=True):
            rows.append(
                {
                    "event": category,
                    "label": label,
                    "visit_code": visit,
                    "n": len(g),
                    "n_participants": int(g["participant_id"].nunique()),
                    "participant_ids": sorted({str(p) for p in g["participant_id"]}),
                    "details": "; ".join(str(t) for t in g["description"].dropna()),
                }
            )
    return pd.DataFrame(rows, columns=columns)
