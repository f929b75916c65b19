"""Schedule arithmetic: target dates and windows from the dates actually recorded.

Rules (see ``docs/protocol.md``):

* a visit's target date is its anchor's date plus ``target_day``; its window runs from
  target + lower to target + upper (inclusive);
* an event anchor (``referral``, ``consent`` …) takes the date recorded for the event; a visit
  anchor takes the ACTUAL date of that visit — a visit that has not happened yet anchors
  nothing (unless ``provisional=True``, which projects from its target date and says so);
* a visit that already happened keeps its actual date whatever the anchors say; its timing
  is classified against the target its anchor gives;
* a visit whose anchor date is not known has no target yet — the schedule says which anchor
  it waits for instead of guessing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from remit.errors import InputError, ScheduleError

if TYPE_CHECKING:
    import pandas as pd

    from remit.protocol.model import Protocol, Visit

TimingStatus = Literal["early", "on_time", "late", "out_of_window"]
#: A computed schedule row (not the stored :class:`remit.protocol.status.VisitStatus`).
ScheduleStatus = Literal["done", "scheduled", "provisional", "awaiting_anchor"]
AnchorBasis = Literal["event", "actual", "target"]


@dataclass(frozen=True)
class VisitTiming:
    """How an actual visit date relates to its target and window.

    ``days_from_target`` is actual minus target. ``side`` and ``days_outside`` say on which
    side of the window an out-of-window date fell and by how many days.

    Examples
    --------
    >>> t = VisitTiming("out_of_window", -10, "before", 3)
    >>> t.describe()
    'out of window: 3 days before the window opened'
    >>> t.to_dict()["side"]
    'before'
    """

    status: TimingStatus
    days_from_target: int
    side: Literal["before", "after"] | None = None
    days_outside: int = 0
    #: The period limit that put the date out of window (``None``: the visit's own window).
    limit: str | None = None

    def describe(self) -> str:
        """The timing in words, e.g. ``"out of window: 3 days after the window closed"``."""
        d = self.days_from_target
        if self.status == "on_time":
            return "on time (the target day)"
        if self.status == "early":
            return f"early: {-d} day{'s' if d != -1 else ''} before target, inside the window"
        if self.status == "late":
            return f"late: {d} day{'s' if d != 1 else ''} after target, inside the window"
        n = self.days_outside
        where = "before the window opened" if self.side == "before" else "after the window closed"
        why = f" (period limit: {self.limit})" if self.limit else ""
        return f"out of window: {n} day{'s' if n != 1 else ''} {where}{why}"

    def to_dict(self) -> dict[str, Any]:
        """The timing as plain values."""
        return asdict(self)


def classify_visit_date(actual: date, target: date, window: tuple[int, int]) -> VisitTiming:
    """Classify an actual visit date against its target date and (lower, upper) window.

    Parameters
    ----------
    actual
        The date the visit took place.
    target
        The visit's target date.
    window
        Days before (negative) and after the target that still count as in window.

    Returns
    -------
    VisitTiming
        ``on_time`` on the target day, ``early``/``late`` inside the window before/after it,
        ``out_of_window`` outside it (with the side and the number of days outside).

    Examples
    --------
    >>> from datetime import date
    >>> t = date(2024, 3, 10)
    >>> classify_visit_date(date(2024, 3, 10), t, (-3, 3)).status
    'on_time'
    >>> classify_visit_date(date(2024, 3, 7), t, (-3, 3)).status
    'early'
    >>> classify_visit_date(date(2024, 3, 15), t, (-3, 3)).describe()
    'out of window: 2 days after the window closed'
    """
    lower, upper = window
    if lower > upper:
        raise InputError(
            f"window ({lower}, {upper}) is inverted",
            expected="(lower, upper) with lower ≤ upper, e.g. (-7, 7)",
        )
    for name, value in (("actual", actual), ("target", target)):
        if not isinstance(value, date):
            raise InputError(f"{name} date {value!r} is not a date", expected="a datetime.date")
    d = (_as_date(actual) - _as_date(target)).days
    if d < lower:
        return VisitTiming("out_of_window", d, "before", lower - d)
    if d > upper:
        return VisitTiming("out_of_window", d, "after", d - upper)
    if d == 0:
        return VisitTiming("on_time", 0)
    return VisitTiming("early" if d < 0 else "late", d)


def limit_by_period(
    timing: VisitTiming, actual: date, start: date, bounds: tuple[int, int], what: str
) -> VisitTiming:
    """``timing`` of ``actual``, made out of window when ``actual`` falls outside the period
    limit of ``bounds`` (first, last) days after ``start`` (``what`` names the limit).

    Examples
    --------
    >>> from datetime import date
    >>> baseline, v13 = date(2024, 1, 1), date(2024, 4, 29)  # 119 days after baseline
    >>> t = classify_visit_date(v13, date(2024, 4, 25), (-7, 7))
    >>> t.status
    'late'
    >>> limit_by_period(t, v13, baseline, (70, 112), "91 ± 21 days after V4").describe()
    'out of window: 7 days after the window closed (period limit: 91 ± 21 days after V4)'
    """
    d = (_as_date(actual) - _as_date(start)).days
    lo, hi = bounds
    if lo <= d <= hi:
        return timing
    side: Literal["before", "after"] = "before" if d < lo else "after"
    outside = lo - d if d < lo else d - hi
    if timing.status == "out_of_window" and timing.side == side and timing.days_outside >= outside:
        return timing
    return VisitTiming("out_of_window", timing.days_from_target, side, outside, what)


def _as_date(value: date) -> date:
    return value.date() if isinstance(value, datetime) else value


@dataclass(frozen=True)
class ScheduledVisit:
    """One visit of a participant's schedule.

    ``target_date``, ``earliest_date`` and ``latest_date`` are ``None`` while the anchor's
    date is not known (``status == "awaiting_anchor"``; ``note`` says what it waits for).
    ``anchor_basis`` says where the anchor date came from: a recorded ``event``, the
    ``actual`` date of the anchor visit, or its ``target`` (provisional projections only).
    """

    code: str
    label: str
    kind: str
    anchor: str
    target_day: int
    window: tuple[int, int]
    anchor_date: date | None
    anchor_basis: AnchorBasis | None
    target_date: date | None
    earliest_date: date | None
    latest_date: date | None
    actual_date: date | None
    timing: VisitTiming | None
    status: ScheduleStatus
    note: str

    def classify(self, actual: date) -> VisitTiming:
        """Classify ``actual`` against this visit's target; refuses when there is no target."""
        if self.target_date is None:
            raise ScheduleError(
                f"visit {self.code} has no target date yet: {self.note}",
                hint=f"record the date of {self.anchor} first",
            )
        return classify_visit_date(actual, self.target_date, self.window)

    def is_overdue(self, today: date) -> bool:
        """Whether the visit has not happened and its window closed before ``today``.

        Examples
        --------
        >>> from datetime import date
        >>> from remit.protocol import load_protocol
        >>> s = compute_schedule(load_protocol("oslo-mdma-mdd"), {"referral": date(2023, 1, 2)})
        >>> phone = s.visit("PHONE")  # window 2023-01-02 to 2023-01-23
        >>> phone.is_overdue(date(2023, 1, 23)), phone.is_overdue(date(2023, 1, 24))
        (False, True)
        """
        return (
            self.actual_date is None and self.latest_date is not None and today > self.latest_date
        )

    def to_dict(self) -> dict[str, Any]:
        """The visit as JSON-ready values (dates in ISO 8601)."""
        return {
            "code": self.code,
            "label": self.label,
            "kind": self.kind,
            "anchor": self.anchor,
            "target_day": self.target_day,
            "window": list(self.window),
            "anchor_date": _iso(self.anchor_date),
            "anchor_basis": self.anchor_basis,
            "target_date": _iso(self.target_date),
            "earliest_date": _iso(self.earliest_date),
            "latest_date": _iso(self.latest_date),
            "actual_date": _iso(self.actual_date),
            "timing": None if self.timing is None else self.timing.to_dict(),
            "status": self.status,
            "note": self.note,
        }


def describe_period(visit: Visit) -> str:
    """A visit's period limit in words, e.g. ``"91 ± 21 days after V4"`` (``""``: none).

    Examples
    --------
    >>> from remit.protocol import load_protocol
    >>> describe_period(load_protocol("oslo-mdma-mdd").visit("V13"))
    '91 ± 21 days after V4'
    """
    if visit.period is None:
        return ""
    return f"{visit.period.days} ± {visit.period.tolerance} days after {visit.period.from_}"


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True)
class Schedule:
    """A participant's visit schedule computed by :func:`compute_schedule`.

    Examples
    --------
    >>> from datetime import date
    >>> from remit.protocol import load_protocol
    >>> s = compute_schedule(load_protocol("oslo-mdma-mdd"), {"referral": date(2023, 1, 2)})
    >>> s.visit("PHONE").target_date
    datetime.date(2023, 1, 9)
    >>> s.to_frame()[["visit_code", "status"]].head(2).values.tolist()
    [['PHONE', 'scheduled'], ['SCR', 'awaiting_anchor']]
    >>> print(s.summary().splitlines()[1])
      PHONE  target 2023-01-09 (window 2023-01-02 – 2023-01-23)
    """

    protocol_id: str
    protocol_sha256: str
    arm: str | None
    visits: tuple[ScheduledVisit, ...]

    def visit(self, code: str) -> ScheduledVisit:
        """The scheduled visit ``code``; :class:`InputError` if it is not in this schedule."""
        for v in self.visits:
            if v.code == code:
                return v
        raise InputError(
            f"visit {code!r} is not in this schedule",
            expected="one of " + ", ".join(v.code for v in self.visits),
        )

    def to_dict(self) -> dict[str, Any]:
        """The schedule as JSON-ready values."""
        return {
            "protocol_id": self.protocol_id,
            "protocol_sha256": self.protocol_sha256,
            "arm": self.arm,
            "visits": [v.to_dict() for v in self.visits],
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per visit: code, dates, status and timing."""
        import pandas as pd

        rows = []
        for v in self.visits:
            row = v.to_dict()
            timing = row.pop("timing")
            row["window"] = tuple(v.window)
            row["timing"] = None if timing is None else timing["status"]
            row["days_from_target"] = None if timing is None else timing["days_from_target"]
            rows.append(row)
        frame = pd.DataFrame(rows)
        return frame.rename(columns={"code": "visit_code"})

    def summary(self) -> str:
        """The schedule as a few lines of text."""
        lines = [f"schedule of {self.protocol_id}" + (f" (arm {self.arm})" if self.arm else "")]
        for v in self.visits:
            if v.target_date is None:
                when = v.note
            else:
                when = f"target {v.target_date} (window {v.earliest_date} – {v.latest_date})" + (
                    " provisional" if v.status == "provisional" else ""
                )
            done = ""
            if v.actual_date is not None:
                done = f"; done {v.actual_date}" + (f", {v.timing.describe()}" if v.timing else "")
            lines.append(f"  {v.code:<6} {when}{done}")
        return "\n".join(lines)


def _check_dates(
    protocol: Protocol, anchors: Mapping[str, date], actual: Mapping[str, date]
) -> None:
    events = {e.code for e in protocol.events}
    visits = set(protocol.visit_codes)
    for key, value in anchors.items():
        if key not in events:
            hint = (
                f"{key} is a visit: pass its date in `actual`"
                if key in visits
                else "declare the event under [[events]] in the protocol"
            )
            raise InputError(
                f"anchor {key!r} is not an event of protocol {protocol.study.id}",
                expected="one of " + (", ".join(sorted(events)) or "(no events declared)"),
                hint=hint,
            )
        if not isinstance(value, date):
            raise InputError(f"date of {key} {value!r} is not a date", expected="a datetime.date")
    for key, value in actual.items():
        if key not in visits:
            raise InputError(
                f"visit {key!r} is not in protocol {protocol.study.id}",
                expected="one of " + ", ".join(protocol.visit_codes),
            )
        if not isinstance(value, date):
            raise InputError(f"date of {key} {value!r} is not a date", expected="a datetime.date")


def compute_schedule(
    protocol: Protocol,
    anchors: Mapping[str, date],
    actual: Mapping[str, date] | None = None,
    *,
    arm: str | None = None,
    provisional: bool = False,
) -> Schedule:
    """Target dates, windows and timing of every visit from the dates recorded so far.

    Parameters
    ----------
    protocol
        The protocol.
    anchors
        Dates of the protocol's events (e.g. ``{"referral": date(2023, 1, 2)}``).
    actual
        Actual dates of the visits that took place, by visit code. Visits anchored to one of
        them are timed from this actual date.
    arm
        Keep only the visits of this arm (``None``: every visit).
    provisional
        Also project visits whose anchor visit has not happened yet from that visit's target
        date (status ``"provisional"``). Off by default: such visits wait for their anchor.

    Returns
    -------
    Schedule
        One :class:`ScheduledVisit` per visit, in protocol order.

    Examples
    --------
    >>> from datetime import date
    >>> from remit.protocol import load_protocol
    >>> p = load_protocol("oslo-mdma-mdd")
    >>> s = compute_schedule(p, {"referral": date(2023, 1, 2)}, {"V4": date(2023, 3, 1)})
    >>> s.visit("V5").target_date, s.visit("V5").latest_date
    (datetime.date(2023, 3, 8), datetime.date(2023, 3, 15))
    >>> s.visit("V6").status, s.visit("V6").note
    ('awaiting_anchor', 'no target yet: anchor visit V5 has not happened')
    >>> s.visit("V4").timing is None, s.visit("V4").note
    (True, 'done; no target: anchor visit V3 has not happened')
    """
    actual = dict(actual or {})
    _check_dates(protocol, anchors, actual)
    if arm is not None:
        protocol.arm(arm)
    by_code = {v.code: v for v in protocol.visits}
    resolved: dict[str, ScheduledVisit] = {}

    def resolve(visit: Visit, seen: frozenset[str]) -> ScheduledVisit:
        if visit.code in resolved:
            return resolved[visit.code]
        if visit.code in seen:
            raise ScheduleError(
                f"anchor cycle through {visit.code}",
                hint="run `remit protocol check` on the protocol",
            )
        anchor_date: date | None = None
        basis: AnchorBasis | None = None
        waiting = ""
        if visit.anchor in by_code:
            parent = resolve(by_code[visit.anchor], seen | {visit.code})
            if parent.actual_date is not None:
                anchor_date, basis = parent.actual_date, "actual"
            elif provisional and parent.target_date is not None:
                anchor_date, basis = parent.target_date, "target"
            else:
                waiting = f"anchor visit {visit.anchor} has not happened"
        elif visit.anchor in anchors:
            anchor_date, basis = _as_date(anchors[visit.anchor]), "event"
        else:
            waiting = f"anchor event {visit.anchor} has no date recorded"

        target = earliest = latest = None
        if anchor_date is not None:
            target = anchor_date + timedelta(days=visit.target_day)
            earliest = target + timedelta(days=visit.window[0])
            latest = target + timedelta(days=visit.window[1])
        period_start = period_of(visit, seen)
        if period_start is not None and earliest is not None and latest is not None:
            lo, hi = visit.period.bounds if visit.period is not None else (0, 0)
            earliest = max(earliest, period_start + timedelta(days=lo))
            latest = min(latest, period_start + timedelta(days=hi))
        done = actual.get(visit.code)
        done = None if done is None else _as_date(done)
        timing = None
        status: ScheduleStatus
        if done is not None:
            status = "done"
            if target is not None:
                timing = classify_visit_date(done, target, visit.window)
                if period_start is not None and visit.period is not None:
                    timing = limit_by_period(
                        timing, done, period_start, visit.period.bounds, describe_period(visit)
                    )
                note = "done; " + timing.describe()
            else:
                note = f"done; no target: {waiting}"
        elif target is None:
            status, note = "awaiting_anchor", f"no target yet: {waiting}"
        elif basis == "target":
            status = "provisional"
            note = f"provisional: projected from the target date of {visit.anchor}"
        else:
            status, note = "scheduled", "scheduled"
        result = ScheduledVisit(
            code=visit.code,
            label=visit.label,
            kind=visit.kind,
            anchor=visit.anchor,
            target_day=visit.target_day,
            window=visit.window,
            anchor_date=anchor_date,
            anchor_basis=basis,
            target_date=target,
            earliest_date=earliest,
            latest_date=latest,
            actual_date=done,
            timing=timing,
            status=status,
            note=note,
        )
        resolved[visit.code] = result
        return result

    def period_of(visit: Visit, seen: frozenset[str]) -> date | None:
        """The date a visit's period limit counts from (``None``: no limit or not known)."""
        if visit.period is None:
            return None
        start = visit.period.from_
        if start in by_code:
            parent = resolve(by_code[start], seen | {visit.code})
            if parent.actual_date is not None:
                return parent.actual_date
            return parent.target_date if provisional else None
        return _as_date(anchors[start]) if start in anchors else None

    visits = tuple(resolve(v, frozenset()) for v in protocol.visits if v.applies_to(arm))
    return Schedule(protocol.study.id, protocol.sha256, arm, visits)
