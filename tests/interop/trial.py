"""A small Oslo trial driven through the services: one participant to follow-up (an edited
MADRS), one withdrawn after the first dosing session (supplemental dose withheld), one
ineligible at screening. Every identity value is listed in IDENTITY for the leak test."""

from __future__ import annotations

from datetime import date, timedelta

from tests.services.conftest import ELIGIBLE, OsloTrial, at, fill, madrs

from remit import services as sv

IDENTITY = {
    "OSL-001": {
        "name": "Kari Nordmann",
        "national_id": "01018312345",
        "contact": "kari@example.no",
    },
    "OSL-002": {"name": "Ola Tveiten", "national_id": "02028054321", "contact": "+47 912 34 567"},
    "OSL-003": {"name": "Siv Haugland", "national_id": "03037711223", "contact": "siv@example.no"},
}

NORMAL = {"systolic_bp": 124, "diastolic_bp": 80, "heart_rate": 72, "temperature": 36.8}


def _forms(oslo: OsloTrial, pid: str, visit: str, day: date, level: int) -> None:
    by_rater = {
        "independent_rater": oslo.rater,
        "investigator": oslo.investigator,
        "therapist": oslo.therapist,
        "self_report": oslo.therapist,
    }
    for form in oslo.protocol.assessments_at(visit):
        if form.timing == "during_session":
            continue
        answers = (
            madrs(level, 1) if form.scale == "madrs" else fill(form.scale, form.version, level)
        )
        sv.record_assessment(
            oslo.engine,
            by_rater[form.rater],
            pid,
            visit,
            form.scale,
            answers,
            version=form.version,
            assessed_at=at(day, 10),
        )


def _dosing_day(oslo: OsloTrial, pid: str, visit: str, day: date, *, withhold: bool) -> None:
    inv, the = oslo.investigator, oslo.therapist
    planned = oslo.protocol.dosing_session(visit)
    assert planned is not None
    sv.start_dosing_session(oslo.engine, inv, pid, visit, started_at=at(day, 8, 30))
    dose0 = at(day, 9)
    sv.record_vitals(
        oslo.engine, the, pid, visit, measured_at=dose0 - timedelta(minutes=15), values=NORMAL
    )
    sv.record_dose(
        oslo.engine, inv, pid, visit, kind="initial", dose_mg=planned.initial_mg, given_at=dose0
    )
    sv.record_vas(
        oslo.engine, the, pid, visit, "initial_dose", fill("se_vas", level=10), assessed_at=dose0
    )
    for minutes in planned.vitals.timepoints_min()[:3]:
        sv.record_vitals(
            oslo.engine,
            the,
            pid,
            visit,
            measured_at=dose0 + timedelta(minutes=minutes),
            values={**NORMAL, "heart_rate": 80 + minutes // 30},
        )
    if withhold:
        sv.record_dose(
            oslo.engine,
            inv,
            pid,
            visit,
            kind="supplemental",
            dose_mg=planned.supplemental_mg,
            status="withheld",
            withheld_reason="participant declined",
        )
    else:
        sv.record_dose(
            oslo.engine,
            inv,
            pid,
            visit,
            kind="supplemental",
            dose_mg=planned.supplemental_mg,
            given_at=dose0 + timedelta(minutes=121),
        )
    sv.end_dosing_session(oslo.engine, inv, pid, visit, ended_at=dose0 + timedelta(hours=8))


def drive(oslo: OsloTrial) -> None:
    """Make the three participants."""
    engine, inv = oslo.engine, oslo.investigator
    plans = [("OSL-001", "FU7", 4), ("OSL-002", "V6", 3), ("OSL-003", "SCR", 2)]
    for (pid, last, level), sex, birth in zip(
        plans, ["female", "male", "female"], [1983, 1980, 1977], strict=True
    ):
        referral = date(2023, 1, 2) + timedelta(days=3 * level)
        person = sv.screen_participant(
            engine,
            inv,
            sex=sex,
            birth_year=birth,
            identity=IDENTITY[pid],
            screened_at=at(referral, 12),
        )
        assert person.participant_id == pid
        sv.set_anchor_date(engine, inv, pid, "referral", referral)
        for visit in oslo.protocol.visit_codes:
            planned = {v.visit_code: v for v in sv.list_visits(engine, inv, pid)}[visit]
            assert planned.target_date is not None
            day = planned.target_date
            sv.record_visit(engine, inv, pid, visit, day)
            if visit == "SCR":
                data = dict(ELIGIBLE)
                if pid == "OSL-003":
                    data["psychosis"] = True
                sv.check_eligibility(engine, inv, pid, data)
            if visit == "V0":
                sv.enrol(engine, inv, pid)
            if pid != "OSL-003" or visit != "SCR":
                # later visits improve: a lower MADRS level after the first dosing session
                after = visit in ("V13", "V14", "FU7")
                _forms(oslo, pid, visit, day, 1 if after else level)
            if oslo.protocol.dosing_session(visit) is not None:
                _dosing_day(oslo, pid, visit, day, withhold=pid == "OSL-002")
            if visit == "V5" and pid == "OSL-001":
                sv.record_adverse_event(
                    engine,
                    oslo.therapist,
                    pid,
                    term="Headache",
                    onset_date=day,
                    severity="mild",
                    relatedness="possible",
                    awareness_at=at(day, 15),
                )
            if visit == last:
                break
    v13 = next(
        a
        for a in sv.list_assessments(engine, inv, "OSL-001", visit_code="V13")
        if a.scale == "madrs"
    )
    sv.update_assessment(
        engine,
        oslo.rater,
        v13.id,
        {**v13.answers, "apparent_sadness": 3},
        expected_version=v13.version,
        reason="rater corrected item 1 after source check",
    )
    sv.withdraw(engine, inv, "OSL-002", reason="moved abroad")
