"""Item-level answers: forms whose totals are exactly the planned ones, with plausible profiles.

MADRS and SDS totals are planned (:mod:`remit.simulate.outcomes`); here they are split over the
items in proportion to a depression profile with per-person variation (items 1, 2, 7 and 8
carry most weight, appetite and suicidal thoughts least; item 10 is capped so that no MADRS
item-10 alert is raised by accident). The other self-reports follow a severity between 0 and 1
derived from the participant's MADRS course. C-SSRS answers follow the skip logic of the form.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from remit.scales import load_scale

#: Relative weight of each MADRS item in a depressed person's total (items 1-10).
MADRS_PROFILE: Mapping[str, float] = {
    "apparent_sadness": 1.15,
    "reported_sadness": 1.25,
    "inner_tension": 1.0,
    "reduced_sleep": 0.9,
    "reduced_appetite": 0.55,
    "concentration_difficulties": 1.0,
    "lassitude": 1.15,
    "inability_to_feel": 1.05,
    "pessimistic_thoughts": 1.0,
    "suicidal_thoughts": 0.45,
}


def split_total(
    total: int,
    weights: Sequence[float],
    caps: Sequence[int],
    rng: np.random.Generator,
) -> list[int]:
    """Split ``total`` into whole-number parts, each at most its cap, drawn one unit at a time
    in proportion to ``weights`` (a multinomial with caps).

    Examples
    --------
    >>> parts = split_total(17, [1, 1, 2], [6, 6, 6], np.random.default_rng(1))
    >>> sum(parts), max(parts) <= 6
    (17, True)
    """
    if total < 0 or total > sum(caps):
        raise ValueError(f"total {total} cannot be split with caps {list(caps)}")
    parts = [0] * len(weights)
    w = np.asarray(weights, dtype=float)
    for _ in range(total):
        open_ = np.array([p < c for p, c in zip(parts, caps, strict=True)])
        p = np.where(open_, w, 0.0)
        if p.sum() == 0:  # only zero-weight items have room
            p = open_.astype(float)
        parts[int(rng.choice(len(parts), p=p / p.sum()))] += 1
    return parts


@dataclass(frozen=True)
class Person:
    """What shapes one person's answers: an item profile and a cap on the suicidal item."""

    madrs_weights: tuple[float, ...]
    madrs_item10_cap: int


def draw_person(rng: np.random.Generator, item10_cap: int = 2) -> Person:
    """A person's MADRS item profile (the common profile with log-normal variation)."""
    base = np.array(list(MADRS_PROFILE.values()))
    weights = base * np.exp(rng.normal(0, 0.3, base.size))
    return Person(madrs_weights=tuple(float(x) for x in weights), madrs_item10_cap=item10_cap)


def madrs_answers(total: int, person: Person, rng: np.random.Generator) -> dict[str, int]:
    """MADRS item answers (0-6) summing to ``total``."""
    caps = [6] * 9 + [person.madrs_item10_cap]
    parts = split_total(total, person.madrs_weights, caps, rng)
    return dict(zip(MADRS_PROFILE, parts, strict=True))


def sds_answers(total: int, rng: np.random.Generator) -> dict[str, object]:
    """SDS answers: the three domains (0-10) sum to ``total``; days lost and unproductive
    follow the severity."""
    parts = split_total(total, [1.1, 1.0, 0.9], [10, 10, 10], rng)
    severity = total / 30
    return {
        "work_school": parts[0],
        "social_life": parts[1],
        "family_life": parts[2],
        "days_lost": int(np.clip(round(7 * severity**2 + rng.normal(0, 0.7)), 0, 7)),
        "days_unproductive": int(np.clip(round(7 * severity + rng.normal(0, 1)), 0, 7)),
        "not_working": False,
    }


def _level(high: float, low: float, severity: float, rng: np.random.Generator) -> int:
    value = low + (high - low) * float(np.clip(severity + rng.normal(0, 0.15), 0, 1))
    return int(np.clip(round(value), low, high))


def self_report_answers(scale: str, severity: float, rng: np.random.Generator) -> dict[str, object]:
    """Answers to a self-report (GAD-7, ISI, PCL-5, BDI-II, PSQI …) at ``severity`` (0-1).

    Each rated item is drawn around ``severity`` × its range; optional items, text and items
    the form's skip logic leaves out are not answered.

    Examples
    --------
    >>> from remit.scales import score
    >>> answers = self_report_answers("gad7", 0.6, np.random.default_rng(3))
    >>> 6 <= score("gad7", answers).total <= 18
    True
    """
    if scale == "psqi":
        return _psqi_answers(severity, rng)
    definition = load_scale(scale)
    answers: dict[str, object] = {}
    for item in definition.items_for(None):
        if item.skip_when is not None or not item.required or item.kind == "text":
            continue
        if item.kind == "integer":
            answers[item.code] = _level(float(item.max or 0), float(item.min or 0), severity, rng)
        elif item.kind == "boolean":
            answers[item.code] = False
        elif item.kind == "choice":
            options = list(item.options)
            if set(options) >= {"1a", "1b"}:  # BDI-II seven options: level + less/more
                lvl = _level(3, 0, severity, rng)
                answers[item.code] = "0" if lvl == 0 else f"{lvl}{'ab'[int(rng.integers(2))]}"
            else:
                index = _level(len(options) - 1, 0, severity, rng)
                answers[item.code] = options[index]
    return answers


def _psqi_answers(severity: float, rng: np.random.Generator) -> dict[str, object]:
    bed_minutes = int(rng.integers(22 * 60 + 15, 24 * 60 + 1)) // 15 * 15
    bed_minutes = min(bed_minutes, 23 * 60 + 45)
    rise_minutes = int(rng.integers(6 * 60, 8 * 60 + 1)) // 15 * 15
    in_bed_h = (24 * 60 - bed_minutes + rise_minutes) / 60
    hours = float(np.clip(round(in_bed_h - 0.4 - 2.6 * severity + rng.normal(0, 0.4), 1), 3, 9))
    hours = min(hours, in_bed_h)
    latency = float(np.clip(round(10 + 60 * severity + rng.normal(0, 8)), 2, 120))

    def freq() -> int:
        return _level(3, 0, severity, rng)

    answers: dict[str, object] = {
        "bedtime": f"{bed_minutes // 60:02d}:{bed_minutes % 60:02d}",
        "latency_minutes": latency,
        "rise_time": f"{rise_minutes // 60:02d}:{rise_minutes % 60:02d}",
        "hours_asleep": hours,
        "cannot_sleep_30min": freq(),
        "wake_night": freq(),
        "bathroom": _level(2, 0, severity / 2, rng),
        "cannot_breathe": 0,
        "cough_snore": _level(1, 0, severity / 3, rng),
        "too_cold": _level(1, 0, 0.2, rng),
        "too_hot": _level(1, 0, 0.2, rng),
        "bad_dreams": freq(),
        "pain": _level(2, 0, severity / 2, rng),
        "other_reason": 0,
        "sleep_quality": freq(),
        "sleep_medication": _level(2, 0, severity / 2, rng),
        "trouble_staying_awake": _level(2, 0, severity * 0.7, rng),
        "enthusiasm_problem": freq(),
    }
    return answers


# --- C-SSRS ----------------------------------------------------------------------------------

_IDEATION = (
    "wish_to_be_dead",
    "non_specific_active_thoughts",
    "active_ideation_methods",
    "active_ideation_intent",
    "active_ideation_plan_intent",
)
_INTENSITY = (
    "intensity_frequency",
    "intensity_duration",
    "intensity_controllability",
    "intensity_deterrents",
    "intensity_reasons",
)
_BEHAVIOUR = (
    "actual_attempt",
    "nssib",
    "interrupted_attempt",
    "aborted_attempt",
    "preparatory_behaviour",
)


@dataclass(frozen=True)
class Ideation:
    """One C-SSRS report: ideation type (0-5), intensity ratings, behaviour flags."""

    type: int = 0
    intensity: tuple[int, int, int, int, int] = (1, 1, 0, 0, 0)
    behaviour: tuple[str, ...] = ()

    @property
    def intensity_total(self) -> int:
        """The intensity sum the scale derives (0 without ideation)."""
        return sum(self.intensity) if self.type > 0 else 0


def intensity_for(level: int, rng: np.random.Generator) -> tuple[int, int, int, int, int]:
    """Intensity ratings (frequency, duration 1-5; controllability, deterrents, reasons 0-5)
    for a mild (1), moderate (2) or marked (3) ideation."""
    centre = {1: 1.3, 2: 2.3, 3: 3.3}[min(max(level, 1), 3)]

    def rate(low: int) -> int:
        return int(np.clip(round(centre + rng.normal(0, 0.5)), low, 5))

    return (rate(1), rate(1), rate(0), rate(0), rate(0))


def _section(ideation: Ideation, suffix: str) -> dict[str, object]:
    answers: dict[str, object] = {}
    for k, code in enumerate(_IDEATION[:2], start=1):
        answers[code + suffix] = ideation.type >= k
    if ideation.type >= 2:  # the official form asks questions 3-5 only after a yes to 2
        for k, code in enumerate(_IDEATION[2:], start=3):
            answers[code + suffix] = ideation.type >= k
    if ideation.type > 0:  # intensity is rated whenever there is any ideation
        for code, value in zip(_INTENSITY, ideation.intensity, strict=True):
            answers[code + suffix] = value
    for code in _BEHAVIOUR:
        answers[code + suffix] = code in ideation.behaviour
    if "actual_attempt" in ideation.behaviour:
        answers["actual_attempt_count" + suffix] = 1
        answers["actual_lethality" + suffix] = 1
    for code in ("interrupted_attempt", "aborted_attempt"):
        if code in ideation.behaviour:
            answers[f"{code}_count{suffix}"] = 1
    return answers


def cssrs_answers(
    version: str, recent: Ideation, lifetime: Ideation | None = None
) -> dict[str, object]:
    """C-SSRS answers: the ``baseline`` version has a lifetime section and a recent one; the
    ``since_last_visit`` version only the recent one (plus completed suicide: no).

    Examples
    --------
    >>> from remit.scales import score
    >>> form = score("cssrs", cssrs_answers("since_last_visit", Ideation(type=2,
    ...     intensity=(2, 2, 1, 1, 2))), version="since_last_visit")
    >>> form.derived["ideation_type"], form.derived["ideation_intensity"], form.complete
    (2, 8, True)
    >>> form = score("cssrs", cssrs_answers("since_last_visit", Ideation(type=1)),
    ...              version="since_last_visit")
    >>> form.derived["ideation_type"], form.answers["active_ideation_methods"], form.complete
    (1, None, True)
    """
    answers = _section(recent, "")
    if version == "baseline":
        answers |= _section(lifetime or recent, "_lifetime")
    else:
        answers["suicide"] = False
    return answers


# --- subjective effects ----------------------------------------------------------------------

#: Typical subjective-effect ratings (0-100) at the VAS timepoints of an MDMA session.
VAS_PROFILE: Mapping[str, tuple[float, float, float]] = {
    # item: (at the initial dose, before the supplemental dose, end of session)
    "negative_mood": (12, 14, 10),
    "body_perception_changes": (5, 55, 25),
    "confusion": (3, 22, 8),
    "difficulty_concentrating": (5, 35, 15),
    "compassion_for_self": (25, 68, 60),
    "compassion_for_others": (30, 70, 62),
    "euphoria": (5, 55, 25),
    "positive_mood": (30, 70, 58),
    "intellectual_efficiency": (35, 45, 42),
    "social": (30, 62, 50),
    "calmness": (30, 60, 58),
    "talkative": (25, 60, 45),
    "open_to_new_experiences": (40, 75, 62),
    "meaningful_experience": (10, 65, 72),
    "emotional_distress": (15, 30, 15),
}


def vas_answers(
    timepoint_index: int, strength: float, rng: np.random.Generator
) -> dict[str, float]:
    """Subjective-effect ratings at the session's ``timepoint_index``-th VAS timepoint
    (0 initial dose, 1 before the supplemental dose, 2 end); ``strength`` scales the drug
    effect around 1."""
    answers: dict[str, float] = {}
    for item, levels in VAS_PROFILE.items():
        at = levels[min(timepoint_index, len(levels) - 1)]
        centre = levels[0] + (at - levels[0]) * strength
        answers[item] = float(np.clip(round(centre + rng.normal(0, 9)), 0, 100))
    return answers
