"""Binary endpoints: proportions with named CIs, status transitions with exact McNemar."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from remit.analysis.context import Context, estimated
from remit.analysis.endpoints import EndpointsResult
from remit.analysis.result import SectionResult, headline_frame, headline_row, section_fields
from remit.errors import InputError
from remit.protocol import (
    ChangeEndpoint,
    McNemarAnalysis,
    ProportionAnalysis,
    RelapseEndpoint,
    RemissionEndpoint,
    ResponseEndpoint,
)
from remit.protocol.vocab import ProportionCiMethod
from remit.stats.mcnemar import mcnemar_exact
from remit.stats.proportion import proportion_ci

#: How the report labels each CI method the plan may name (short in the headline, long in the
#: conventions); the method names are :data:`remit.stats.proportion.CiMethod`'s.
CI_SHORT: dict[ProportionCiMethod, str] = {"clopper-pearson": "CP", "wilson": "Wilson"}
CI_NAMES: dict[ProportionCiMethod, str] = {
    "clopper-pearson": "Clopper-Pearson (exact)",
    "wilson": "Wilson score",
}
#: The column heading of each CI method in the report's response table (in this order).
CI_HEADINGS: dict[ProportionCiMethod, str] = {
    "clopper-pearson": "Clopper–Pearson",
    "wilson": "Wilson",
}


def ci_column(method: str) -> str:
    """The column stem of a CI method in the proportion table: its name with ``_`` for ``-``.

    Examples
    --------
    >>> ci_column("clopper-pearson") + "_low"
    'clopper_pearson_low'
    """
    return method.replace("-", "_")


@dataclass(frozen=True, eq=False, kw_only=True)
class ProportionSectionResult(SectionResult):
    """Result of a ``proportion`` analysis: k/n of each binary endpoint with named CIs."""

    proportions: pd.DataFrame


@dataclass(frozen=True, eq=False, kw_only=True)
class McNemarSectionResult(SectionResult):
    """Result of a ``mcnemar`` analysis: tests, 2×2 transition cells and relapse counts."""

    tests: pd.DataFrame
    transitions: pd.DataFrame
    relapses: pd.DataFrame


# --------------------------------------------------------------------------- proportions


def run_proportion(a: ProportionAnalysis, ctx: Context) -> ProportionSectionResult:
    """Counts of binary endpoints with the plan's confidence intervals.

    Examples
    --------
    >>> from remit.analysis.examples import example_context
    >>> oslo, ctx = example_context()
    >>> t = run_proportion(oslo.analysis.analyses[4], ctx).table
    >>> t[["endpoint_id", "visit", "k", "n"]].values.tolist()[:2]
    [['madrs_response', 'V13', 5, 6], ['madrs_response', 'FU7', 5, 6]]
    """
    rows: list[dict[str, Any]] = []
    raw: dict[str, Any] = {}
    notes: list[str] = []
    for endpoint_id in a.endpoints:
        e = ctx.protocol.endpoint(endpoint_id)
        if isinstance(e, ChangeEndpoint):
            notes.append(f"{endpoint_id}: a change endpoint has no proportion; skipped")
    for arm, ids in ctx.groups:
        counts = ctx.endpoints.counts(participants=ids)
        for endpoint_id in a.endpoints:
            if isinstance(ctx.protocol.endpoint(endpoint_id), ChangeEndpoint):
                continue
            for rec in counts[counts["endpoint_id"] == endpoint_id].to_dict(orient="records"):
                rows.append(_proportion_row(a, ctx, arm, ids, rec, raw, notes))
    return ProportionSectionResult(
        proportions=pd.DataFrame(rows),
        **section_fields(
            a,
            stats=raw,
            conventions={
                "denominator": "participants whose status could be decided (observed cases; "
                "relapse: remitters at the earlier visit with the later visit observed)",
                **{f"ci_{ci_column(m)}": CI_NAMES[m] for m in a.ci_methods},
            },
            notes=tuple(notes),
            headline=headline_frame(
                [
                    headline_row(
                        r,
                        f"{r['endpoint_id']} {r['k']}/{r['n']} ({CI_SHORT[m]})",
                        CI_NAMES[m],
                        scale=ctx.protocol.endpoint(r["endpoint_id"]).scale,
                        ci_low=r[f"{ci_column(m)}_low"],
                        ci_high=r[f"{ci_column(m)}_high"],
                    )
                    for r in rows
                    for m in a.ci_methods
                ]
            ),
        ),
    )


def _proportion_row(
    a: ProportionAnalysis,
    ctx: Context,
    arm: str | None,
    ids: tuple[str, ...],
    rec: dict[Any, Any],
    raw: dict[str, Any],
    notes: list[str],
) -> dict[str, Any]:
    endpoint_id = str(rec["endpoint_id"])
    key = ctx.key(arm, endpoint_id, str(rec["visit_code"]))
    row: dict[str, Any] = {
        "arm": arm,
        "endpoint_id": endpoint_id,
        "kind": rec["kind"],
        "visit": rec["visit_code"],
        "k": rec["n_yes"],
        "n": rec["n"],
        "n_population": rec["n_population"],
        "n_at_risk": rec["n_at_risk"],
        "n_undecided": rec["n_undecided"],
        "estimate": math.nan,
    }
    for m in a.ci_methods:
        row[f"{ci_column(m)}_low"] = math.nan
        row[f"{ci_column(m)}_high"] = math.nan
    if rec["n"] > 0:
        r = proportion_ci(int(rec["n_yes"]), int(rec["n"]), conf_level=ctx.conf_level)
        raw[key] = r
        row["estimate"] = r.estimate
        for m in a.ci_methods:
            row[f"{ci_column(m)}_low"], row[f"{ci_column(m)}_high"] = r.ci(m)
    else:
        notes.append(f"{key}: nobody could be assessed; no proportion")
    if rec["n_undecided"]:
        who = ctx.endpoints.ids_with(endpoint_id, rec["visit_code"], None, participants=ids)
        if rec["kind"] == "relapse":
            at_risk = _relapse_at_risk(ctx.endpoints, endpoint_id)
            who = [p for p in who if p in at_risk]
        notes.append(
            f"{key}: {rec['n_undecided']} not assessable (missing value): " + ", ".join(who)
        )
    row["definition"] = rec["definition"]
    return row


def _relapse_at_risk(endpoints: EndpointsResult, endpoint_id: str) -> set[str]:
    s = endpoints.status
    sub = s[(s["endpoint_id"] == endpoint_id) & (s["at_risk"] == True)]  # noqa: E712
    return {str(p) for p in sub["participant_id"]}


# --------------------------------------------------------------------------- mcnemar


def _status_at(endpoints: EndpointsResult, endpoint_id: str, visit: str) -> dict[str, Any]:
    s = endpoints.status
    sub = s[(s["endpoint_id"] == endpoint_id) & (s["visit_code"] == visit)]
    return dict(zip(sub["participant_id"], sub["status"], strict=True))


def _word(status: object) -> str:
    if status is None or (isinstance(status, float) and math.isnan(status)):
        return "missing"
    return "yes" if bool(status) else "no"


def run_mcnemar(a: McNemarAnalysis, ctx: Context) -> McNemarSectionResult:
    """Status transition table between two visits with the exact McNemar test.

    Examples
    --------
    >>> from remit.analysis.examples import example_context
    >>> oslo, ctx = example_context()
    >>> s = run_mcnemar(oslo.analysis.analyses[5], ctx)
    >>> s.table[["endpoint_id", "n", "p_value"]].values.tolist()
    [['madrs_response', 6, 1.0], ['madrs_remission', 6, 1.0]]
    """
    if a.method != "exact":
        raise InputError(
            f"analysis {a.id!r} asks for McNemar method {a.method!r}",
            expected="method 'exact', the one remit.stats implements",
            hint="change the protocol's analysis plan",
        )
    rows: list[dict[str, Any]] = []
    cells: list[dict[str, Any]] = []
    raw: dict[str, Any] = {}
    notes: list[str] = []
    usable: list[ResponseEndpoint | RemissionEndpoint] = []
    for endpoint_id in a.endpoints:
        e = ctx.protocol.endpoint(endpoint_id)
        if not isinstance(e, ResponseEndpoint | RemissionEndpoint):
            notes.append(
                f"{endpoint_id}: only response and remission endpoints have a status "
                "at each visit; skipped"
            )
        elif a.from_visit not in e.visits or a.to_visit not in e.visits:
            notes.append(f"{endpoint_id}: not assessed at both {a.from_visit} and {a.to_visit}")
        else:
            usable.append(e)
    for arm, people in ctx.groups:
        for e in usable:
            first = _status_at(ctx.endpoints, e.id, a.from_visit)
            second = _status_at(ctx.endpoints, e.id, a.to_visit)
            for f_word in ("yes", "no", "missing"):
                for s_word in ("yes", "no", "missing"):
                    ids = [
                        p
                        for p in people
                        if _word(first.get(p)) == f_word and _word(second.get(p)) == s_word
                    ]
                    cells.append(
                        {
                            "arm": arm,
                            "endpoint_id": e.id,
                            "from_visit": a.from_visit,
                            "to_visit": a.to_visit,
                            "from_status": f_word,
                            "to_status": s_word,
                            "n": len(ids),
                            "participant_ids": ids,
                        }
                    )
            x = [_as_number(first.get(p)) for p in people]
            y = [_as_number(second.get(p)) for p in people]
            key = ctx.key(arm, e.id)
            r = estimated(notes, key, mcnemar_exact, x, y, conf_level=ctx.conf_level)
            if r is None:
                continue
            raw[key] = r
            (nn, ny), (yn, yy) = r.table
            rows.append(
                {
                    "arm": arm,
                    "endpoint_id": e.id,
                    "from_visit": a.from_visit,
                    "to_visit": a.to_visit,
                    "n": r.n,
                    "n_dropped": r.n_dropped,
                    "n_yes_yes": yy,
                    "n_yes_no": yn,
                    "n_no_yes": ny,
                    "n_no_no": nn,
                    "p_value": r.p_value,
                    "p_value_method": r.p_value_method,
                    "proportion_first": r.proportion_first,
                    "proportion_second": r.proportion_second,
                    "odds_ratio": r.odds_ratio,
                    "ci_low": r.ci_low,
                    "ci_high": r.ci_high,
                    "definition": e.definition,
                }
            )
    relapses = _relapse_table(a, ctx)
    return McNemarSectionResult(
        tests=pd.DataFrame(rows),
        transitions=pd.DataFrame(cells),
        relapses=relapses,
        **section_fields(
            a,
            stats=raw,
            conventions={
                "test": "exact McNemar: two-sided binomial test on the discordant pairs",
                "odds_ratio_ci": "conditional odds ratio with the Clopper-Pearson interval of "
                "b/(b + c)",
                "missing": "participants with a missing status at either visit are left out of "
                "the test and shown as 'missing' in the transition table",
            },
            notes=tuple(notes),
            headline=headline_frame(
                [
                    headline_row(
                        r,
                        f"{r['endpoint_id']} status change (McNemar)",
                        r["p_value_method"],
                        scale=ctx.protocol.endpoint(r["endpoint_id"]).scale,
                        visit=f"{r['from_visit']}→{r['to_visit']}",
                        estimate=r["proportion_second"] - r["proportion_first"],
                        ci_low=math.nan,  # the row's CI is the odds ratio's, not the difference's
                        ci_high=math.nan,
                        p=r["p_value"],
                    )
                    for r in rows
                ]
            ),
        ),
    )


def _as_number(status: object) -> float:
    if status is None or (isinstance(status, float) and math.isnan(status)):
        return math.nan
    return 1.0 if bool(status) else 0.0


def _relapse_table(a: McNemarAnalysis, ctx: Context) -> pd.DataFrame:
    rows = []
    relapse = [
        e
        for e in ctx.protocol.endpoints
        if isinstance(e, RelapseEndpoint)
        and (e.from_visit, e.to_visit) == (a.from_visit, a.to_visit)
    ]
    for arm, people in ctx.groups:
        counts = ctx.endpoints.counts(participants=people)
        for e in relapse:
            c = counts[counts["endpoint_id"] == e.id].iloc[0]
            rows.append(
                {
                    "arm": arm,
                    "endpoint_id": e.id,
                    "from_visit": e.from_visit,
                    "to_visit": e.to_visit,
                    "n_at_risk": int(c["n_at_risk"]),
                    "n": int(c["n"]),
                    "n_relapsed": int(c["n_yes"]),
                    "participant_ids": ctx.endpoints.ids_with(
                        e.id, e.to_visit, True, participants=people
                    ),
                    "definition": e.definition,
                }
            )
    columns = [
        "arm",
        "endpoint_id",
        "from_visit",
        "to_visit",
        "n_at_risk",
        "n",
        "n_relapsed",
        "participant_ids",
        "definition",
    ]
    return pd.DataFrame(rows, columns=columns)
