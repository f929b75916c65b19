"""The analysis layer's small hand-made trial on the Oslo protocol, with known numbers.

A ``TrialData`` built directly (no database): the analysis and report tests check their
numbers against it, so each value below is chosen, not simulated.

Twelve enrolled participants (P01–P12) and two screen failures (S13, S14). MADRS totals at
V3 (baseline), V13 and FU7 are chosen to hit the endpoint boundaries:

- P01 30 → 15: exactly a 50 % reduction (responder), 15 is not remission.
- P02 20 → 10: exactly the remission cut-off (remitter) and 50 % (responder); FU7 12: relapse.
- P08 29 → 9 → 11: remitter who relapses at FU7 but keeps the response (sustained response).
- P06 26 → 14 → 12: not a responder at V13 (46 %), a responder at FU7.
- P10 has no FU7, P11 no V13.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from remit.analysis import TrialData
from remit.protocol import VITAL_SIGN_CODES

MADRS: dict[str, tuple[float, float, float]] = {
    "P01": (30, 15, 15),
    "P02": (20, 10, 12),
    "P03": (32, 8, 6),
    "P04": (28, 20, 22),
    "P05": (35, 5, 7),
    "P06": (26, 14, 12),
    "P07": (30, 9, 10),
    "P08": (29, 9, 11),
    "P09": (33, 30, 31),
    "P10": (31, 10, np.nan),
    "P11": (27, np.nan, 12),
    "P12": (25, 4, 3),
}
SDS: dict[str, tuple[float, float, float]] = {
    "P01": (20, 12, 10),
    "P02": (18, 6, 9),
    "P03": (25, 5, 4),
    "P04": (22, 21, 23),
    "P05": (27, 3, 5),
    "P06": (19, 11, 8),
    "P07": (24, 7, 9),
    "P08": (21, 8, 10),
    "P09": (26, 25, 27),
    "P10": (23, 9, np.nan),
    "P11": (17, np.nan, 7),
    "P12": (16, 2, 1),
}
# (baseline-period C-SSRS ideation type at SCR and V4, worst afterwards at V13 and FU7)
CSSRS: dict[str, tuple[int, int, int, int]] = {
    "P01": (1, 0, 0, 0),
    "P02": (2, 1, 0, 1),
    "P04": (1, 1, 2, 3),
    "P09": (0, 0, 1, 2),
}
IDS = tuple(MADRS)
VISIT_DAY = {"SCR": -40, "V3": -3, "V4": 0, "V5": 14, "V9": 42, "V13": 98, "FU7": 210}
START = pd.Timestamp("2023-01-09")


def _date(pid: str, visit: str) -> pd.Timestamp:
    return START + pd.Timedelta(days=7 * IDS.index(pid) + VISIT_DAY[visit])


def _participants() -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for i, pid in enumerate(IDS):
        rows.append(
            {
                "participant_id": pid,
                "site": "OST",
                "arm": "MDMA",
                "sex": "female" if i < 7 else "male",
                "age_years": 24 + 3 * i,
                "status": "completed" if pid != "P10" else "lost_to_follow_up",
                "screened_date": _date(pid, "SCR"),
                "enrolled_date": _date(pid, "SCR") + pd.Timedelta(days=7),
                "ineligible_reasons": [],
                "withdrawn_reason": None,
                "simulated": False,
            }
        )
    for pid, reasons in (("S13", ["madrs_entry"]), ("S14", ["psychosis", "distance"])):
        rows.append(
            {
                "participant_id": pid,
                "site": "OST",
                "arm": None,
                "sex": "male",
                "age_years": 50,
                "status": "ineligible",
                "screened_date": START,
                "enrolled_date": None,
                "ineligible_reasons": reasons,
                "withdrawn_reason": None,
                "simulated": False,
            }
        )
    return pd.DataFrame(rows)


def _visits() -> pd.DataFrame:
    rows = []
    for pid in IDS:
        for visit in ("SCR", "V3", "V4", "V5", "V9", "V13", "FU7"):
            missed = (pid == "P10" and visit == "FU7") or (pid == "P11" and visit == "V13")
            target = _date(pid, visit)
            rows.append(
                {
                    "participant_id": pid,
                    "visit_code": visit,
                    "target_date": target,
                    "window_start_date": target - pd.Timedelta(days=7),
                    "window_end_date": target + pd.Timedelta(days=7),
                    "actual_date": None if missed else target,
                    "study_day": None if missed else VISIT_DAY[visit],
                    "window_status": "missed" if missed else "in_window",
                }
            )
    return pd.DataFrame(rows)


def _score(pid: str, visit: str, scale: str, total: float, **extra: Any) -> dict[str, Any]:
    row = {
        "participant_id": pid,
        "visit_code": visit,
        "study_day": VISIT_DAY[visit],
        "scale": scale,
        "version": extra.pop("version", "default"),
        "total": total,
        "band": None,
        "n_missing": 0,
        "prorated": False,
        "assessed_at": (_date(pid, visit) + pd.Timedelta(hours=10)).tz_localize("UTC"),
        "items": extra.pop("items", {}),
        "subscales": extra.pop("subscales", {}),
        "derived": extra.pop("derived", {}),
    }
    row.update(extra)
    return row


def _scores() -> pd.DataFrame:
    rows = []
    for pid in IDS:
        for j, visit in enumerate(("V3", "V13", "FU7")):
            madrs = MADRS[pid][j]
            if not np.isnan(madrs):
                item10 = 4 if (pid == "P09" and visit == "FU7") else 1
                rows.append(_score(pid, visit, "madrs", madrs, items={"suicidal_thoughts": item10}))
            sds = SDS[pid][j]
            if not np.isnan(sds):
                rows.append(_score(pid, visit, "sds", sds, subscales={"work_school": sds / 3}))
        types = CSSRS.get(pid, (0, 0, 0, 0))
        for visit, kind, version in zip(
            ("SCR", "V4", "V13", "FU7"),
            types,
            ("baseline", "since_last_visit", "since_last_visit", "since_last_visit"),
            strict=True,
        ):
            if (pid == "P10" and visit == "FU7") or (pid == "P11" and visit == "V13"):
                continue
            derived = {"ideation_type": kind, "any_behaviour": False}
            if pid == "P04" and visit == "FU7":
                derived["any_behaviour"] = True
            rows.append(_score(pid, visit, "cssrs", np.nan, version=version, derived=derived))
    return pd.DataFrame(rows)


def _doses() -> pd.DataFrame:
    rows = []
    for pid in IDS:
        for session, visit, initial, supp in ((1, "V5", 80, 40), (2, "V9", 120, 60)):
            at = (_date(pid, visit) + pd.Timedelta(hours=9)).tz_localize("UTC")
            rows.append(
                {
                    "participant_id": pid,
                    "visit_code": visit,
                    "session_number": session,
                    "kind": "initial",
                    "dose_mg": initial,
                    "status": "given",
                    "given_at": at,
                    "withheld_reason": None,
                }
            )
            withheld = (pid, session) in {("P03", 1), ("P07", 2)}
            rows.append(
                {
                    "participant_id": pid,
                    "visit_code": visit,
                    "session_number": session,
                    "kind": "supplemental",
                    "dose_mg": supp,
                    "status": "withheld" if withheld else "given",
                    "given_at": None if withheld else at + pd.Timedelta(hours=2),
                    "withheld_reason": "participant's wish" if withheld else None,
                }
            )
    return pd.DataFrame(rows)


def _vitals() -> pd.DataFrame:
    rows = []
    for i, pid in enumerate(IDS):
        for session, visit in ((1, "V5"), (2, "V9")):
            start = (_date(pid, visit) + pd.Timedelta(hours=9)).tz_localize("UTC")
            for minutes in (0, 60, 120, 180):
                # systolic peaks at 120 min; P05 goes above 160 in session 2
                bump = {0: 0, 60: 15, 120: 25, 180: 10}[minutes]
                sys_bp = 120 + i + bump + (20 if (pid == "P05" and session == 2) else 0)
                rows.append(
                    {
                        "participant_id": pid,
                        "visit_code": visit,
                        "session_number": session,
                        "minutes_after_dose": minutes,
                        "measured_at": start + pd.Timedelta(minutes=minutes),
                        **dict.fromkeys(VITAL_SIGN_CODES),  # a sign not read below is None
                        "systolic_bp": sys_bp,
                        "diastolic_bp": 80 + bump / 2,
                        "heart_rate": 70 + bump + (12 if pid == "P02" else 0),
                        "temperature": 36.8 + bump / 50,
                    }
                )
    return pd.DataFrame(rows)


def _adverse_events() -> pd.DataFrame:
    rows = [
        ("P01", "headache", "mild", False, "possibly related"),
        ("P01", "jaw clenching", "mild", False, "related"),
        ("P02", "headache", "moderate", False, "possibly related"),
        ("P05", "fatigue", "mild", False, "related"),
        ("P09", "anxiety", "severe", True, "not related"),
    ]
    return pd.DataFrame(
        [
            {
                "participant_id": pid,
                "term": term,
                "onset_date": _date(pid, "V5"),
                "severity": severity,
                "serious": serious,
                "relatedness": related,
                "outcome": "recovered",
            }
            for pid, term, severity, serious, related in rows
        ]
    )


def _alerts() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "participant_id": "P05",
                "rule_id": "vitals_systolic_bp",
                "level": "immediate",
                "raised_at": (_date("P05", "V9") + pd.Timedelta(hours=11)).tz_localize("UTC"),
                "status": "acknowledged",
            },
            {
                "participant_id": "P09",
                "rule_id": "madrs_item10",
                "level": "same_day",
                "raised_at": (_date("P09", "FU7") + pd.Timedelta(hours=11)).tz_localize("UTC"),
                "status": "open",
            },
        ]
    )


def make_trial(simulated: bool = False) -> TrialData:
    """The hand-made trial of this module."""
    return TrialData(
        participants=_participants(),
        visits=_visits(),
        scores=_scores(),
        doses=_doses(),
        vitals=_vitals(),
        adverse_events=_adverse_events(),
        alerts=_alerts(),
        simulated=simulated,
    )


#: When the report tests analyse and render this trial (fixed, so the provenance is known).
RUN_AT = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
RENDERED_AT = datetime(2026, 1, 2, 12, 30, tzinfo=UTC)
