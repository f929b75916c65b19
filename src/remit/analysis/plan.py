"""Run the protocol's analysis plan on a trial's data: :func:`run_analysis_plan`."""

from __future__ import annotations

import platform
from datetime import UTC, datetime
from importlib import metadata

import pandas as pd

from remit.analysis.blinded import BLINDED_ARM, arms_concealed, pooled_protocol
from remit.analysis.context import build_context
from remit.analysis.data import TrialData
from remit.analysis.datasets import build_adqs, build_adsl
from remit.analysis.result import AnalysisResult, Provenance, SectionResult
from remit.analysis.scale_info import scale_infos
from remit.analysis.sections import run_section
from remit.errors import InputError
from remit.protocol import Protocol

__all__ = [
    "BLINDED_ARM",
    "ArmsConcealedError",
    "NothingToAnalyseError",
    "missing_data_table",
    "run_analysis_plan",
    "software_versions",
]

SOFTWARE = ("remit", "numpy", "scipy", "pandas", "statsmodels")


class NothingToAnalyseError(InputError):
    """The data hold nothing the plan can analyse (nobody enrolled, no scores).

    Examples
    --------
    >>> issubclass(NothingToAnalyseError, InputError)
    True
    """


def software_versions() -> dict[str, str]:
    """Versions of Python and of the packages that shape the numbers.

    Examples
    --------
    >>> sorted(software_versions())
    ['numpy', 'pandas', 'python', 'remit', 'scipy', 'statsmodels']
    """
    out = {"python": platform.python_version()}
    for name in SOFTWARE:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        return now.replace(tzinfo=UTC)
    return now.astimezone(UTC)


class ArmsConcealedError(InputError):
    """A randomised trial's data without the arms where the by-arm plan is required.

    Examples
    --------
    >>> issubclass(ArmsConcealedError, InputError)
    True
    """


def _arms_required(data: TrialData, protocol: Protocol) -> None:
    """Refuse blinded data of a randomised protocol when the caller needs the arms."""
    people = data.participants
    n = int(people["participant_id"].isin(set(data.enrolled_ids)).sum())
    raise ArmsConcealedError(
        f"the arms of the {n} enrolled participants of the randomised protocol "
        f"{protocol.study.id} are concealed (blinded data): the plan compares arms",
        expected="unblinded data: each participant's arm read from the randomisation list",
        hint="as the unblinded statistician, with the allocation key configured, build the "
        "data with build_trial_data(engine, actor=..., unblinded=True); without the arms the "
        "plan runs blinded (pooled) when require_arms is false",
    )


def _check_something(data: TrialData, protocol: Protocol) -> None:
    n_people = len(data.participants)
    if not data.enrolled_ids:
        raise NothingToAnalyseError(
            f"nothing to analyse: no participant is enrolled ({n_people} in the participants "
            "table, none with an enrolled status or enrolment date)",
            expected="at least one enrolled participant with scale scores",
            hint="enrol participants and record assessments first",
        )
    enrolled = set(data.enrolled_ids)
    s = data.scores
    totals = s[s["participant_id"].isin(enrolled) & s["total"].notna()]
    if totals.empty:
        raise NothingToAnalyseError(
            f"nothing to analyse: no scale total is recorded for the {len(enrolled)} enrolled "
            f"participant{'s' if len(enrolled) != 1 else ''}",
            expected="scores (e.g. "
            + ", ".join(sorted({sc for v in protocol.visits for sc in v.scales()})[:4])
            + " totals) for enrolled participants",
            hint="record the baseline assessments first",
        )


def missing_data_table(
    protocol: Protocol, totals: pd.DataFrame, population: tuple[str, ...]
) -> pd.DataFrame:
    """Per (scale, visit) used by the plan: n in the population, observed, missing, who.

    Examples
    --------
    >>> from remit.protocol import load_protocol
    >>> t = missing_data_table(load_protocol("oslo-mdma-mdd"), pd.DataFrame(
    ...     {"participant_id": ["P1"], "scale": ["madrs"], "visit_code": ["V3"],
    ...      "AVAL": [30.0]}), ("P1", "P2"))
    >>> t[(t.scale == "madrs") & (t.visit_code == "V3")][["n_observed", "n_missing"]].values
    array([[1, 1]])
    """
    pairs: dict[tuple[str, str], None] = {}
    for a in protocol.analysis.analyses:
        for scale in a.scale_refs():
            for visit in a.visit_refs():
                pairs[(scale, visit)] = None
    for e in protocol.endpoints:
        for visit in e.visit_refs():
            pairs[(e.scale, visit)] = None
    rows = []
    for scale, visit in pairs:
        sub = totals[
            (totals["scale"] == scale) & (totals["visit_code"] == visit) & totals["AVAL"].notna()
        ]
        seen = set(sub["participant_id"])
        missing = [p for p in population if p not in seen]
        rows.append(
            {
                "scale": scale,
                "visit_code": visit,
                "n_population": len(population),
                "n_observed": len(population) - len(missing),
                "n_missing": len(missing),
                "missing_ids": missing,
            }
        )
    order = {c: i for i, c in enumerate(protocol.visit_codes)}
    table = pd.DataFrame(
        rows,
        columns=["scale", "visit_code", "n_population", "n_observed", "n_missing", "missing_ids"],
    )
    table["_o"] = table["visit_code"].map(lambda c: order.get(c, len(order)))
    return table.sort_values(["scale", "_o"]).drop(columns="_o").reset_index(drop=True)


def run_analysis_plan(
    data: TrialData,
    protocol: Protocol,
    *,
    now: datetime | None = None,
    require_arms: bool = False,
) -> AnalysisResult:
    """Run every analysis of ``protocol.analysis`` on ``data`` with :mod:`remit.stats`.

    Parameters
    ----------
    data
        The trial's data.
    protocol
        The protocol; its analysis plan says what is run (nothing is hard-coded).
    now
        The time to record as the run time (UTC; default: the current time).
    require_arms
        Refuse blinded data of a randomised protocol instead of analysing them pooled.

    Blinded data of a randomised protocol (every enrolled participant's arm concealed: a
    blinded role's data, see :func:`remit.analysis.blinded.arms_concealed`) are analysed
    pooled, both arms together, with :func:`remit.analysis.blinded.pooled_protocol`: the
    result's ``blinded`` is true and nothing in it is by arm.

    Returns
    -------
    AnalysisResult
        One section per analysis, in plan order, with provenance.

    Raises
    ------
    NothingToAnalyseError
        Nobody is enrolled, or no scale total is recorded for the enrolled participants.
    ArmsConcealedError
        ``require_arms`` and the protocol is randomised and no enrolled participant's arm is
        known (blinded data).
    InputError
        The plan asks for a method :mod:`remit.stats` does not implement.

    Examples
    --------
    >>> from remit.protocol import load_protocol
    >>> run_analysis_plan(TrialData(), load_protocol("oslo-mdma-mdd"))
    Traceback (most recent call last):
    ...
    remit.analysis.plan.NothingToAnalyseError: nothing to analyse: no participant is enrolled ...
    """
    _check_something(data, protocol)
    blinded = arms_concealed(data, protocol)
    if blinded and require_arms:
        _arms_required(data, protocol)
    if blinded:
        protocol = pooled_protocol(protocol)
    adsl = build_adsl(data, protocol)
    adqs = build_adqs(data, protocol)
    ctx = build_context(data, protocol, adqs)
    population = ctx.population
    endpoints = ctx.endpoints
    totals = ctx.totals
    sections: list[SectionResult] = [run_section(a, ctx) for a in protocol.analysis.analyses]
    provenance = Provenance(
        protocol_id=protocol.study.id,
        protocol_version=protocol.study.version,
        protocol_sha256=protocol.sha256,
        protocol_source=protocol.source,
        data_sha256=data.snapshot_sha256(),
        simulated=data.simulated or bool(data.participants["simulated"].any()),
        created_at=_utc(now).isoformat(),
        software=software_versions(),
    )
    return AnalysisResult(
        provenance=provenance,
        alpha=protocol.analysis.alpha,
        sides=protocol.analysis.sides,
        ci_level=protocol.analysis.ci_level,
        missing_data_policy=protocol.analysis.missing_data,
        population=population,
        adsl=adsl,
        adqs=adqs,
        endpoints=endpoints,
        missing=missing_data_table(protocol, totals, population),
        sections=tuple(sections),
        scales=scale_infos(protocol, (str(c) for c in totals["scale"].unique())),
        estimands=tuple(e.describe() for e in protocol.estimands),
        blinded=blinded,
    )
