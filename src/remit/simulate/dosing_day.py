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

#: Vital signs as the protocol names them → (baseline mean, baseline SD, mean peak rise,
#: SD of the peak rise, measurement noise SD).
VITALS_MODEL: Mapping[str, tuple[float, float, float, float, float]] = {
    "systolic_bp": (121.0, 8.0, 24.0, 7.0, 4.0),
    "diastolic_bp": (77.0, 6.0, 12.0, 4.0, 3.0),
    "heart_rate": (70.0, 7.0, 17.0, 5.0, 3.0),
    "temperature": (36.7, 0.18, 0.35, 0.12, 0.08),
}


@dataclass(frozen=True)
class Reading:
    """One set of vital signs, ``minute`` minutes after the initial dose (negative: before)."""

    minute: int
    systolic_bp: int
    diastolic_bp: int
    heart_rate: int
    temperature: float

    def value(self, name: str) -> float:
        """The reading of vital sign ``name``."""
        return float(getattr(self, name))


def vitals_series(
    minutes: Sequence[int],
    rng: np.random.Generator,
    *,
    dose_factor: float,
    limits: Mapping[str, tuple[float | None, float | None]],
    crossing: tuple[str, int] | None = None,
) -> list[Reading]:
    """Readings at ``minutes`` after the initial dose.

    ``limits`` maps a vital sign to its (low, high) thresholds. With ``crossing = (name,
    minute)`` the reading of ``name`` at ``minute`` lies a little beyond the high limit; every
    other reading stays within the limits.
    """
    tp = float(rng.uniform(75, 150))
    values: dict[str, list[float]] = {}
    for name, (mean, sd, rise, rise_sd, noise) in VITALS_MODEL.items():
        base = mean + sd * rng.standard_normal()
        peak = max(rise * 0.3, (rise + rise_sd * rng.standard_normal()) * dose_factor)
        series = []
        for m in minutes:
            t = max(m, 0) / tp
            shape = t * np.exp(1 - t) if m > 0 else 0.0
            series.append(base + peak * shape + noise * rng.standard_normal())
        values[name] = series
    for name, series in values.items():
        low, high = limits.get(name, (None, None))
        for k, m in enumerate(minutes):
            if crossing is not None and crossing == (name, m) and high is not None:
                step = 0.3 if name == "temperature" else 6.0
                series[k] = high + float(rng.uniform(0.1, 1.0)) * step
                continue
            if high is not None and series[k] > high - 1e-9:
                margin = 0.25 if name == "temperature" else 3.0
                series[k] = high - float(rng.uniform(0.2, 1.0)) * margin
            if low is not None and series[k] < low + 1e-9:
                series[k] = low + float(rng.uniform(2, 8))
    readings = []
    for k, m in enumerate(minutes):
        sys_ = round(values["systolic_bp"][k])
        dia = min(round(values["diastolic_bp"][k]), sys_ - 25)
        readings.append(
            Reading(
                minute=m,
                systolic_bp=sys_,
                diastolic_bp=dia,
                heart_rate=round(values["heart_rate"][k]),
                temperature=round(values["temperature"][k], 1),
            )
        )
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
    "jaw clenching (bruxism)": (0.55, 0, ("probable", "definite")),
    "headache": (0.45, 0, ("possible", "probable")),
    "fatigue": (0.4, 1, ("possible", "probable")),
    "nausea": (0.3, 0, ("probable", "possible")),
    "decreased appetite": (0.3, 0, ("probable", "possible")),
    "muscle tightness": (0.25, 0, ("probable", "possible")),
    "anxiety": (0.2, 0, ("possible", "probable")),
    "insomnia": (0.25, 0, ("possible", "probable")),
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
