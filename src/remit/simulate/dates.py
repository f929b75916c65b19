"""The protocol facts the cohort generator reads, the dates it draws and the MADRS course
along them.

:func:`read_design` reads once what :func:`remit.simulate.plan_cohort` needs from the protocol
(baseline, primary and follow-up visits, thresholds, screening, enrolment and termination
visits); :func:`draw_visit_dates` draws each visit's date within its window from its anchor's
date; :func:`madrs_course` gives the MADRS total at every visit that rates it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import numpy as np

from remit.errors import InputError
from remit.protocol import (
    ChangeEndpoint,
    Protocol,
    RelapseEndpoint,
    RemissionEndpoint,
    ResponseEndpoint,
    compute_schedule,
)
from remit.simulate.outcomes import OutcomeCourse, Thresholds


@dataclass(frozen=True)
class Design:
    """The protocol facts the generator needs, read once."""

    baseline_visit: str
    primary_visit: str
    followup_visit: str
    thresholds: Thresholds
    first_visit: str
    enrol_visit: str
    eligibility_visit: str
    termination_visit: str | None


def read_design(protocol: Protocol) -> Design:
    """The facts of ``protocol`` the generator needs; :class:`~remit.errors.InputError` when it
    lacks a MADRS change endpoint, a follow-up visit, or screening and enrolment visits."""
    madrs = [e for e in protocol.endpoints if e.scale == "madrs"]
    change = [e for e in madrs if isinstance(e, ChangeEndpoint)]
    primary = [e for e in change if e.role == "primary"] or change
    if not primary:
        raise InputError(
            f"protocol {protocol.study.id} has no change endpoint on madrs",
            hint="the synthetic trial needs a MADRS change endpoint (from_visit, to_visit)",
        )
    main = primary[0]
    relapse = [e for e in madrs if isinstance(e, RelapseEndpoint)]
    response = [e for e in madrs if isinstance(e, ResponseEndpoint)]
    remission = [e for e in madrs if isinstance(e, RemissionEndpoint)]
    later = [e.to_visit for e in change if e.to_visit != main.to_visit]
    followup = relapse[0].to_visit if relapse else (later[0] if later else None)
    if followup is None:
        raise InputError(
            f"protocol {protocol.study.id} has no follow-up visit after {main.to_visit}",
            hint="add a relapse endpoint (from_visit, to_visit) or a second change endpoint",
        )
    kinds = {v.code: v.kind for v in protocol.visits}
    codes = protocol.visit_codes
    enrol = next((c for c in codes if kinds[c] == "enrolment"), None)
    screening = [c for c in codes if kinds[c] == "screening"]
    if enrol is None or not screening:
        raise InputError(
            f"protocol {protocol.study.id} has no screening or enrolment visit",
            hint="the synthetic trial screens people at kind='screening' visits and enrols "
            "them at the kind='enrolment' visit",
        )
    # without a response or remission endpoint the generator keeps Thresholds' defaults
    default = Thresholds()
    thresholds = Thresholds(
        response_reduction_pct=(
            response[0].min_reduction_pct if response else default.response_reduction_pct
        ),
        remission_max=int(remission[0].max_total) if remission else default.remission_max,
        entry_min=_entry_min(protocol),
    )
    return Design(
        baseline_visit=main.from_visit,
        primary_visit=main.to_visit,
        followup_visit=followup,
        thresholds=thresholds,
        first_visit=screening[0],
        enrol_visit=enrol,
        eligibility_visit=screening[-1],
        termination_visit=next((c for c in codes if kinds[c] == "termination"), None),
    )


def _entry_min(protocol: Protocol) -> int:
    for c in protocol.eligibility.criteria:
        if c.field == "madrs_total" and c.op in (">=", ">") and isinstance(c.value, int | float):
            return int(c.value) + (1 if c.op == ">" else 0)
    return 20


def clock(day: date, minutes: int) -> datetime:
    """``minutes`` after midnight UTC of ``day``."""
    return datetime.combine(day, time(0, 0), tzinfo=UTC) + timedelta(minutes=minutes)


def _visit_date(target: date, window: tuple[int, int], kind: str, rng: np.random.Generator) -> date:
    """A date within the window, close to the target, on a weekday; rarely late (a deviation)."""
    low, high = window
    if kind in ("preparatory", "integration", "termination") and rng.random() < 0.012:
        return target + timedelta(days=high + int(rng.integers(1, 4)))
    lo, hi = max(low, -2), min(high, 3)
    offset = int(rng.integers(lo, hi + 1)) if hi >= lo else 0
    day = target + timedelta(days=offset)
    for shift in (0, 1, -1, 2, -2):
        candidate = day + timedelta(days=shift)
        if candidate.weekday() < 5 and low <= (candidate - target).days <= high:
            return candidate
    return day


def draw_visit_dates(
    protocol: Protocol, referral: date, rng: np.random.Generator, until: str | None = None
) -> dict[str, date]:
    """Actual dates of every visit (up to ``until``), each from its anchor's actual date."""
    dates: dict[str, date] = {}
    anchors = {e.code: referral for e in protocol.events}
    for visit in protocol.visits:
        anchor = dates.get(visit.anchor, anchors.get(visit.anchor))
        if anchor is None:
            raise InputError(
                f"visit {visit.code} is anchored to {visit.anchor}, which has no date",
                hint="the synthetic trial anchors the first visits to the protocol's events",
            )
        target = anchor + timedelta(days=visit.target_day)
        dates[visit.code] = _visit_date(target, visit.window, visit.kind, rng)
        if visit.code == until:
            break
    return dates


def visit_start_minute(rng: np.random.Generator) -> int:
    """Minutes after midnight UTC that a visit starts (08:00-13:45, quarter hours)."""
    return 8 * 60 + 15 * int(rng.integers(0, 24))


def madrs_course(
    protocol: Protocol, design: Design, dates: Mapping[str, date], outcome: OutcomeCourse
) -> dict[str, int]:
    """MADRS totals at every visit that rates it: the planned totals at baseline, primary and
    follow-up visits; in between, a straight line in time."""
    known = {
        design.baseline_visit: outcome.madrs[0],
        design.primary_visit: outcome.madrs[1],
        design.followup_visit: outcome.madrs[2],
    }
    found: dict[str, int] = {}
    anchors = sorted(known, key=lambda c: dates[c])
    for code in dates:
        if not any(f.scale == "madrs" for f in protocol.assessments_at(code)):
            continue
        if code in known:
            found[code] = known[code]
            continue
        day = dates[code]
        before = [c for c in anchors if dates[c] <= day] or anchors[:1]
        after = [c for c in anchors if dates[c] >= day] or anchors[-1:]
        a, z = before[-1], after[0]
        span = max((dates[z] - dates[a]).days, 1)
        w = min(max((day - dates[a]).days / span, 0.0), 1.0)
        found[code] = round(known[a] + w * (known[z] - known[a]))
    return found


def sds_between(madrs_at: Mapping[str, int], code: str, outcome: OutcomeCourse) -> int:
    """SDS total at a visit without a planned SDS total: the baseline SDS scaled by how far
    MADRS has moved from its baseline there."""
    ratio = madrs_at.get(code, outcome.madrs[0]) / outcome.madrs[0]
    return int(np.clip(round(outcome.sds[0] * (0.05 + 0.95 * ratio)), 0, 30))


#: The reason the synthetic trial gives for a visit it dates outside its window on purpose.
LATE_VISIT_REASON = "participant could not attend within the window (simulated)"


def window_reason_for(
    protocol: Protocol, referral: date, done: Mapping[str, date], code: str, day: date
) -> dict[str, str]:
    """``{"window_reason": …}`` when visit ``code`` on ``day`` falls outside its window (after
    the visits ``done``), else ``{}``: the arguments the visit step adds to be recorded."""
    actual = {k: v for k, v in done.items() if k != code} | {code: day}
    anchors = {e.code: referral for e in protocol.events}
    timing = compute_schedule(protocol, anchors, actual).visit(code).timing
    if timing is not None and timing.status == "out_of_window":
        return {"window_reason": LATE_VISIT_REASON}
    return {}
