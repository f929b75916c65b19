"""Every bad input is refused with a clear RemitError and NOTHING is written (rows counted in
every table, audit trail included), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from tests.support.db import count_all
from tests.support.forms import at, fill, madrs
from tests.support.predose import ready_for_dose
from tests.support.trial import OsloTrial, enrolled, visit_date

from remit import services as sv
from remit.errors import (
    AnswerError,
    ConflictError,
    InputError,
    LockedError,
    NotFoundError,
    PermissionDeniedError,
    RemitError,
)


@dataclass(frozen=True)
class Case:
    name: str
    call: Callable[[], Any]
    error: type[RemitError]
    says: str


def _prepared(oslo: OsloTrial) -> tuple[str, dict[str, Any]]:
    """A participant at the first dosing day (initial dose given at 09:00) with forms to edit."""
    pid = enrolled(oslo, "V3")
    e, inv, rater = oslo.engine, oslo.investigator, oslo.rater
    v3 = sv.record_assessment(e, rater, pid, "V3", "madrs", madrs(3, 1), idempotency_key="k-v3")
    sds = sv.record_assessment(e, oslo.therapist, pid, "V3", "sds", fill("sds"))
    gad = sv.record_assessment(e, oslo.therapist, pid, "V3", "gad7", fill("gad7"))
    sv.sign(
        e,
        inv,
        "assessment",
        sds.id,
        password="correct horse battery staple",
        meaning="approved",
    )
    sv.lock(e, oslo.data_manager, "form", record_table="assessment", record_id=gad.id)
    edited = sv.update_assessment(
        e, rater, v3.id, madrs(3, 2), expected_version=v3.version, reason="re-rated item 10"
    )
    # the baseline MADRS above (29) lets the enrolment be confirmed at V4; then V5 is dosed
    sv.confirm_enrolment(e, inv, pid, confirmed_at=at(visit_date(oslo, pid, "V4"), 11))
    day = visit_date(oslo, pid, "V5")
    sv.record_visit(e, inv, pid, "V5", day)
    sv.start_dosing_session(e, inv, pid, "V5", started_at=at(day, 8))
    ready_for_dose(e, oslo.protocol, inv, oslo.therapist, pid, "V5", at(day, 8, 55))
    sv.record_dose(e, inv, pid, "V5", kind="initial", dose_mg=80, given_at=at(day, 9))
    med = sv.record_conmed(e, inv, pid, name="paracetamol", atc_code="N02BE01")
    return pid, {"day": day, "v3": v3, "edited": edited, "sds": sds, "gad": gad, "med": med}


def _cases(oslo: OsloTrial, pid: str, made: dict[str, Any]) -> list[Case]:
    e, inv, the, rater = oslo.engine, oslo.investigator, oslo.therapist, oslo.rater
    day, v3 = made["day"], made["v3"]

    def vitals(**values: float) -> Callable[[], Any]:
        return lambda: sv.record_vitals(
            e, the, pid, "V5", measured_at=at(day, 9, 30), values=values
        )

    return [
        Case("out-of-range item", lambda: sv.record_assessment(
            e, the, pid, "V3", "isi", fill("isi") | {"1": 7}), AnswerError, "out of range"),
        Case("form for a visit not reached", lambda: sv.record_assessment(
            e, rater, pid, "V13", "madrs", madrs(3, 1)), InputError, "is not reached: no target"),
        Case("unknown visit", lambda: sv.record_assessment(
            e, rater, pid, "V99", "madrs", madrs()), NotFoundError, "V99"),
        Case("scale not at that visit", lambda: sv.record_assessment(
            e, rater, pid, "V6", "madrs", madrs()), InputError, "not assessed at V6"),
        Case("MADRS by a therapist", lambda: sv.record_assessment(
            e, the, pid, "V13", "madrs", madrs()), PermissionDeniedError, "independent rater"),
        Case("second form at a visit", lambda: sv.record_assessment(
            e, rater, pid, "V3", "madrs", madrs()), ConflictError, "already has a madrs"),
        Case("dose above the session maximum", lambda: sv.record_dose(
            e, inv, pid, "V5", kind="supplemental", dose_mg=120, given_at=at(day, 11)),
            InputError, "above the maximum of 180 mg"),
        Case("supplemental dose outside its window", lambda: sv.record_dose(
            e, inv, pid, "V5", kind="supplemental", dose_mg=40, given_at=at(day, 10)),
            InputError, "outside the offer window of 90–150 minutes"),
        Case("override by a therapist", lambda: sv.record_dose(
            e, the, pid, "V5", kind="supplemental", dose_mg=40, given_at=at(day, 10),
            override_reason="participant asked"), PermissionDeniedError, "may not override"),
        Case("second initial dose", lambda: sv.record_dose(
            e, inv, pid, "V5", kind="initial", dose_mg=80, given_at=at(day, 9, 5)),
            ConflictError, "already recorded"),
        Case("systolic not above diastolic", vitals(systolic_bp=80, diastolic_bp=90),
             InputError, "not above diastolic"),
        Case("heart rate 300", vitals(heart_rate=300), InputError, "between 20 and 250"),
        Case("heart rate 19", vitals(heart_rate=19), InputError, "between 20 and 250"),
        Case("temperature in Fahrenheit", vitals(temperature=99.5), InputError, "Fahrenheit"),
        Case("negative value", vitals(diastolic_bp=-5), InputError, "negative"),
        Case("oxygen saturation above 100 %", vitals(oxygen_saturation=101), InputError,
             "between 50 and 100 %"),
        Case("respiratory rate not whole", vitals(respiratory_rate=16.5), InputError,
             "not a whole number"),
        Case("unknown sign", vitals(pulse_ox=97), InputError, "not a vital sign"),
        Case("no value at all", vitals(heart_rate=None), InputError, "no vital sign given"),
        Case("edit without a reason", lambda: sv.update_assessment(
            e, rater, v3.id, madrs(3, 3), expected_version=made["edited"].version),
            InputError, "needs a reason"),
        Case("edit of a signed form", lambda: sv.update_assessment(
            e, the, made["sds"].id, fill("sds", level=2), expected_version=2, reason="typo"),
            LockedError, "signed"),
        Case("edit of a locked form", lambda: sv.update_assessment(
            e, the, made["gad"].id, fill("gad7", level=2), expected_version=2, reason="typo"),
            LockedError, "locked"),
        Case("stale version", lambda: sv.update_assessment(
            e, rater, v3.id, madrs(3, 3), expected_version=v3.version, reason="x"),
            ConflictError, "answers.suicidal_thoughts"),
        Case("reused idempotency key, other body", lambda: sv.record_assessment(
            e, rater, pid, "V13", "madrs", madrs(2, 1), idempotency_key="k-v3"),
            ConflictError, "already used for a different request"),
        Case("naive time", lambda: sv.record_vitals(
            e, the, pid, "V5", measured_at=at(day, 9).replace(tzinfo=None),
            values={"heart_rate": 70}),
            InputError, "no time zone"),
        Case("monitor enters a form", lambda: sv.record_assessment(
            e, oslo.monitor, pid, "V13", "madrs", madrs()), PermissionDeniedError, "may not"),
        Case("withheld without a reason", lambda: sv.record_dose(
            e, inv, pid, "V5", kind="supplemental", dose_mg=40, status="withheld"),
            InputError, "reason the dose was withheld"),
        Case("supplemental dose with no recent reading", lambda: sv.record_dose(
            e, inv, pid, "V5", kind="supplemental", dose_mg=40, given_at=at(day, 11)),
            InputError, "no systolic BP reading in the 30 minutes before the dose"),
        Case("session ended before the discharge is signed off",
             lambda: sv.end_dosing_session(e, the, pid, "V5", ended_at=at(day, 17)),
             InputError, "not signed off yet"),
        Case("discharge signed off by a therapist", lambda: sv.sign_off_discharge(
            e, the, pid, "V5", signed_at=at(day, 16)), PermissionDeniedError, "may not"),
        Case("follow-up call before the session ended", lambda: sv.record_follow_up_call(
            e, the, pid, "V5", status="done", called_at=at(day, 18)),
            InputError, "no follow-up call scheduled"),
        Case("deviation of a category Remit records itself", lambda: sv.record_deviation(
            e, inv, pid, category="dose_above_cap", description="x", occurred_date=day),
            InputError, "recorded by Remit itself"),
        Case("medication with a bad ATC code", lambda: sv.record_conmed(
            e, inv, pid, name="sertraline", atc_code="N6AB06"), InputError, "not of the shape"),
        Case("medication edit without a reason", lambda: sv.edit_conmed(
            e, inv, made["med"].id, reason="", dose="1 g"), InputError, "reason for the change"),
        Case("medication stopped by a rater", lambda: sv.stop_conmed(
            e, rater, made["med"].id, stop_date=day), PermissionDeniedError, "may not"),
    ]  # fmt: skip


def test_each_bad_input_is_refused_and_nothing_is_written(oslo: OsloTrial) -> None:
    pid, made = _prepared(oslo)
    failures = []
    for case in _cases(oslo, pid, made):
        before = count_all(oslo.engine)
        with pytest.raises(RemitError) as caught:
            case.call()
        after = count_all(oslo.engine)
        if not isinstance(caught.value, case.error) or case.says not in str(caught.value):
            failures.append(f"{case.name}: {type(caught.value).__name__}: {caught.value}")
        if before != after:
            changed = {t: (before[t], after[t]) for t in before if before[t] != after[t]}
            failures.append(f"{case.name}: rows written {changed}")
    assert failures == []


def test_a_rater_reading_identity_is_refused_and_only_the_refusal_is_logged(
    oslo: OsloTrial,
) -> None:
    pid = enrolled(oslo, "SCR")
    before = count_all(oslo.engine)
    with pytest.raises(PermissionDeniedError, match="may not read the identity"):
        sv.read_identity(oslo.engine, oslo.rater, pid, purpose="curious")
    after = count_all(oslo.engine)
    changed = {t: after[t] - before[t] for t in before if before[t] != after[t]}
    assert changed == {"identity_access_log": 1, "audit_event": 1}
    identity = sv.read_identity(oslo.engine, oslo.investigator, pid, purpose="phone call")
    assert identity.name == "Ola Nordmann"


def test_a_retry_with_the_same_key_returns_the_original_and_writes_nothing(
    oslo: OsloTrial,
) -> None:
    pid = enrolled(oslo, "V3")
    first = sv.record_assessment(
        oslo.engine, oslo.rater, pid, "V3", "madrs", madrs(4, 1), idempotency_key="retry-1"
    )
    before = count_all(oslo.engine)
    again = sv.record_assessment(
        oslo.engine, oslo.rater, pid, "V3", "madrs", madrs(4, 1), idempotency_key="retry-1"
    )
    assert again == first
    assert count_all(oslo.engine) == before


def test_concurrent_submissions_with_one_key_store_one_form(oslo: OsloTrial) -> None:
    from concurrent.futures import ThreadPoolExecutor

    pid = enrolled(oslo, "V3")
    before = count_all(oslo.engine)["assessment"]

    def submit(_: int) -> int:
        return sv.record_assessment(
            oslo.engine, oslo.rater, pid, "V3", "madrs", madrs(2, 0), idempotency_key="race"
        ).id

    with ThreadPoolExecutor(max_workers=4) as pool:
        ids = set(pool.map(submit, range(4)))
    assert len(ids) == 1
    assert count_all(oslo.engine)["assessment"] == before + 1
