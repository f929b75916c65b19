"""The pre-dose checklist and structured clinical results (issue 12, part 5), on SQLite and
PostgreSQL.

The Oslo protocol's checklist at V5: a negative urine drug screen and (women) pregnancy test
in the 7 days before, pre-dose vital signs within the limits in the hour before, a C-SSRS at
the visit without an urgent finding, no prohibited medication (overridable), consent current,
and two items to tick (fasting, escort home). The initial dose is refused until a completion is
stored and every item, judged again at the dose, is cleared; nothing is stored from a refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests.support.forms import NORMAL_VITALS, at, fill
from tests.support.predose import ready_for_dose
from tests.support.trial import OsloTrial, Participant, add_participant, enrolled, visit_date

from remit import services as sv
from remit.errors import InputError, PermissionDeniedError
from remit.store.tables import AuditEvent, ProtocolDeviation

Rows = Callable[[], dict[str, int]]

CONFIRM = ["fasting", "escort_home"]
IDEATION_4 = {
    "wish_to_be_dead": True,
    "non_specific_active_thoughts": True,
    "active_ideation_methods": True,
    "active_ideation_intent": True,
    "active_ideation_plan_intent": False,
    "intensity_frequency": 3,
    "intensity_duration": 2,
    "intensity_controllability": 2,
    "intensity_deterrents": 1,
    "intensity_reasons": 2,
}


def _session(oslo: OsloTrial, *, sex: str = "male") -> tuple[str, date]:
    """A participant at V5 with the session started at 08:00."""
    if sex == "male":
        pid = enrolled(oslo, "V5")
    else:
        pid = add_participant(oslo, Participant(through="V5", sex=sex))
    day = visit_date(oslo, pid, "V5")
    sv.start_dosing_session(oslo.engine, oslo.investigator, pid, "V5", started_at=at(day, 8))
    return pid, day


def _status(oslo: OsloTrial, pid: str, day: date) -> dict[str, sv.ChecklistItemRecord]:
    found = sv.checklist_status(oslo.engine, oslo.therapist, pid, "V5", at=at(day, 8, 55))
    return {i.id: i for i in found.items}


def _uds(oslo: OsloTrial, pid: str, value: str, when: object) -> sv.ResultRecord:
    return sv.record_result(
        oslo.engine, oslo.investigator, pid, "V5", "urine_drug_screen", value, collected_at=when
    )  # type: ignore[arg-type]


def _initial(oslo: OsloTrial, pid: str, day: date, **more: object) -> sv.DoseRecord:
    actor = more.pop("actor", oslo.investigator)
    return sv.record_dose(
        oslo.engine, actor, pid, "V5", kind="initial", dose_mg=80, given_at=at(day, 9), **more
    )  # type: ignore[arg-type]


def _deviations(oslo: OsloTrial) -> list[ProtocolDeviation]:
    with Session(oslo.engine) as session:
        return list(session.scalars(select(ProtocolDeviation).order_by(ProtocolDeviation.id)))


# --- the initial dose -------------------------------------------------------------------------


def test_the_initial_dose_is_refused_without_a_completed_checklist(
    oslo: OsloTrial, rows: Rows
) -> None:
    pid, day = _session(oslo)
    # every item would pass, but nobody completed the checklist
    ready_for_dose(
        oslo.engine, oslo.protocol, oslo.investigator, oslo.therapist, pid, "V5",
        at(day, 8, 55), complete=False,
    )  # fmt: skip
    before = rows()
    with pytest.raises(InputError) as error:
        _initial(oslo, pid, day, override_reason="investigator insists")
    assert "pre-dose checklist of session 1 has not been completed" in str(error.value)
    assert "no override" in str(error.value.hint)
    assert rows() == before  # nothing stored


def test_completion_then_dose_and_the_refusal_names_each_failing_item(
    oslo: OsloTrial, rows: Rows
) -> None:
    pid, day = _session(oslo)
    before = rows()
    with pytest.raises(InputError) as error:
        sv.complete_checklist(
            oslo.engine, oslo.therapist, pid, "V5", completed_at=at(day, 8, 55), confirmed=CONFIRM
        )
    said = str(error.value)
    for item in ("urine_drug_screen (not_yet)", "pre_dose_vitals (not_yet)", "cssrs (not_yet)"):
        assert item in said
    assert "pregnancy_test" not in said  # a man: not applicable
    assert "fasting" not in said
    assert rows() == before
    done = ready_for_dose(
        oslo.engine, oslo.protocol, oslo.investigator, oslo.therapist, pid, "V5", at(day, 8, 55)
    )
    assert done.complete
    assert done.completion_id is not None
    assert done.completed_by == oslo.therapist.username
    statuses = {i.id: i.status for i in done.items}
    assert statuses["pregnancy_test"] == "not_applicable"
    assert set(statuses.values()) <= {"pass", "not_applicable"}
    dose = _initial(oslo, pid, day)
    assert (dose.status, dose.deviations) == ("given", ())
    with Session(oslo.engine) as session:
        audited = session.scalars(
            select(AuditEvent.table_name).where(AuditEvent.table_name == "dosing_checklist")
        ).all()
    assert audited  # the completion is in the audit trail


def test_the_dose_judges_the_items_again(oslo: OsloTrial, rows: Rows) -> None:
    pid, day = _session(oslo)
    ready_for_dose(
        oslo.engine, oslo.protocol, oslo.investigator, oslo.therapist, pid, "V5", at(day, 8, 55)
    )
    # a positive screen after the completion, before the dose
    _uds(oslo, pid, "positive", at(day, 8, 56))
    before = rows()
    with pytest.raises(InputError, match="urine_drug_screen: Urine drug screen positive"):
        _initial(oslo, pid, day, override_reason="not overridable")
    assert rows() == before


def test_a_safety_item_is_never_overridden(oslo: OsloTrial, rows: Rows) -> None:
    pid, day = _session(oslo)
    sv.record_vitals(
        oslo.engine, oslo.therapist, pid, "V5", measured_at=at(day, 8, 40),
        values={**NORMAL_VITALS, "systolic_bp": 172},
    )  # fmt: skip
    status = ready_for_dose(
        oslo.engine, oslo.protocol, oslo.investigator, oslo.therapist, pid, "V5",
        at(day, 8, 55), complete=False,
    )  # fmt: skip
    vitals = {i.id: i for i in status.items}["pre_dose_vitals"]
    assert (vitals.status, vitals.overridable) == ("fail", False)
    assert "systolic" in vitals.detail.lower()
    before = rows()
    with pytest.raises(InputError, match="pre_dose_vitals"):
        sv.complete_checklist(
            oslo.engine, oslo.investigator, pid, "V5", completed_at=at(day, 8, 55),
            confirmed=CONFIRM, override_reason="BP is white-coat",
        )  # fmt: skip
    assert rows() == before


# --- each kind of item ------------------------------------------------------------------------


def test_result_items_pass_fail_and_age_out(oslo: OsloTrial) -> None:
    pid, day = _session(oslo)
    assert _status(oslo, pid, day)["urine_drug_screen"].status == "not_yet"
    _uds(oslo, pid, "negative", at(day, 8) - timedelta(days=8))  # older than 7 days
    assert _status(oslo, pid, day)["urine_drug_screen"].status == "not_yet"
    _uds(oslo, pid, "negative", at(day, 7))
    assert _status(oslo, pid, day)["urine_drug_screen"].status == "pass"
    _uds(oslo, pid, "positive", at(day, 7, 30))  # the latest result counts
    item = _status(oslo, pid, day)["urine_drug_screen"]
    assert item.status == "fail"
    assert "positive" in item.detail
    # the time as the site's clocks showed it (07:30 UTC is 08:30 in Oslo in winter)
    assert f"collected {day.isoformat()} 08:30 (Europe/Oslo)" in item.detail


def test_pregnancy_test_applies_to_women_and_may_be_marked_not_applicable(
    oslo: OsloTrial, rows: Rows
) -> None:
    pid, day = _session(oslo, sex="female")
    assert _status(oslo, pid, day)["pregnancy_test"].status == "not_yet"
    ready = ready_for_dose(
        oslo.engine, oslo.protocol, oslo.investigator, oslo.therapist, pid, "V5",
        at(day, 8, 55), complete=False,
    )  # fmt: skip
    assert {i.id: i.status for i in ready.items}["pregnancy_test"] == "pass"
    # a positive test is never marked away as not applicable
    sv.record_result(
        oslo.engine, oslo.investigator, pid, "V5", "pregnancy_test", "positive",
        collected_at=at(day, 8, 40),
    )  # fmt: skip
    before = rows()
    with pytest.raises(InputError, match=r"pregnancy_test \(fail\)"):
        sv.complete_checklist(
            oslo.engine, oslo.therapist, pid, "V5", completed_at=at(day, 8, 55),
            confirmed=CONFIRM, not_applicable={"pregnancy_test": "post-menopausal"},
        )  # fmt: skip
    assert rows() == before
    # an item the protocol does not allow to be marked not applicable
    with pytest.raises(InputError, match="may not be marked not applicable"):
        sv.complete_checklist(
            oslo.engine, oslo.therapist, pid, "V5", completed_at=at(day, 8, 55),
            confirmed=CONFIRM, not_applicable={"urine_drug_screen": "forgot"},
        )  # fmt: skip
    assert rows() == before


def test_not_applicable_with_a_reason_when_nothing_is_recorded(oslo: OsloTrial) -> None:
    pid, day = _session(oslo, sex="female")
    for test in ("urine_drug_screen",):
        sv.record_result(
            oslo.engine, oslo.investigator, pid, "V5", test, "negative",
            collected_at=at(day, 8, 10),
        )  # fmt: skip
    sv.record_vitals(
        oslo.engine, oslo.therapist, pid, "V5", measured_at=at(day, 8, 40), values=NORMAL_VITALS
    )
    sv.record_assessment(
        oslo.engine, oslo.investigator, pid, "V5", "cssrs", fill("cssrs", "since_last_visit"),
        version="since_last_visit", assessed_at=at(day, 8, 20),
    )  # fmt: skip
    done = sv.complete_checklist(
        oslo.engine, oslo.therapist, pid, "V5", completed_at=at(day, 8, 55),
        confirmed=CONFIRM, not_applicable={"pregnancy_test": "post-menopausal"},
    )  # fmt: skip
    item = {i.id: i for i in done.items}["pregnancy_test"]
    assert (item.status, item.detail) == ("not_applicable", "not applicable: post-menopausal")
    # the mark holds at the dose
    assert _initial(oslo, pid, day).status == "given"


def test_vitals_item(oslo: OsloTrial) -> None:
    pid, day = _session(oslo)
    assert _status(oslo, pid, day)["pre_dose_vitals"].status == "not_yet"
    sv.record_vitals(
        oslo.engine, oslo.therapist, pid, "V5", measured_at=at(day, 7, 50), values=NORMAL_VITALS
    )  # 65 minutes before 08:55: too old
    assert _status(oslo, pid, day)["pre_dose_vitals"].status == "not_yet"
    sv.record_vitals(
        oslo.engine, oslo.therapist, pid, "V5", measured_at=at(day, 8, 30), values=NORMAL_VITALS
    )
    assert _status(oslo, pid, day)["pre_dose_vitals"].status == "pass"
    sv.record_vitals(
        oslo.engine, oslo.therapist, pid, "V5", measured_at=at(day, 8, 40),
        values={**NORMAL_VITALS, "heart_rate": 44},
    )  # fmt: skip
    item = _status(oslo, pid, day)["pre_dose_vitals"]
    assert item.status == "fail"
    assert "heart_rate 44 /min below" in item.detail
    assert f"reading of {day.isoformat()} 09:40 (Europe/Oslo)" in item.detail


def test_cssrs_item(oslo: OsloTrial) -> None:
    pid, day = _session(oslo)
    assert _status(oslo, pid, day)["cssrs"].status == "not_yet"
    form = sv.record_assessment(
        oslo.engine, oslo.investigator, pid, "V5", "cssrs", IDEATION_4,
        version="since_last_visit", assessed_at=at(day, 8, 10),
    )  # fmt: skip
    assert "urgent" in {a.level for a in form.alerts}
    item = _status(oslo, pid, day)["cssrs"]
    assert item.status == "fail"
    assert "urgent alert" in item.detail
    # closing the alert does not clear the urgent finding of the form itself
    for alert in form.alerts:
        sv.acknowledge_alert(oslo.engine, oslo.investigator, alert.id, note="called")
        sv.close_alert(oslo.engine, oslo.investigator, alert.id, note="seen, safety plan")
    assert _status(oslo, pid, day)["cssrs"].status == "fail"


def test_cssrs_item_passes_on_a_quiet_form(oslo: OsloTrial) -> None:
    pid, day = _session(oslo)
    sv.record_assessment(
        oslo.engine, oslo.investigator, pid, "V5", "cssrs", fill("cssrs", "since_last_visit"),
        version="since_last_visit", assessed_at=at(day, 8, 10),
    )  # fmt: skip
    assert _status(oslo, pid, day)["cssrs"].status == "pass"


def test_prohibited_medication_item_and_its_override(oslo: OsloTrial, rows: Rows) -> None:
    pid, day = _session(oslo)
    ready_for_dose(
        oslo.engine, oslo.protocol, oslo.investigator, oslo.therapist, pid, "V5",
        at(day, 8, 55), complete=False,
    )  # fmt: skip
    sv.record_conmed(
        oslo.engine, oslo.investigator, pid, name="sertraline", atc_code="N06AB06",
        dose="50 mg", start_date=date(2022, 1, 1),
    )  # fmt: skip
    item = _status(oslo, pid, day)["no_prohibited_medication"]
    assert (item.status, item.overridable) == ("fail", True)
    assert "sertraline (N06AB06, SSRIs) is ongoing" in item.detail
    before = rows()
    with pytest.raises(PermissionDeniedError):
        sv.complete_checklist(
            oslo.engine, oslo.therapist, pid, "V5", completed_at=at(day, 8, 55),
            confirmed=CONFIRM, override_reason="taper agreed",
        )  # fmt: skip
    assert rows() == before
    done = sv.complete_checklist(
        oslo.engine, oslo.investigator, pid, "V5", completed_at=at(day, 8, 55),
        confirmed=CONFIRM, override_reason="low dose, interaction judged acceptable",
    )  # fmt: skip
    assert {i.id: i.status for i in done.items}["no_prohibited_medication"] == "overridden"
    assert [d.category for d in _deviations(oslo)] == ["checklist_override"]
    # the dose still needs its own washout override (a washout_override deviation)
    with pytest.raises(InputError, match="prohibited medication"):
        _initial(oslo, pid, day)
    dose = _initial(oslo, pid, day, override_reason="as at the checklist")
    assert dose.deviations == ("washout_override",)


def test_consent_item(oslo: OsloTrial) -> None:
    pid, day = _session(oslo)
    assert _status(oslo, pid, day)["consent_current"].status == "pass"
    sv.withdraw_consent(
        oslo.engine, oslo.investigator, pid, withdrawn_at=at(day, 8, 30),
        reason="changed their mind",
    )  # fmt: skip
    item = _status(oslo, pid, day)["consent_current"]
    assert item.status == "fail"
    assert "withdrew consent" in item.detail


def test_confirm_items_are_ticked_and_only_they(oslo: OsloTrial, rows: Rows) -> None:
    pid, day = _session(oslo)
    ready_for_dose(
        oslo.engine, oslo.protocol, oslo.investigator, oslo.therapist, pid, "V5",
        at(day, 8, 55), complete=False,
    )  # fmt: skip
    before = rows()
    with pytest.raises(InputError, match=r"escort_home \(not_yet\): not confirmed"):
        sv.complete_checklist(
            oslo.engine, oslo.therapist, pid, "V5", completed_at=at(day, 8, 55),
            confirmed=["fasting"],
        )  # fmt: skip
    with pytest.raises(InputError, match="evaluated from the recorded data"):
        sv.complete_checklist(
            oslo.engine, oslo.therapist, pid, "V5", completed_at=at(day, 8, 55),
            confirmed=[*CONFIRM, "cssrs"],
        )  # fmt: skip
    with pytest.raises(InputError, match="no item nonsense"):
        sv.complete_checklist(
            oslo.engine, oslo.therapist, pid, "V5", completed_at=at(day, 8, 55),
            confirmed=[*CONFIRM, "nonsense"],
        )  # fmt: skip
    assert rows() == before
    done = sv.complete_checklist(
        oslo.engine, oslo.therapist, pid, "V5", completed_at=at(day, 8, 55), confirmed=CONFIRM
    )
    assert {i.id: i.status for i in done.items}["fasting"] == "pass"
    assert rows()["dosing_checklist"] == before["dosing_checklist"] + 1


# --- results ----------------------------------------------------------------------------------


def test_an_abnormal_result_raises_a_review_alert(oslo: OsloTrial, rows: Rows) -> None:
    pid = enrolled(oslo, "SCR")
    day = visit_date(oslo, pid, "SCR")
    normal = sv.record_result(
        oslo.engine, oslo.investigator, pid, "SCR", "potassium", 4.2, collected_at=at(day, 9)
    )
    assert (normal.interpretation, normal.flagged, normal.alerts) == ("normal", False, ())
    assert (normal.unit, normal.normal_low, normal.normal_high) == ("mmol/L", 3.5, 5.0)
    qtc = sv.record_result(
        oslo.engine, oslo.investigator, pid, "SCR", "ecg_qtc", "472", collected_at=at(day, 9)
    )
    assert (qtc.interpretation, qtc.flagged) == ("high", True)
    ((alert,),) = (qtc.alerts,)
    assert (alert.level, alert.rule_id, alert.status) == ("review", "result:ecg_qtc:high", "open")
    assert "472 ms" in alert.message
    assert "≤ 450 ms" in alert.message
    assert alert.id in {a.id for a in sv.list_alerts(oslo.engine, oslo.investigator)}
    uds = sv.record_result(
        oslo.engine, oslo.investigator, pid, "SCR", "urine_drug_screen", "Positive",
        collected_at=at(day, 9),
    )  # fmt: skip
    assert (uds.value_text, uds.interpretation, len(uds.alerts)) == ("positive", "positive", 1)
    listed = sv.list_results(oslo.engine, oslo.monitor, pid, visit_code="SCR")
    assert [r.test_code for r in listed] == ["potassium", "ecg_qtc", "urine_drug_screen"]
    assert [
        r.test_code for r in sv.list_results(oslo.engine, oslo.monitor, pid, test="ecg_qtc")
    ] == ["ecg_qtc"]
    # a correction with a reason judges the value again and raises its alert when flagged
    before = rows()
    low = sv.edit_result(oslo.engine, oslo.investigator, normal.id, reason="typo", value=3.1)
    assert (low.interpretation, [a.level for a in low.alerts]) == ("low", ["review"])
    assert rows()["alert"] == before["alert"] + 1


@pytest.mark.parametrize(
    ("visit", "test", "value", "message"),
    [
        ("SCR", "ecg_qtc", "long", "is not a number"),
        ("SCR", "ecg_qtc", float("nan"), "is not a number"),
        ("SCR", "urine_drug_screen", "maybe", "is not one of its answers"),
        ("V1", "ecg_qtc", 420, "is not taken at V1"),
        ("SCR", "pregnancy_test", "negative", "does not apply"),
        ("SCR", "cholesterol", 5, "no result test 'cholesterol'"),
    ],
)
def test_bad_results_are_refused_and_nothing_is_stored(
    oslo: OsloTrial, rows: Rows, visit: str, test: str, value: object, message: str
) -> None:
    pid = enrolled(oslo, "V1")
    day = visit_date(oslo, pid, "SCR")
    before = rows()
    with pytest.raises(Exception, match=message):
        sv.record_result(
            oslo.engine, oslo.investigator, pid, visit, test, value, collected_at=at(day, 9)
        )  # type: ignore[arg-type]
    assert rows() == before


def test_a_rater_may_not_record_results(oslo: OsloTrial, rows: Rows) -> None:
    pid = enrolled(oslo, "SCR")
    day = visit_date(oslo, pid, "SCR")
    before = rows()
    with pytest.raises(PermissionDeniedError):
        sv.record_result(oslo.engine, oslo.rater, pid, "SCR", "tsh", 2, collected_at=at(day, 9))
    with pytest.raises(InputError, match="reason"):
        sv.edit_result(oslo.engine, oslo.investigator, 1, reason=" ", value=2)
    assert rows() == before
