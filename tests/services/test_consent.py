"""Informed consent: no study procedure before consent, re-consent to a newer version of the
form, full and partial withdrawal, and the SDTM dates, on SQLite and PostgreSQL. Every refusal
stores nothing (rows counted in every table, audit trail included)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine
from tests.support.db import count_all
from tests.support.forms import NORMAL_VITALS, at, fill, madrs
from tests.support.trial import (
    ELIGIBLE,
    REFERRAL,
    OsloTrial,
    Participant,
    add_participant,
    build_trial,
    enrolled,
    screening_form,
    visit_date,
)

from remit import services as sv
from remit.errors import ConflictError, InputError, NotFoundError, PermissionDeniedError
from remit.interop.sdtm import build_sdtm
from remit.protocol import Protocol, load_protocol, parse_protocol

#: Version 2.0 of the form takes effect two months after the test referral date; it adds an
#: optional biobank component that alone covers the GAD-7.
NEW_VERSION = date(2023, 3, 1)
TWO_VERSIONS = f"""
[consent]
assumption = "a test form with two versions"

[[consent.versions]]
version = "1.0"
effective = 2021-06-01
components = ["main"]
required_components = ["main"]

[[consent.versions]]
version = "2.0"
effective = {NEW_VERSION.isoformat()}
components = ["main", "biobank"]
required_components = ["main"]
covers = {{ biobank = ["record_assessment:gad7"] }}
"""


def _two_versions() -> Protocol:
    text = load_protocol("oslo-mdma-mdd").text
    cut = text.index("[consent]")
    protocol, problems = parse_protocol(text[:cut] + TWO_VERSIONS)
    assert problems == [], problems
    return protocol


#: The reason these tests give for forms they date outside V3's window (the dates are chosen
#: around the consent versions, not the schedule).
LATE = "dated by the consent test, not the schedule"


def _unconsented(oslo: OsloTrial) -> str:
    return add_participant(oslo, Participant(through=None, enrol=False, consent=False))


def test_no_study_procedure_is_recorded_before_consent(
    oslo: OsloTrial, rows: Callable[[], dict[str, int]]
) -> None:
    e, inv, rater = oslo.engine, oslo.investigator, oslo.rater
    pid = _unconsented(oslo)
    sv.record_visit(e, inv, pid, "PHONE", REFERRAL + timedelta(7))  # before consent: allowed
    before = rows()
    when = at(REFERRAL + timedelta(14), 10)
    attempts: list[Callable[[], object]] = [
        lambda: sv.check_eligibility(e, inv, pid, ELIGIBLE),
        lambda: sv.record_assessment(
            e, inv, pid, "SCR", "cssrs", fill("cssrs", "baseline"), version="baseline"
        ),
        lambda: sv.record_assessment(e, rater, pid, "V3", "madrs", madrs(), assessed_at=when),
        lambda: sv.enrol(e, inv, pid),
        lambda: sv.record_vitals(e, inv, pid, "SCR", measured_at=when, values=NORMAL_VITALS),
        lambda: sv.record_adverse_event(
            e,
            inv,
            pid,
            term="Headache",
            onset_date=REFERRAL,
            severity="mild",
            relatedness="not_related",
        ),
    ]
    for attempt in attempts:
        with pytest.raises(
            InputError, match=r"OSL-001 has no informed consent .*\(version 1\.0\) first"
        ):
            attempt()
    assert rows() == before
    status = sv.consent_status(e, inv, pid)
    assert (status.consent_required, status.procedures_allowed, status.current) == (
        True,
        False,
        None,
    )

    sv.record_consent(e, inv, pid, version="1.0", components=["main"], consented_at=at(REFERRAL, 9))
    screening_form(oslo, pid)
    assert sv.check_eligibility(e, inv, pid, ELIGIBLE).eligible
    status = sv.consent_status(e, inv, pid)
    assert status.procedures_allowed
    assert status.agreed == ("main",)
    assert status.current is not None
    assert status.current.obtained_by == inv.username


def test_a_procedure_before_the_time_of_consent_is_refused(
    oslo: OsloTrial, rows: Callable[[], dict[str, int]]
) -> None:
    e, rater = oslo.engine, oslo.rater
    pid = enrolled(oslo, "V3")  # consent at 08:00 on the referral date
    before = rows()
    with pytest.raises(InputError, match="no informed consent recorded on or before"):
        sv.record_assessment(
            e, rater, pid, "V3", "madrs", madrs(), assessed_at=at(REFERRAL - timedelta(1), 10)
        )
    assert rows() == before


def test_bad_consents_are_refused_and_store_nothing(
    oslo: OsloTrial, rows: Callable[[], dict[str, int]]
) -> None:
    e, inv = oslo.engine, oslo.investigator
    pid = _unconsented(oslo)
    when = at(REFERRAL, 9)
    before = rows()
    cases: list[tuple[dict[str, object], type[Exception], str]] = [
        ({"version": "9.9"}, NotFoundError, "consent version '9.9' is not in the protocol"),
        ({"components": ["future_contact"]}, InputError, r"required \['main'\] missing"),
        ({"components": ["main", "biobank"]}, InputError, r"\['biobank'\] unknown"),
        ({"components": "main"}, InputError, "are not a list"),
        ({"consented_at": datetime(2023, 1, 2, 9)}, InputError, "has no time zone"),
        ({"consented_at": datetime.now(UTC) + timedelta(days=1)}, InputError, "in the future"),
        ({"consented_at": at(date(2021, 1, 4), 9)}, InputError, "effective from 2021-06-01"),
    ]
    for change, error, says in cases:
        given: dict[str, object] = {"version": "1.0", "components": ["main"], "consented_at": when}
        with pytest.raises(error, match=says):
            sv.record_consent(e, inv, pid, **(given | change))  # type: ignore[arg-type]
    with pytest.raises(PermissionDeniedError, match="may not record consent"):
        sv.record_consent(e, oslo.rater, pid, version="1.0", components=["main"], consented_at=when)
    assert rows() == before


def test_a_newer_version_of_the_form_needs_re_consent(
    engine: Engine, fast_password_hashing: None
) -> None:
    trial = build_trial(engine, protocol=_two_versions())
    e, inv = engine, trial.investigator
    # registered and consented to 1.0 on the referral date
    pid = add_participant(trial, Participant(through=None, enrol=False))
    for code in ("PHONE", "SCR"):  # visit dates need no consent; SCR's form does
        sv.record_visit(e, inv, pid, code, visit_date(trial, pid, code))
    before_new = at(NEW_VERSION - timedelta(10), 10)
    after_new = at(NEW_VERSION + timedelta(9), 10)
    sv.record_assessment(
        e, inv, pid, "SCR", "cssrs", fill("cssrs", "baseline"), version="baseline",
        assessed_at=before_new, window_reason=LATE,
    )  # fmt: skip
    rows = count_all(engine)
    with pytest.raises(InputError, match=r"record re-consent to version 2\.0 first"):
        sv.record_assessment(e, inv, pid, "V3", "sds", fill("sds"), assessed_at=after_new)
    with pytest.raises(InputError, match=r"superseded on 2023-03-05 by version 2\.0"):
        sv.record_consent(
            e, inv, pid, version="1.0", components=["main"], consented_at=at(date(2023, 3, 5), 9)
        )
    assert count_all(engine) == rows
    assert sv.consent_status(e, inv, pid, at=after_new).problem is not None

    again = sv.record_consent(
        e, inv, pid, version="2.0", components=["main"], consented_at=at(date(2023, 3, 5), 9)
    )
    assert again.version == "2.0"
    assert sv.check_eligibility(e, inv, pid, ELIGIBLE).eligible  # a procedure, consented now
    # the biobank component (declined) alone covers the GAD-7
    with pytest.raises(InputError, match="component biobank, which covers record assessment"):
        sv.record_assessment(e, inv, pid, "V3", "gad7", fill("gad7"), assessed_at=after_new)
    status = sv.consent_status(e, inv, pid, at=after_new)
    assert [c.version for c in status.history] == ["1.0", "2.0"]
    assert (status.version_in_force, status.procedures_allowed) == ("2.0", True)


def test_partial_withdrawal_stops_only_what_the_component_covers(
    engine: Engine, fast_password_hashing: None
) -> None:
    trial = build_trial(engine, protocol=_two_versions())
    e, inv = engine, trial.investigator
    plan = Participant(through="V3", referral=NEW_VERSION, consented_at=at(NEW_VERSION, 9))
    pid = add_participant(trial, plan)  # consented to 2.0 with main and biobank
    t = at(NEW_VERSION + timedelta(20), 10)
    sv.record_assessment(e, inv, pid, "V3", "gad7", fill("gad7"), assessed_at=t, window_reason=LATE)
    with pytest.raises(InputError, match=r"\['main'\] not optional components"):
        sv.withdraw_consent(e, inv, pid, reason="x", withdrawn_at=t, components=["main"])
    withdrawn = sv.withdraw_consent(
        e, inv, pid, reason="no more samples", withdrawn_at=t, components=["biobank"]
    )
    assert (withdrawn.withdrawal_scope, withdrawn.withdrawn_components) == ("partial", ("biobank",))
    later = t + timedelta(days=30)
    with pytest.raises(InputError, match="component biobank"):
        sv.record_assessment(e, inv, pid, "V13", "gad7", fill("gad7"), assessed_at=later)
    sv.record_assessment(
        e, inv, pid, "V3", "sds", fill("sds"), assessed_at=later, window_reason=LATE
    )
    assert sv.get_participant(e, inv, pid).status == "enrolled"
    with pytest.raises(ConflictError, match="already withdrew"):
        sv.withdraw_consent(e, inv, pid, reason="y", withdrawn_at=later, components=["biobank"])


def test_full_withdrawal_stops_procedures_but_not_safety_follow_up(
    oslo: OsloTrial, rows: Callable[[], dict[str, int]]
) -> None:
    e, inv, rater = oslo.engine, oslo.investigator, oslo.rater
    pid = enrolled(oslo, "V4")
    day = date(2023, 5, 2)
    gone = sv.withdraw_consent(e, inv, pid, reason="moved abroad", withdrawn_at=at(day, 14))
    assert gone.withdrawal_scope == "full"
    participant = sv.get_participant(e, inv, pid)
    assert (participant.status, participant.status_reason) == (
        "withdrawn",
        "consent withdrawn: moved abroad",
    )
    before = rows()
    with pytest.raises(InputError, match=r"withdrew consent on 2023-05-02"):
        sv.record_assessment(e, rater, pid, "V3", "madrs", madrs(), assessed_at=at(day, 15))
    with pytest.raises(ConflictError, match="already withdrawn fully"):
        sv.withdraw_consent(e, inv, pid, reason="again", withdrawn_at=at(day, 16))
    assert rows() == before
    # an adverse event learnt of after the withdrawal is still recorded (safety follow-up)
    ae = sv.record_adverse_event(
        e,
        inv,
        pid,
        term="Insomnia",
        onset_date=day,
        severity="mild",
        relatedness="possible",
        awareness_at=at(day + timedelta(3), 9),
    )
    assert ae.term == "Insomnia"
    vitals = sv.record_vitals(e, inv, pid, "V4", measured_at=at(day, 15), values=NORMAL_VITALS)
    assert vitals.measured_at == at(day, 15)


def test_sdtm_takes_the_consent_dates(oslo: OsloTrial) -> None:
    e, inv = oslo.engine, oslo.investigator
    consented = enrolled(oslo, "V4")  # consent 2023-01-02 08:00 UTC
    never = _unconsented(oslo)
    sv.withdraw_consent(e, inv, consented, reason="moved abroad", withdrawn_at=at(REFERRAL, 20))
    sdtm = build_sdtm(sv.build_trial_data(e, actor=oslo.statistician), oslo.protocol)
    dm = sdtm["DM"].frame.set_index("SUBJID")
    assert dm.loc[consented, "RFICDTC"] == "2023-01-02T08:00:00"
    assert dm.loc[never, "RFICDTC"] is None
    ds = sdtm["DS"].frame
    mine = ds[ds["USUBJID"].str.endswith(consented)].set_index("DSTERM")
    assert mine.loc["INFORMED CONSENT OBTAINED", "DSSTDTC"] == "2023-01-02T08:00:00"
    assert mine.loc["INFORMED CONSENT WITHDRAWN", "DSSTDTC"] == "2023-01-02T20:00:00"
    assert ds[ds["USUBJID"].str.endswith(never)].empty


def test_a_retried_consent_is_stored_once(
    oslo: OsloTrial, rows: Callable[[], dict[str, int]]
) -> None:
    e, inv = oslo.engine, oslo.investigator
    pid = _unconsented(oslo)

    def record(*components: str) -> object:
        return sv.record_consent(
            e,
            inv,
            pid,
            version="1.0",
            components=list(components),
            consented_at=at(REFERRAL, 9),
            idempotency_key="tablet-1:consent",
        )

    first = record("main")
    before = rows()
    assert record("main") == first
    with pytest.raises(ConflictError):
        record("main", "future_contact")
    assert rows() == before
