"""The written truth tables of the built-in protocols' safety rules, and the check that runs them.

A truth table is what the safety rules SHOULD do, written by hand from the protocol's safety
section as a person reads it: for every tier of every vital sign, the smallest step below, at
and above its limit; for every scale rule, the answers one point below, at and above its
boundary; the SAE clock a minute either side of its deadline; a missed reading a minute
either side of its grace. :func:`failures` evaluates every row with the real rules and lists
the rows whose outcome differs. ``test_truth_tables.py`` checks that the built-in protocols
pass, that every rule id of a protocol is tested by a row (:func:`rule_ids_with_rows`), and that
removing any one rule makes :func:`failures` report something (the mutation check).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from remit.protocol import VITAL_SIGNS, Protocol
from remit.safety import evaluate_score, evaluate_vitals, missed_slots, sae_clock
from remit.scales import ScoreResult, score

#: A row's expected alerts: (rule id, level) pairs; empty for "no alert".
Expected = frozenset[tuple[str, str]]

# ----------------------------------------------------------------------------- vital signs

#: The built-in protocols' vital-sign limits as written in their safety section: sign → side →
#: level → limit. A reading strictly beyond a limit raises that level (the most pressing wins).
VITAL_LIMITS: Mapping[str, Mapping[str, Mapping[str, float]]] = {
    "systolic_bp": {
        "high": {"review": 150, "urgent": 160, "immediate": 180},
        "low": {"review": 95, "urgent": 90, "immediate": 80},
    },
    "diastolic_bp": {
        "high": {"review": 95, "urgent": 100, "immediate": 110},
        "low": {"review": 55, "urgent": 50, "immediate": 40},
    },
    "heart_rate": {
        "high": {"review": 100, "urgent": 120, "immediate": 140},
        "low": {"review": 50, "urgent": 45, "immediate": 40},
    },
    "temperature": {
        "high": {"review": 37.5, "urgent": 38.0, "immediate": 39.0},
        "low": {"review": 35.5, "urgent": 35.0},
    },
}

_PRESSING = ("immediate", "urgent", "same_day", "review")


def _expected_vital(sign: str, value: float) -> Expected:
    """What the written limits say one reading of ``sign`` alone raises."""
    for level in _PRESSING:
        for side, word in (("high", 1), ("low", -1)):
            limit = VITAL_LIMITS[sign][side].get(level)
            if limit is not None and (value - limit) * word > 0:
                return frozenset({(f"vitals:{sign}:{side}:{level}", level)})
    return frozenset()


@dataclass(frozen=True)
class VitalRow:
    """One reading at ``visit`` and the one alert (or none) it should raise."""

    visit: str
    reading: Mapping[str, float]
    expected: Expected

    def run(self, protocol: Protocol) -> Expected:
        result = evaluate_vitals(protocol, self.visit, self.reading)
        return frozenset((a.rule_id, a.level) for a in result.alerts)


def vital_rows() -> list[VitalRow]:
    """Every tier's limit −step / = / +step (the sign's smallest recorded step), one sign a
    reading, at a dosing visit and at a visit without dosing alike; plus readings of several
    signs, where the one alert is the worst sign's tier."""
    rows = []
    for n, (sign, sides) in enumerate(VITAL_LIMITS.items()):
        d = VITAL_SIGNS[sign]
        step = 10.0**-d.decimals
        for side in sides.values():
            for limit in side.values():
                for k in (-1, 0, 1):
                    value = round(limit + k * step, d.decimals)
                    visit = ("V5", "V3", "V9", "FU7")[(n + k) % 4]
                    rows.append(VitalRow(visit, {sign: value}, _expected_vital(sign, value)))
    # several signs beyond limits: ONE alert, the worst sign's tier
    rows += [
        VitalRow(
            "V5",
            {"systolic_bp": 200, "diastolic_bp": 125, "heart_rate": 80, "temperature": 39.6},
            frozenset({("vitals:systolic_bp:high:immediate", "immediate")}),
        ),
        VitalRow(
            "V5",
            {"systolic_bp": 161, "diastolic_bp": 101},
            frozenset({("vitals:diastolic_bp:high:urgent", "urgent")}),
        ),
        VitalRow(
            "V3",
            {"systolic_bp": 85, "diastolic_bp": 60, "heart_rate": 141},
            frozenset({("vitals:heart_rate:high:immediate", "immediate")}),
        ),
    ]
    return rows


# ----------------------------------------------------------------------------- scales

IDEATION = (
    "wish_to_be_dead",
    "non_specific_active_thoughts",
    "active_ideation_methods",
    "active_ideation_intent",
    "active_ideation_plan_intent",
)
INTENSITY = (
    "intensity_frequency",
    "intensity_duration",
    "intensity_controllability",
    "intensity_deterrents",
    "intensity_reasons",
)
BEHAVIOURS = ("actual_attempt", "interrupted_attempt", "aborted_attempt", "preparatory_behaviour")


def cssrs_since_last_visit(
    ideation_type: int, behaviour: str | None = None, intensity: tuple[int, ...] = (2,) * 5
) -> dict[str, Any]:
    """Answers of a since-last-visit C-SSRS following the official skip logic: questions 3-5
    asked only when question 2 is yes, intensity only with some ideation."""
    answers: dict[str, Any] = {"wish_to_be_dead": ideation_type >= 1}
    answers["non_specific_active_thoughts"] = ideation_type >= 2
    if ideation_type >= 2:
        for position, code in enumerate(IDEATION[2:], start=3):
            answers[code] = position == ideation_type
    if ideation_type > 0:
        answers |= dict(zip(INTENSITY, intensity, strict=True))
    for code in BEHAVIOURS:
        answers[code] = code == behaviour
        if code == behaviour and code != "preparatory_behaviour":
            answers[code + "_count"] = 1
    answers["nssib"] = False
    answers["suicide"] = False
    return answers


@dataclass(frozen=True)
class ScaleRow:
    """One scored form (and the participant's baseline form) and the alerts it should raise."""

    what: str
    form: Callable[[], ScoreResult]
    expected: Expected
    baseline: Callable[[], ScoreResult] | None = None

    def run(self, protocol: Protocol) -> Expected:
        base = self.baseline() if self.baseline is not None else None
        result = evaluate_score(protocol, self.form(), baseline=base)
        return frozenset((a.rule_id, a.level) for a in result.alerts)


def _madrs(item10: int) -> Callable[[], ScoreResult]:
    return lambda: score("madrs", {str(i): 1 for i in range(1, 10)} | {"10": item10})


def _bdi2(item9: int) -> Callable[[], ScoreResult]:
    answers: dict[str, Any] = {str(i): 1 for i in range(1, 22)}
    answers |= {"16": "1a", "18": "1a", "9": item9}
    return lambda: score("bdi2", answers)


def _cssrs(
    ideation_type: int, behaviour: str | None = None, intensity: tuple[int, ...] = (2,) * 5
) -> Callable[[], ScoreResult]:
    answers = cssrs_since_last_visit(ideation_type, behaviour, intensity)
    return lambda: score("cssrs", answers, version="since_last_visit")


def _cssrs_baseline(intensity: tuple[int, ...]) -> Callable[[], ScoreResult]:
    recent = cssrs_since_last_visit(1, None, intensity)
    recent.pop("suicide")
    lifetime = {f"{k}_lifetime": v for k, v in cssrs_since_last_visit(0).items() if k != "suicide"}
    return lambda: score("cssrs", recent | lifetime, version="baseline")


def _e(*pairs: tuple[str, str]) -> Expected:
    return frozenset(pairs)


def scale_rows() -> list[ScaleRow]:
    """MADRS item 10 and BDI-II item 9 at each tier's boundary −1 / = / +1; C-SSRS ideation
    type 0-5 (boundaries of ≥ 2 and ≥ 4), each kind of behaviour, intensity change from
    baseline −1 / 0 / +1 (the rule's boundary is a change of 0)."""
    review, same_day, urgent = "review", "same_day", "urgent"
    madrs = {
        1: _e(),
        2: _e(("madrs_item10_2", review)),
        3: _e(("madrs_item10_2", review)),
        4: _e(("madrs_item10", same_day)),
        5: _e(("madrs_item10", same_day)),
        6: _e(("madrs_item10_6", urgent)),
    }
    bdi2 = {
        0: _e(),
        1: _e(("bdi2_item9_1", review)),
        2: _e(("bdi2_item9_2", same_day)),
        3: _e(("bdi2_item9_3", urgent)),
    }
    ideation = {
        0: _e(),
        1: _e(),
        2: _e(("cssrs_ideation_2_3", same_day)),
        3: _e(("cssrs_ideation_2_3", same_day)),
        4: _e(("cssrs_ideation_4_5", urgent)),
        5: _e(("cssrs_ideation_4_5", urgent)),
    }
    rows = [ScaleRow(f"MADRS item 10 = {v}", _madrs(v), e) for v, e in madrs.items()]
    rows += [ScaleRow(f"BDI-II item 9 = {v}", _bdi2(v), e) for v, e in bdi2.items()]
    rows += [ScaleRow(f"C-SSRS type {t}", _cssrs(t), e) for t, e in ideation.items()]
    rows += [
        ScaleRow(
            f"C-SSRS {b} with type {t}", _cssrs(t, b), ideation[t] | _e(("cssrs_behaviour", urgent))
        )
        for b in BEHAVIOURS
        for t in (0, 1)
    ]
    base = _cssrs_baseline((2, 2, 2, 2, 2))
    for change, intensity in ((-1, (2, 2, 2, 2, 1)), (0, (2,) * 5), (1, (2, 2, 2, 2, 3))):
        expected = _e(("cssrs_intensity_up", review)) if change > 0 else _e()
        rows.append(
            ScaleRow(
                f"C-SSRS intensity {change:+d} from baseline",
                _cssrs(1, None, intensity),
                expected,
                base,
            )
        )
    return rows


# ----------------------------------------------------------------------------- clocks

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class ClockRow:
    """The SAE clock or a missed reading, one minute before / at / after its deadline."""

    what: str
    check: Callable[[Protocol], Expected]
    expected: Expected


def _sae_at(minutes: int) -> Callable[[Protocol], Expected]:
    def check(protocol: Protocol) -> Expected:
        clock = sae_clock(protocol, T0, now=T0 + timedelta(minutes=minutes))
        return _e(("sae", "immediate")) if clock.overdue else _e()

    return check


def _missed_at(minutes_after_due: int) -> Callable[[Protocol], Expected]:
    """The 60-minute reading of session V5, not taken, ``grace + minutes_after_due`` later."""

    def check(protocol: Protocol) -> Expected:
        ds = protocol.dosing_session("V5")
        assert ds is not None
        taken = [m for m in ds.vitals.timepoints_min() if m != 60]
        now = T0 + timedelta(minutes=60 + 15 + minutes_after_due)
        slots = missed_slots(
            protocol,
            "V5",
            initial_at=T0,
            vitals_taken=[-10, *taken],
            vas_taken=ds.vas_timepoints,
            now=now,
        )
        return frozenset((a.rule_id, a.level) for a in slots.alerts)

    return check


def clock_rows() -> list[ClockRow]:
    """SAE reported within 24 h: 23 h 59 min / 24 h / 24 h 01 min. A planned reading with a
    grace of 15 minutes: due + 14 / 15 / 16 minutes."""
    rows = [
        ClockRow(
            f"SAE clock at 24 h {k:+d} min",
            _sae_at(24 * 60 + k),
            _e(("sae", "immediate")) if k > 0 else _e(),
        )
        for k in (-1, 0, 1)
    ]
    rows += [
        ClockRow(
            f"vitals 60 min missing, grace {k:+d} min",
            _missed_at(k),
            _e(("missed:vitals:60", "review")) if k > 0 else _e(),
        )
        for k in (-1, 0, 1)
    ]
    return rows


# ----------------------------------------------------------------------------- the check

Row = VitalRow | ScaleRow | ClockRow


def rows() -> list[Row]:
    """Every row of the truth tables."""
    return [*vital_rows(), *scale_rows(), *clock_rows()]


def _name(row: Row) -> str:
    if isinstance(row, VitalRow):
        return f"{row.visit} {dict(row.reading)}"
    return row.what


def failures(protocol: Protocol) -> list[str]:
    """The rows whose alerts differ from the table (an error counts as a difference)."""
    found = []
    for row in rows():
        try:
            got = row.check(protocol) if isinstance(row, ClockRow) else row.run(protocol)
        except Exception as error:  # a rule that is gone may make evaluation refuse
            found.append(f"{_name(row)}: {type(error).__name__}: {error}")
            continue
        if got != row.expected:
            found.append(f"{_name(row)}: expected {sorted(row.expected)}, got {sorted(got)}")
    return found


def rule_ids_with_rows() -> set[str]:
    """The rule ids some row expects to fire (``missed:<kind>:<slot>`` counts for ``missed``)."""
    ids = {rule for row in rows() for rule, _ in row.expected}
    return ids | {"missed" for i in ids if i.startswith("missed:")}
