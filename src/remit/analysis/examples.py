"""A tiny made-up trial on the Oslo protocol, for examples and documentation (not simulated
from the published aggregates: six participants with round numbers)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from remit.analysis.context import Context, build_context
from remit.analysis.data import TrialData
from remit.protocol import Protocol, load_protocol

#: MADRS and SDS totals at V3, V13 and FU7 of the example participants E1–E6.
EXAMPLE_TOTALS: dict[str, dict[str, tuple[float, float, float]]] = {
    "madrs": {
        "E1": (30, 15, 14),
        "E2": (28, 10, 12),
        "E3": (34, 8, 6),
        "E4": (26, 22, 24),
        "E5": (31, 9, 9),
        "E6": (29, 12, 8),
    },
    "sds": {
        "E1": (20, 10, 9),
        "E2": (18, 7, 8),
        "E3": (24, 5, 4),
        "E4": (19, 18, 20),
        "E5": (22, 6, 6),
        "E6": (21, 9, 7),
    },
}
_DAYS = {"SCR": -31, "V3": -3, "V4": 0, "V5": 14, "V13": 98, "FU7": 210}
_START = pd.Timestamp("2024-01-08")


def example_trial(*, simulated: bool = False) -> TrialData:
    """Six enrolled participants with MADRS, SDS and C-SSRS, doses, vital signs and one AE.

    Examples
    --------
    >>> data = example_trial()
    >>> data.enrolled_ids
    ('E1', 'E2', 'E3', 'E4', 'E5', 'E6')
    >>> sorted(data.scores["scale"].unique())
    ['cssrs', 'madrs', 'sds']
    """
    ids = tuple(EXAMPLE_TOTALS["madrs"])
    people = pd.DataFrame(
        {
            "participant_id": ids,
            "site": "OST",
            "arm": "MDMA",
            "sex": ["female", "male"] * 3,
            "age_years": [25, 33, 41, 47, 52, 60],
            "status": "completed",
            "screened_date": _START - pd.Timedelta(days=40),
            "enrolled_date": _START - pd.Timedelta(days=30),
            "ineligible_reasons": [[] for _ in ids],
            "withdrawn_reason": None,
            "simulated": simulated,
        }
    )
    rows: list[dict[str, Any]] = []
    for scale, table in EXAMPLE_TOTALS.items():
        for pid, totals in table.items():
            for visit, total in zip(("V3", "V13", "FU7"), totals, strict=True):
                rows.append(_form(pid, visit, scale, total))
    for pid in ids:
        # the C-SSRS baseline form at screening (the protocol's C-SSRS baseline), then later ones
        for visit, ideation in (("SCR", 1 if pid == "E4" else 0), ("V13", 0), ("FU7", 0)):
            rows.append(_form(pid, visit, "cssrs", None, ideation_type=ideation))
    at = _START + pd.Timedelta(days=_DAYS["V5"], hours=9)
    doses = pd.DataFrame(
        [
            {
                "participant_id": pid,
                "visit_code": "V5",
                "session_number": 1,
                "kind": kind,
                "dose_mg": mg,
                "status": "withheld" if (pid, kind) == ("E4", "supplemental") else "given",
                "given_at": None
                if (pid, kind) == ("E4", "supplemental")
                else (at + pd.Timedelta(hours=h)).tz_localize("UTC"),
                "withheld_reason": "participant's wish"
                if (pid, kind) == ("E4", "supplemental")
                else None,
            }
            for pid in ids
            for kind, mg, h in (("initial", 80.0, 0), ("supplemental", 40.0, 2))
        ]
    )
    vitals = pd.DataFrame(
        [
            {
                "participant_id": pid,
                "visit_code": "V5",
                "session_number": 1,
                "minutes_after_dose": minutes,
                "measured_at": (at + pd.Timedelta(minutes=minutes)).tz_localize("UTC"),
                "systolic_bp": sys_bp + (30 if pid == "E2" and minutes else 0),
                "diastolic_bp": 80.0,
                "heart_rate": 72.0 + minutes / 10,
                "temperature": 36.9,
                "respiratory_rate": None,  # not read in this example
                "oxygen_saturation": None,
            }
            for pid in ids
            for minutes, sys_bp in ((0, 125.0), (120, 145.0))
        ]
    )
    adverse_events = pd.DataFrame(
        [
            {
                "participant_id": "E1",
                "term": "headache",
                "onset_date": _START + pd.Timedelta(days=_DAYS["V5"]),
                "severity": "mild",
                "serious": False,
                "relatedness": "possible",
                "outcome": "recovered",
            }
        ]
    )
    return TrialData(
        participants=people,
        scores=pd.DataFrame(rows),
        doses=doses,
        vitals=vitals,
        adverse_events=adverse_events,
        simulated=simulated,
    )


def example_context() -> tuple[Protocol, Context]:
    """The Oslo protocol and the section runners' :class:`Context` of :func:`example_trial`.

    Examples
    --------
    >>> oslo, ctx = example_context()
    >>> len(oslo.analysis.analyses), ctx.population
    (11, ('E1', 'E2', 'E3', 'E4', 'E5', 'E6'))
    """
    oslo = load_protocol("oslo-mdma-mdd")
    return oslo, build_context(example_trial(), oslo)


def _form(
    pid: str, visit: str, scale: str, total: float | None, ideation_type: int | None = None
) -> dict[str, Any]:
    derived: dict[str, Any] = {}
    if ideation_type is not None:
        derived = {"ideation_type": ideation_type, "any_behaviour": False}
    return {
        "participant_id": pid,
        "visit_code": visit,
        "study_day": _DAYS[visit],
        "scale": scale,
        "version": ("baseline" if visit == "SCR" else "since_last_visit")
        if scale == "cssrs"
        else None,
        "total": total,
        "band": None,
        "n_missing": 0,
        "prorated": False,
        "assessed_at": (_START + pd.Timedelta(days=_DAYS[visit], hours=10)).tz_localize("UTC"),
        "items": {"suicidal_thoughts": 1} if scale == "madrs" else {},
        "subscales": {},
        "derived": derived,
    }
