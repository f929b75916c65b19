"""Planned dosing-day readings that were not recorded: a pure function over what was taken.

A dosing session plans vital signs before the dose (``pre_dose``) and every ``every_min``
minutes after the initial dose up to ``until_min``, and a rating of subjective effects at
each of its ``vas_timepoints``. A planned reading not recorded ``[safety.missed] grace_min``
minutes after it was due raises one alert (level and text from ``[safety.missed]``), with
the rule id ``missed:vitals:<minute>`` (``missed:vitals:pre-dose``) or
``missed:vas:<timepoint>``, so that a slot is flagged once however often the check runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from remit.errors import InputError
from remit.protocol.model import Protocol
from remit.safety.rules import Alert, SafetyResult, _require_aware

#: When each VAS timepoint word of a dosing session is due: at the initial dose, at the
#: supplemental dose (or, when none is recorded, when its offer window closes), at the end of
#: the session (or after ``duration_h`` while it runs). Other words cannot be timed and are
#: listed as not evaluated.
VAS_DUE: Mapping[str, str] = {
    "initial_dose": "the initial dose",
    "before_supplemental": "the supplemental dose (or the end of its offer window)",
    "end_of_session": "the end of the session",
}


def missed_slots(
    protocol: Protocol,
    visit_code: str,
    *,
    initial_at: datetime,
    vitals_taken: Iterable[float],
    vas_taken: Iterable[str],
    now: datetime,
    supplemental_at: datetime | None = None,
    ended_at: datetime | None = None,
) -> SafetyResult:
    """The planned readings of the dosing session at ``visit_code`` not recorded by ``now``.

    A reading after the dose counts for the planned minute ``m`` when it was taken within
    half an interval of it (``m − every_min/2 < minute ≤ m + every_min/2``); a reading at or
    before minute 0 counts for the pre-dose one. A slot is missed when it is not covered and
    ``now`` is more than ``grace_min`` after it was due; slots due after the session ended
    (``ended_at``) are not expected. Each alert's ``due_at`` is when the slot was due.

    Parameters
    ----------
    protocol
        The protocol (the dosing session at ``visit_code``; ``[safety.missed]``).
    visit_code
        The dosing visit.
    initial_at
        When the initial dose was given (the minutes count from it).
    vitals_taken
        Minutes after the initial dose of each vital-sign reading (negative: before it).
    vas_taken
        The VAS timepoints rated.
    now
        The time of the check (time-zone aware).
    supplemental_at
        When the supplemental dose was given, offered or withheld, if it has been.
    ended_at
        When the session ended, if it has.

    Examples
    --------
    >>> from datetime import UTC, datetime, timedelta
    >>> from remit.protocol import load_protocol
    >>> p = load_protocol("oslo-mdma-mdd")
    >>> t0 = datetime(2024, 3, 1, 8, 15, tzinfo=UTC)
    >>> late = missed_slots(p, "V5", initial_at=t0, vitals_taken=[-10, 30, 91],
    ...                     vas_taken=["initial_dose"], now=t0 + timedelta(minutes=100))
    >>> [a.rule_id for a in late.alerts]
    ['missed:vitals:60']
    """
    _require_aware(initial_at, "initial dose time")
    _require_aware(now, "current time")
    session = protocol.dosing_session(visit_code)
    if session is None:
        raise InputError(
            f"{visit_code} holds no dosing session",
            expected="the visit of a [[dosing]] session of the protocol",
        )
    rule = protocol.safety.missed
    if rule is None:
        return SafetyResult(not_evaluated=(("missed", "the protocol has no [safety.missed]"),))
    grace = timedelta(minutes=rule.grace_min)
    taken = list(vitals_taken)
    half = session.vitals.every_min / 2
    planned: list[tuple[str, str, datetime]] = []
    if session.vitals.pre_dose and not any(t <= 0 for t in taken):
        planned.append(("vitals:pre-dose", "vital signs before the dose", initial_at))
    for m in session.vitals.timepoints_min():
        if not any(m - half < t <= m + half for t in taken):
            due = initial_at + timedelta(minutes=m)
            planned.append((f"vitals:{m}", f"vital signs at {m} min", due))
    skipped: list[tuple[str, str]] = []
    rated = set(vas_taken)
    offer_end = initial_at + timedelta(minutes=session.supplemental_offer_min[1])
    vas_at = {
        "initial_dose": initial_at,
        "before_supplemental": supplemental_at or offer_end,
        "end_of_session": ended_at or initial_at + timedelta(hours=session.duration_h),
    }
    for timepoint in session.vas_timepoints:
        if timepoint in rated:
            continue
        if timepoint not in vas_at:
            skipped.append(
                (
                    f"missed:vas:{timepoint}",
                    "Remit cannot time this VAS timepoint (" + ", ".join(VAS_DUE) + " it can)",
                )
            )
            continue
        planned.append((f"vas:{timepoint}", f"VAS rating at {timepoint}", vas_at[timepoint]))
    alerts = []
    for slot, words, due in planned:
        if ended_at is not None and due > ended_at:
            continue
        if now <= due + grace:
            continue
        alerts.append(
            Alert(
                rule_id=f"missed:{slot}",
                level=rule.level,
                message=f"{rule.text} ({words} of session {session.number} at {visit_code}, "
                f"due {due:%Y-%m-%d %H:%M} UTC, {rule.grace_min} min grace)",
                subject=slot,
                value=None,
                threshold=rule.grace_min,
                due_at=due,
            )
        )
    return SafetyResult(alerts=tuple(alerts), not_evaluated=tuple(skipped))
