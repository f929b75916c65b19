"""Endpoints from the protocol's definitions: change, response, remission, relapse, sustained
response and time to relapse, per participant, each with its definition in words.

The analysis population is the full analysis set: every participant ever enrolled. Values are
the analysis records of ADQS (see :mod:`remit.analysis.datasets`). A status that cannot be
decided (a value missing) is ``None`` — never counted as yes or no.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from pydantic import BaseModel

from remit.analysis.data import TrialData, frame_records
from remit.analysis.datasets import (
    baseline_visits,
    remits,
    responds,
    scale_values,
    visit_order,
)
from remit.protocol import (
    ChangeEndpoint,
    Protocol,
    RelapseEndpoint,
    RemissionEndpoint,
    ResponseEndpoint,
    SustainedResponseEndpoint,
)

CHANGE_COLUMNS = (
    "endpoint_id",
    "participant_id",
    "scale",
    "from_visit",
    "to_visit",
    "baseline",
    "value",
    "change",
    "pct_change",
)
STATUS_COLUMNS = (
    "endpoint_id",
    "kind",
    "participant_id",
    "scale",
    "visit_code",
    "baseline",
    "value",
    "pct_change",
    "at_risk",
    "status",
)
TIME_COLUMNS = (
    "endpoint_id",
    "participant_id",
    "at_risk",
    "event",
    "time_days",
    "event_visit",
    "last_visit",
)


def _f(x: object) -> float:
    if x is None:
        return math.nan
    try:
        return float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


@dataclass(frozen=True, eq=False)
class EndpointsResult:
    """Every endpoint of the protocol, per participant.

    Attributes
    ----------
    definitions
        Endpoint id → the definition in words (generated from the protocol's parameters).
    labels, kinds, roles
        Endpoint id → label, kind (change, response, …) and role (primary, secondary, …).
    change
        One row per change endpoint × participant: endpoint_id, participant_id, scale,
        from_visit, to_visit, baseline, value, change (to − from), pct_change.
    status
        One row per binary endpoint × participant × visit: endpoint_id, kind, participant_id,
        scale, visit_code (for sustained response the last of its visits; for relapse the
        ``to_visit``), baseline (the value at the scale's baseline visit; for relapse the value
        at ``from_visit``), value, pct_change, at_risk (relapse: remitter at ``from_visit``;
        True for the other kinds), status (True, False or None when it cannot be decided).
    time_to_relapse
        One row per relapse endpoint × participant at risk: time in days from the
        ``from_visit`` assessment to the first assessment (up to ``to_visit``) out of remission
        (``event`` True), or to the last assessment in remission (``event`` False, censored).
    population
        Ids of the participants analysed (everyone enrolled).

    Examples
    --------
    >>> from remit.protocol import load_protocol
    >>> r = derive_endpoints(TrialData(), load_protocol("oslo-mdma-mdd"))
    >>> r.definitions["madrs_remission"].endswith("madrs total ≤ 10")
    True
    """

    definitions: dict[str, str]
    labels: dict[str, str]
    kinds: dict[str, str]
    roles: dict[str, str]
    change: pd.DataFrame
    status: pd.DataFrame
    time_to_relapse: pd.DataFrame
    population: tuple[str, ...]

    def counts(self, participants: Sequence[str] | None = None) -> pd.DataFrame:
        """Per binary endpoint and visit: n analysed, n yes, n no, n undecided.

        ``participants`` restricts the counts to those ids (e.g. one arm); default everyone
        analysed.

        Examples
        --------
        >>> from remit.protocol import load_protocol
        >>> r = derive_endpoints(TrialData(), load_protocol("oslo-mdma-mdd"))
        >>> list(r.counts().columns)[:4]
        ['endpoint_id', 'kind', 'visit_code', 'n_population']
        """
        rows = []
        s = self.status
        population = self.population if participants is None else tuple(participants)
        if participants is not None:
            s = s[s["participant_id"].isin(set(population))]
        keys = self.status[["endpoint_id", "kind", "visit_code"]].drop_duplicates()
        for endpoint_id, kind, visit in keys.itertuples(index=False):
            sub = s[(s["endpoint_id"] == endpoint_id) & (s["visit_code"] == visit)]
            if kind == "relapse":
                sub = sub[sub["at_risk"] == True]  # noqa: E712 - object column of bools/None
            decided = sub["status"].map(lambda v: v is not None and not pd.isna(v))
            yes = int(sum(bool(v) for v in sub.loc[decided, "status"]))
            n = int(decided.sum())
            rows.append(
                {
                    "endpoint_id": endpoint_id,
                    "kind": kind,
                    "visit_code": visit,
                    "n_population": len(population),
                    "n_at_risk": len(sub) if kind == "relapse" else len(population),
                    "n": n,
                    "n_yes": yes,
                    "n_no": n - yes,
                    "n_undecided": int((~decided).sum()),
                    "definition": self.definitions[endpoint_id],
                }
            )
        columns = [
            "endpoint_id",
            "kind",
            "visit_code",
            "n_population",
            "n_at_risk",
            "n",
            "n_yes",
            "n_no",
            "n_undecided",
            "definition",
        ]
        return pd.DataFrame(rows, columns=columns)

    def ids_with(
        self,
        endpoint_id: str,
        visit_code: str,
        status: bool | None = True,
        participants: Sequence[str] | None = None,
    ) -> list[str]:
        """Participants whose status for ``endpoint_id`` at ``visit_code`` is ``status``
        (``None``: undecided), among ``participants`` if given.

        Examples
        --------
        >>> from remit.protocol import load_protocol
        >>> derive_endpoints(TrialData(), load_protocol("oslo-mdma-mdd")).ids_with(
        ...     "madrs_response", "V13")
        []
        """
        s = self.status
        sub = s[(s["endpoint_id"] == endpoint_id) & (s["visit_code"] == visit_code)]
        if participants is not None:
            sub = sub[sub["participant_id"].isin(set(participants))]
        if status is None:
            return [
                str(p)
                for p, v in zip(sub["participant_id"], sub["status"], strict=True)
                if v is None or pd.isna(v)
            ]
        return [
            str(p)
            for p, v in zip(sub["participant_id"], sub["status"], strict=True)
            if v is not None and not pd.isna(v) and bool(v) == status
        ]

    def to_frame(self) -> pd.DataFrame:
        """Change and status rows in one long table, each with its definition.

        Examples
        --------
        >>> from remit.protocol import load_protocol
        >>> derive_endpoints(TrialData(), load_protocol("oslo-mdma-mdd")).to_frame().empty
        True
        """
        change = self.change.assign(kind="change", visit_code=self.change["to_visit"])
        frames = [f for f in (change, self.status) if not f.empty]
        if not frames:
            long = pd.DataFrame(columns=["endpoint_id", "kind", "participant_id", "definition"])
        else:
            long = pd.concat(frames, ignore_index=True)
        long["definition"] = long["endpoint_id"].map(self.definitions)
        return long

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: definitions and every row, numbers unrounded.

        Examples
        --------
        >>> from remit.protocol import load_protocol
        >>> d = derive_endpoints(TrialData(), load_protocol("oslo-mdma-mdd")).to_dict()
        >>> sorted(d)[:3]
        ['change', 'counts', 'definitions']
        """
        return {
            "definitions": dict(self.definitions),
            "labels": dict(self.labels),
            "kinds": dict(self.kinds),
            "roles": dict(self.roles),
            "population": list(self.population),
            "change": frame_records(self.change),
            "status": frame_records(self.status),
            "time_to_relapse": frame_records(self.time_to_relapse),
            "counts": frame_records(self.counts()),
        }

    def summary(self) -> str:
        """Definitions and counts in words.

        Examples
        --------
        >>> from remit.protocol import load_protocol
        >>> print(derive_endpoints(TrialData(), load_protocol("oslo-mdma-mdd")).summary()
        ...       .splitlines()[0])
        Endpoints (0 participants analysed)
        """
        lines = [f"Endpoints ({len(self.population)} participants analysed)"]
        for endpoint_id, text in self.definitions.items():
            lines.append(f"- {endpoint_id} [{self.roles[endpoint_id]}]: {text}")
            if self.kinds[endpoint_id] == "change":
                sub = self.change[self.change["endpoint_id"] == endpoint_id]
                values = sub["change"].dropna()
                if len(values):
                    lines.append(
                        f"    n = {len(values)}, mean change {float(values.mean())!r}, "
                        f"{len(sub) - len(values)} missing"
                    )
        counts = self.counts()
        for row in counts.itertuples(index=False):
            lines.append(
                f"- {row.endpoint_id} at {row.visit_code}: {row.n_yes} of {row.n} "
                f"({row.n_undecided} undecided)"
            )
        return "\n".join(lines)


def _totals(data: TrialData, protocol: Protocol) -> pd.DataFrame:
    long = scale_values(data, protocol, parts=("total",))
    return long[long["ANL01FL"] == "Y"]


def derive_endpoints(data: TrialData, protocol: Protocol) -> EndpointsResult:
    """Derive every endpoint of ``protocol`` for every enrolled participant.

    Parameters
    ----------
    data
        The trial's data.
    protocol
        The protocol whose ``endpoints`` define what is derived (nothing is hard-coded).

    Returns
    -------
    EndpointsResult

    Examples
    --------
    >>> import pandas as pd
    >>> from remit.protocol import load_protocol
    >>> people = pd.DataFrame({"participant_id": ["P1"], "site": ["OST"], "arm": ["MDMA"],
    ...     "sex": ["female"], "age_years": [40], "status": ["completed"],
    ...     "screened_date": ["2023-01-02"], "enrolled_date": ["2023-01-09"],
    ...     "ineligible_reasons": [[]], "withdrawn_reason": [None], "simulated": [False]})
    >>> scores = pd.DataFrame({"participant_id": ["P1", "P1"], "visit_code": ["V3", "V13"],
    ...     "study_day": [-3, 98], "scale": ["madrs", "madrs"], "version": ["default"] * 2,
    ...     "total": [30, 15], "band": [None, None], "n_missing": [0, 0],
    ...     "prorated": [False, False], "assessed_at": ["2023-01-20T10:00Z", "2023-05-01T10:00Z"],
    ...     "items": [{}, {}], "subscales": [{}, {}], "derived": [{}, {}]})
    >>> r = derive_endpoints(TrialData(participants=people, scores=scores),
    ...                      load_protocol("oslo-mdma-mdd"))
    >>> r.ids_with("madrs_response", "V13"), r.ids_with("madrs_remission", "V13", False)
    (['P1'], ['P1'])
    """
    population = data.enrolled_ids
    totals = _totals(data, protocol)
    totals = totals[totals["participant_id"].isin(population)]
    by_key = {
        (str(p), str(s), str(v)): (float(a), _f(d))
        for p, s, v, a, d in zip(
            totals["participant_id"],
            totals["scale"],
            totals["visit_code"],
            totals["AVAL"],
            totals["study_day"],
            strict=True,
        )
    }

    def value(pid: str, scale: str, visit: str) -> float:
        return by_key.get((pid, scale, visit), (math.nan, math.nan))[0]

    def day(pid: str, scale: str, visit: str) -> float:
        return by_key.get((pid, scale, visit), (math.nan, math.nan))[1]

    values = _Values(
        value, day, visit_order(protocol, totals["visit_code"]), baseline_visits(protocol)
    )
    rows = _Rows()
    for e in protocol.endpoints:
        derive = DERIVERS[type(e)]
        for pid in population:
            derive(e, pid, values, rows)
    change_rows, status_rows, time_rows = rows.change, rows.status, rows.time
    definitions = {e.id: e.definition for e in protocol.endpoints}
    return EndpointsResult(
        definitions=definitions,
        labels={e.id: e.label for e in protocol.endpoints},
        kinds={e.id: e.kind for e in protocol.endpoints},
        roles={e.id: e.role for e in protocol.endpoints},
        change=_frame(change_rows, CHANGE_COLUMNS),
        status=_frame(status_rows, STATUS_COLUMNS),
        time_to_relapse=_frame(time_rows, TIME_COLUMNS),
        population=population,
    )


@dataclass(frozen=True)
class _Values:
    """Look-ups a deriver needs: a total and its study day by (participant, scale, visit),
    the visit order and each scale's baseline visit."""

    value: Callable[[str, str, str], float]
    day: Callable[[str, str, str], float]
    order: dict[str, int]
    baselines: dict[str, str]


@dataclass
class _Rows:
    """What the derivers produce: change rows, status rows and time-to-event rows."""

    change: list[dict[str, Any]] = field(default_factory=list)
    status: list[dict[str, Any]] = field(default_factory=list)
    time: list[dict[str, Any]] = field(default_factory=list)


def _derive_change(e: ChangeEndpoint, pid: str, at: _Values, out: _Rows) -> None:
    base = at.value(pid, e.scale, e.from_visit)
    val = at.value(pid, e.scale, e.to_visit)
    chg = val - base
    out.change.append(
        {
            "endpoint_id": e.id,
            "participant_id": pid,
            "scale": e.scale,
            "from_visit": e.from_visit,
            "to_visit": e.to_visit,
            "baseline": base,
            "value": val,
            "change": chg,
            "pct_change": 100.0 * chg / base if base else math.nan,
        }
    )


def _derive_response(e: ResponseEndpoint, pid: str, at: _Values, out: _Rows) -> None:
    for visit in e.visits:
        val = at.value(pid, e.scale, visit)
        base = at.value(pid, e.scale, e.baseline_visit)
        status = responds(base, val, e.min_reduction_pct)
        out.status.append(_status_row(e.id, e.kind, pid, e.scale, visit, base, val, True, status))


def _derive_remission(e: RemissionEndpoint, pid: str, at: _Values, out: _Rows) -> None:
    for visit in e.visits:
        val = at.value(pid, e.scale, visit)
        base_visit = at.baselines.get(e.scale)
        base = at.value(pid, e.scale, base_visit) if base_visit else math.nan
        status = remits(val, e.max_total)
        out.status.append(_status_row(e.id, e.kind, pid, e.scale, visit, base, val, True, status))


def _derive_sustained(e: SustainedResponseEndpoint, pid: str, at: _Values, out: _Rows) -> None:
    base = at.value(pid, e.scale, e.baseline_visit)
    each = [responds(base, at.value(pid, e.scale, v), e.min_reduction_pct) for v in e.visits]
    status: bool | None
    if any(s is False for s in each):
        status = False
    elif all(s is True for s in each):
        status = True
    else:
        status = None
    last = e.visits[-1]
    val = at.value(pid, e.scale, last)
    out.status.append(_status_row(e.id, e.kind, pid, e.scale, last, base, val, True, status))


def _derive_relapse(e: RelapseEndpoint, pid: str, at: _Values, out: _Rows) -> None:
    start = at.value(pid, e.scale, e.from_visit)
    at_risk = remits(start, e.max_total)
    end = at.value(pid, e.scale, e.to_visit)
    lost = remits(end, e.max_total)
    status = None if at_risk is not True or lost is None else not lost
    out.status.append(
        _status_row(e.id, e.kind, pid, e.scale, e.to_visit, start, end, at_risk, status)
    )
    if at_risk is True:
        out.time.append(_time_to_relapse(e, pid, at.value, at.day, at.order))


Deriver = Callable[[Any, str, _Values, _Rows], None]

#: Endpoint class of the protocol → the function deriving it for one participant (one per
#: :data:`remit.protocol.ENDPOINT_KINDS`).
DERIVERS: dict[type[BaseModel], Deriver] = {
    ChangeEndpoint: _derive_change,
    ResponseEndpoint: _derive_response,
    RemissionEndpoint: _derive_remission,
    RelapseEndpoint: _derive_relapse,
    SustainedResponseEndpoint: _derive_sustained,
}


def _status_row(
    endpoint_id: str,
    kind: str,
    pid: str,
    scale: str,
    visit: str,
    base: float,
    val: float,
    at_risk: bool | None,
    status: bool | None,
) -> dict[str, Any]:
    pct = 100.0 * (val - base) / base if base and not math.isnan(base) else math.nan
    return {
        "endpoint_id": endpoint_id,
        "kind": kind,
        "participant_id": pid,
        "scale": scale,
        "visit_code": visit,
        "baseline": base,
        "value": val,
        "pct_change": pct,
        "at_risk": at_risk,
        "status": status,
    }


def _time_to_relapse(
    e: RelapseEndpoint,
    pid: str,
    value: Any,
    day: Any,
    order: dict[str, int],
) -> dict[str, Any]:
    lo, hi = order[e.from_visit], order[e.to_visit]
    between = sorted((c for c, n in order.items() if lo < n <= hi), key=order.__getitem__)
    start_day = day(pid, e.scale, e.from_visit)
    event_visit = None
    last_visit = e.from_visit
    for visit in between:
        val = value(pid, e.scale, visit)
        if math.isnan(val):
            continue
        last_visit = visit
        if not remits(val, e.max_total):
            event_visit = visit
            break
    end_visit = event_visit or last_visit
    return {
        "endpoint_id": e.id,
        "participant_id": pid,
        "at_risk": True,
        "event": event_visit is not None,
        "time_days": day(pid, e.scale, end_visit) - start_day,
        "event_visit": event_visit,
        "last_visit": last_visit,
    }


def _frame(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(columns))
    for col in ("baseline", "value", "change", "pct_change", "time_days"):
        if col in frame:
            frame[col] = frame[col].astype(float)
    for col in ("status", "at_risk", "event"):
        if col in frame:
            frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    return frame


__all__ = ["DERIVERS", "EndpointsResult", "derive_endpoints"]
