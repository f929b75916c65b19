"""A dosing day's physiology and side effects: vital signs that rise after the dose and fall over
the day, and the common adverse events of MDMA.

Vital signs follow a baseline plus a dose response ``peak · (t/tp) · exp(1 − t/tp)`` (a
one-compartment shape peaking ``tp`` ≈ 75-150 minutes after the initial dose, larger in the
session with the higher dose) plus measurement noise. Which sessions cross a protocol threshold
is decided up front (``crossings``) so that the demo always shows a few real alerts and never
an implausible number of them: a designated session gets one reading just beyond the limit; in
every other session readings are kept below the limits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from remit.protocol import VITAL_SIGN_CODES, VITAL_SIGNS, VitalSign
from remit.protocol.vital_signs import ABOVE

#: Vital signs by code (``remit.protocol.VITAL_SIGNS``) → (baseline mean, baseline SD, mean
#: peak rise, SD of the peak rise, measurement noise SD).
VITALS_MODEL: Mapping[VitalSign, tuple[float, float, float, float, float]] = {
    "systolic_bp": (121.0, 8.0, 24.0, 7.0, 4.0),
    "diastolic_bp": (77.0, 6.0, 12.0, 4.0, 3.0),
    "heart_rate": (70.0, 7.0, 17.0, 5.0, 3.0),
    "temperature": (36.7, 0.18, 0.35, 0.12, 0.08),
    "respiratory_rate": (14.0, 1.5, 2.0, 1.0, 1.0),
    "oxygen_saturation": (97.8, 0.8, 0.0, 0.0, 0.5),
}


@dataclass(frozen=True)
class Reading:
    """One reading of vital signs, ``minute`` minutes after the initial dose (negative: before);
    ``values`` by sign code, whole numbers for the integer signs."""

    minute: int
    values: Mapping[VitalSign, float | int]

    def value(self, name: str) -> float:
        """The reading of vital sign ``name``."""
        return float(self.values[name])  # type: ignore[index]


def vitals_series(
    minutes: Sequence[int],
    rng: np.random.Generator,
    *,
    dose_factor: float,
    limits: Mapping[str, tuple[float | None, float | None]],
    crossing: tuple[str, int] | None = None,
    signs: Sequence[VitalSign],
) -> list[Reading]:
    """Readings of ``signs`` at ``minutes`` after the initial dose.

    ``limits`` maps a vital sign to its (low, high) thresholds. With ``crossing = (name,
    minute)`` the session peaks at ``minute`` and the reading of ``name`` there lies a little
    beyond the high limit (the whole curve is scaled, not one reading); every other reading
    stays within the limits and the sign's plausible range.
    """
    tp = float(crossing[1]) if crossing is not None else float(rng.uniform(75, 150))
    values: dict[VitalSign, list[float]] = {}
    for name in (code for code in VITAL_SIGN_CODES if code in signs):
        mean, sd, rise, rise_sd, noise = VITALS_MODEL[name]
        sign = VITAL_SIGNS[name]
        base = mean + sd * rng.standard_normal()
        peak = max(rise * 0.3, (rise + rise_sd * rng.standard_normal()) * dose_factor)
        low, high = limits.get(name, (None, None))
        crosses = crossing is not None and crossing[0] == name and high is not None
        # the crossing curve is measured with less scatter so that one reading stands out
        jitter = noise * (0.4 if crosses else 1.0) * rng.standard_normal(len(minutes))
        decimals = sign.decimals
        unit = 10.0**-decimals
        if crossing is not None and crosses and high is not None:
            # scale the dose response so that the peak reading is just beyond the limit
            base = max(base, high - 2.5 * rise)  # a plausible rise, not a jump of 2 °C
            k = list(minutes).index(crossing[1])
            target = round(high + unit * float(rng.integers(1, 5)), decimals)
            peak = target - base - float(jitter[k])
        series = []
        for k, m in enumerate(minutes):
            t = max(m, 0) / tp
            shape = t * np.exp(1 - t) if m > 0 else 0.0
            value = round(base + peak * shape + float(jitter[k]), decimals)
            if high is not None and value > high and crossing != (name, m):
                value = round(high - unit * float(rng.integers(1, 6)), decimals)
            if low is not None and value < low:
                value = round(low + unit * float(rng.integers(2, 8)), decimals)
            series.append(min(max(value, sign.low), sign.high))
        values[name] = series
    readings = []
    for k, m in enumerate(minutes):
        at = {
            name: round(series[k]) if VITAL_SIGNS[name].integer else round(series[k], decimals)
            for name, series in values.items()
        }
        for upper, lower in ABOVE:  # e.g. diastolic at least 25 mmHg below systolic
            if upper in at and lower in at:
                at[lower] = min(at[lower], at[upper] - 25)
        readings.append(Reading(minute=m, values=at))
    return readings


@dataclass(frozen=True)
class AdverseEventPlan:
    """An adverse event to report: term, onset (days after the dosing day), how long it lasts,
    severity and relatedness as the investigator judges them."""

    term: str
    onset_days: int
    duration_days: int
    severity: str
    relatedness: str


#: The common adverse events of MDMA sessions: term → (probability per session, onset days
#: after the session, relatedness choices).
COMMON_AES: Mapping[str, tuple[float, int, tuple[str, ...]]] = {
    "jaw clenching (bruxism)": (0.45, 0, ("probable", "definite")),
    "headache": (0.35, 0, ("possible", "probable")),
    "fatigue": (0.3, 1, ("possible", "probable")),
    "nausea": (0.25, 0, ("probable", "possible")),
    "decreased appetite": (0.25, 0, ("probable", "possible")),
    "muscle tightness": (0.2, 0, ("probable", "possible")),
    "anxiety": (0.15, 0, ("possible", "probable")),
    "insomnia": (0.2, 0, ("possible", "probable")),
}


def draw_adverse_events(rng: np.random.Generator, dose_factor: float) -> list[AdverseEventPlan]:
    """The adverse events one participant reports after one dosing session (none serious)."""
    found = []
    for term, (p, onset, related) in COMMON_AES.items():
        if rng.random() < min(0.9, p * dose_factor):
            severity = "moderate" if rng.random() < 0.22 else "mild"
            found.append(
                AdverseEventPlan(
                    term=term,
                    onset_days=onset,
                    duration_days=int(rng.integers(0, 3)) + (1 if severity == "moderate" else 0),
                    severity=severity,
                    relatedness=related[int(rng.random() < 0.3)],
                )
            )
    return found
