"""Replaying the audit trail rebuilds every audited table exactly; JSON columns round-trip."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from remit.store import (
    content_sha256,
    replay_audit,
    set_identity,
    snapshot_tables,
    unit_of_work,
    verify_audit_chain,
)
from remit.store.allocation import (
    Allocation,
    EmergencyUnblinding,
    RandomisationList,
    RandomisationSlot,
)
from remit.store.coding import CodedTerm, CodingDictionary
from remit.store.consent import Consent
from remit.store.dosing import Dose, DosingSession
from remit.store.epro import EproLink, ParticipantEpro
from remit.store.results import ClinicalResult, DosingChecklist
from remit.store.scales import TrialScale
from remit.store.tables import (
    AdverseEvent,
    Alert,
    Assessment,
    ConcomitantMedication,
    DataQuery,
    DataQueryMessage,
    EligibilityCheck,
    IdempotencyKey,
    Lock,
    ParticipantEvent,
    ProtocolDeviation,
    Signature,
    Visit,
)
from remit.store.vitals import VitalSignReading, VitalSignValue

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _workload(trial: Any) -> dict[str, int]:
    """Touch every audited table: inserts, updates with reasons, deletes."""
    engine, investigator, rater = trial.engine, trial.investigator, trial.rater
    participant_id = trial.add_participant(sex="M", birth_year=1975, age_group="45-54")
    ids: dict[str, int] = {"participant": participant_id}
    with unit_of_work(engine, investigator) as uow:
        set_identity(uow, participant_id, name="Per Hansen", national_id="12127512345")
        check = EligibilityCheck(
            participant_id=participant_id,
            checked_by=investigator.user_id,
            data={"madrs_total": 31, "age": 50, "diagnosis": "MDD"},
            results=[{"criterion": "I1", "met": True, "detail": None}],
            eligible=True,
        )
        visits = [
            Visit(
                participant_id=participant_id,
                visit_code=code,
                target_date=date(2026, 3, 2) + timedelta(days=7 * n),
                window_start_date=date(2026, 3, 2) + timedelta(days=7 * n - 2),
                window_end_date=date(2026, 3, 2) + timedelta(days=7 * n + 2),
            )
            for n, code in enumerate(["V0", "V1", "V2"])
        ]
        referral = ParticipantEvent(
            participant_id=participant_id, event_code="referral", event_date=date(2026, 2, 20)
        )
        uow.session.add_all([check, *visits, referral])
        uow.flush()
        ids["visit"] = visits[1].id
        ids["participant_event"] = referral.id
        session_ = DosingSession(
            participant_id=participant_id,
            visit_id=visits[1].id,
            session_number=1,
            started_at=T0,
            status="in_progress",
        )
        uow.add(session_)
        uow.flush()
        ids["dosing_session"] = session_.id
        uow.session.add_all(
            [
                Dose(
                    dosing_session_id=session_.id,
                    kind="initial",
                    dose_mg=120.0,
                    status="given",
                    given_at=T0,
                    recorded_by=investigator.user_id,
                    idempotency_key="dose-1",
                ),
                Dose(
                    dosing_session_id=session_.id,
                    kind="supplemental",
                    dose_mg=60.0,
                    status="withheld",
                    offered_at=T0 + timedelta(minutes=100),
                    withheld_reason="participant declined",
                ),
                Assessment(
                    participant_id=participant_id,
                    dosing_session_id=session_.id,
                    timepoint="+60min",
                    scale="se_vas",
                    scale_version="1.0",
                    rater_user_id=investigator.user_id,
                    rater_role="investigator",
                    answers={"euphoria": 55.5, "anxiety": 10},
                    score={"items": {"euphoria": 55.5, "anxiety": 10}},
                    status="complete",
                ),
            ]
        )
        minutes = range(0, 241, 30)
        readings = [
            VitalSignReading(
                participant_id=participant_id,
                dosing_session_id=session_.id,
                measured_at=T0 + timedelta(minutes=m),
                minutes_after_dose=m,
            )
            for m in minutes
        ]
        uow.session.add_all(readings)
        uow.flush()
        uow.session.add_all(
            VitalSignValue(vital_sign_id=r.id, sign=sign, value=value)
            for m, r in zip(minutes, readings, strict=True)
            for sign, value in {
                "systolic_bp": 120 + m // 10,
                "diastolic_bp": 80,
                "heart_rate": 70 + m // 30,
                "temperature": 36.8,
                "oxygen_saturation": 97,
            }.items()
        )
    with unit_of_work(engine, rater) as uow:
        madrs = Assessment(
            participant_id=participant_id,
            visit_id=ids["visit"],
            scale="madrs",
            scale_version="1.0",
            rater_user_id=rater.user_id,
            rater_role="independent_rater",
            answers={f"item_{i}": i % 4 for i in range(1, 11)},
            score={"total": 18, "subscores": {}, "flags": ["item_10>=4"], "note": "ø æ å ✓"},
            total=18.0,
            status="complete",
            idempotency_key="madrs-V1",
            assessed_at=T0 + timedelta(days=7),
        )
        uow.add(madrs)
        uow.flush()
        ids["assessment"] = madrs.id
        uow.add(
            IdempotencyKey(
                key="madrs-V1",
                request_sha256=content_sha256(madrs.answers),
                record_table="assessment",
                record_id=madrs.id,
                user_id=rater.user_id,
            )
        )
    with unit_of_work(engine, investigator, reason="item 3 entered in the wrong row") as uow:
        madrs_row = uow.session.get(Assessment, ids["assessment"])
        assert madrs_row is not None
        madrs_row.answers = {**madrs_row.answers, "item_3": 0}
        madrs_row.total = 15.0
        session_row = uow.session.get(DosingSession, ids["dosing_session"])
        assert session_row is not None
        session_row.ended_at = T0 + timedelta(hours=8)
        session_row.status = "completed"
        referral_row = uow.session.get(ParticipantEvent, ids["participant_event"])
        assert referral_row is not None
        referral_row.event_date = date(2026, 2, 19)
        referral_row.recorded_at = T0
        ae = AdverseEvent(
            participant_id=participant_id,
            dosing_session_id=ids["dosing_session"],
            term="Headache",
            onset_date=date(2026, 3, 2),
            severity="mild",
            serious=False,
            seriousness_criteria=[],
            relatedness="possible",
            awareness_at=T0 + timedelta(hours=3),
        )
        sae = AdverseEvent(
            participant_id=participant_id,
            term="Hospitalisation for suicidal ideation",
            onset_date=date(2026, 3, 20),
            severity="severe",
            serious=True,
            seriousness_criteria=["hospitalisation"],
            relatedness="unlikely",
            awareness_at=T0 + timedelta(days=18),
            sae_report_due_at=T0 + timedelta(days=19),
        )
        med = ConcomitantMedication(
            participant_id=participant_id,
            name="Sertraline",
            dose="50 mg",
            start_date=date(2025, 1, 1),
            taper_plan="25 mg for 2 weeks, then stop",
        )
        deviation = ProtocolDeviation(
            participant_id=participant_id,
            visit_id=ids["visit"],
            category="visit_window",
            description="V1 one day late",
            occurred_date=date(2026, 3, 10),
        )
        query = DataQuery(
            participant_id=participant_id,
            record_table="assessment",
            record_id=ids["assessment"],
            field="item_3",
            text="Please confirm item 3",
            raised_by=trial.monitor.user_id,
        )
        consent = Consent(
            participant_id=participant_id,
            version="1.0",
            components=["main", "future_contact"],
            consented_at=T0,
            obtained_by=investigator.user_id,
            withdrawn_at=T0 + timedelta(days=20),
            withdrawal_scope="partial",
            withdrawn_components=["future_contact"],
            withdrawal_reason="no further contact after the study",
        )
        result = ClinicalResult(
            participant_id=participant_id,
            visit_id=visits[1].id,
            test_code="ecg_qtc",
            kind="ecg",
            value_number=472.0,
            unit="ms",
            normal_high=450.0,
            interpretation="high",
            collected_at=T0 - timedelta(hours=1),
            recorded_by=investigator.user_id,
        )
        checklist = DosingChecklist(
            participant_id=participant_id,
            dosing_session_id=ids["dosing_session"],
            items=[{"id": "fasting", "kind": "confirm", "status": "pass", "detail": "confirmed"}],
            completed_at=T0 - timedelta(minutes=5),
            completed_by=investigator.user_id,
        )
        uow.session.add_all([ae, sae, med, deviation, query, consent, result, checklist])
        uow.flush()
        uow.session.add_all(
            [
                DataQueryMessage(
                    data_query_id=query.id, user_id=rater.user_id, message="Confirmed"
                ),
                Signature(
                    participant_id=participant_id,
                    user_id=investigator.user_id,
                    meaning="approved",
                    record_table="assessment",
                    record_id=ids["assessment"],
                    content_sha256=content_sha256({"answers": madrs_row.answers}),
                ),
                Lock(level="form", record_table="assessment", record_id=ids["assessment"]),
                Alert(
                    participant_id=participant_id,
                    rule_id="sae_clock",
                    level="urgent",
                    message="SAE to report within 24 h",
                    source_table="adverse_event",
                    source_id=sae.id,
                    due_at=T0 + timedelta(days=19),
                ),
            ]
        )
        uow.session.delete(uow.session.get(Visit, visits[2].id))
    with unit_of_work(engine, investigator) as uow:  # the append-only randomisation tables
        listed = RandomisationList(
            method="permuted-block",
            spec={"block_sizes": [2]},
            seed_sealed="v1:sealed-seed",
            key_id="0123456789abcdef",
            n_slots=1,
            created_by=investigator.user_id,
        )
        uow.add(listed)
        uow.flush()
        slot = RandomisationSlot(
            list_id=listed.id, stratum="all", sequence=1, kit=1001, sealed="v1:sealed-arm"
        )
        uow.add(slot)
        uow.flush()
        allocation = Allocation(
            participant_id=participant_id,
            slot_id=slot.id,
            stratum="all",
            kit=1001,
            allocated_at=T0,
            allocated_by=investigator.user_id,
        )
        uow.add(allocation)
        uow.flush()
        uow.add(
            EmergencyUnblinding(
                participant_id=participant_id,
                allocation_id=allocation.id,
                reason="anaphylaxis: treating physician needs the arm",
                unblinded_at=T0 + timedelta(days=1),
                unblinded_by=investigator.user_id,
            )
        )
    with unit_of_work(engine, investigator) as uow:  # the ePRO link and preferences
        link = EproLink(
            participant_id=participant_id,
            visit_id=visits[1].id,
            scales=["gad7"],
            token_sha256="ab" * 32,
            mode="link",
            language="nb",
            issued_by=investigator.user_id,
            issued_at=T0,
            expires_at=T0 + timedelta(days=3),
        )
        uow.add(link)
        uow.add(ParticipantEpro(participant_id=participant_id, language="en"))
        uow.flush()
        link.used_at = T0 + timedelta(hours=2)
    # the store checks no roles: the investigator stands in for the data manager here
    with unit_of_work(engine, investigator, reason="recoded by hand") as uow:  # coding
        dictionary = CodingDictionary(
            kind="meddra", version="99.0", files_sha256="cd" * 32, term_count=1,
            loaded_by=investigator.user_id, loaded_at=T0,
        )  # fmt: skip
        uow.add(dictionary)
        uow.flush()
        headache = uow.session.scalar(
            select(AdverseEvent.id).where(AdverseEvent.term == "Headache")
        )
        code = CodedTerm(
            participant_id=participant_id, record_table="adverse_event", record_id=headache,
            dictionary_id=dictionary.id, verbatim="Headache", method="exact", code="94000001",
            decod="Headache", values={"pt_code": 93000001}, coded_at=T0,
        )  # fmt: skip
        uow.add(code)
        uow.flush()
        code.method = "manual"
    with unit_of_work(engine, investigator) as uow:  # a scale kept in the trial database
        uow.add(
            TrialScale(
                code="tiny", revision=1, definition='code = "tiny"\n', sha256="ef" * 32,
                source="tiny.toml", added_by=investigator.user_id, added_at=T0,
            )
        )  # fmt: skip
    return ids


def test_replaying_the_audit_trail_reproduces_every_table(trial: Any) -> None:
    _workload(trial)
    snapshot = snapshot_tables(trial.engine)
    assert all(snapshot[name] for name in snapshot), [n for n in snapshot if not snapshot[n]]
    assert replay_audit(trial.engine) == snapshot
    assert verify_audit_chain(trial.engine).ok


def test_replay_would_notice_a_change_made_without_the_audit_trail(trial: Any) -> None:
    ids = _workload(trial)
    with trial.engine.begin() as connection:  # a raw UPDATE bypasses the session hooks
        connection.exec_driver_sql(f"UPDATE visit SET deviation = 'x' WHERE id = {ids['visit']}")
    replayed, snapshot = replay_audit(trial.engine), snapshot_tables(trial.engine)
    assert replayed["visit"][ids["visit"]]["deviation"] is None
    assert snapshot["visit"][ids["visit"]]["deviation"] == "x"


def test_json_columns_round_trip(trial: Any) -> None:
    ids = _workload(trial)
    with Session(trial.engine) as session:
        madrs = session.get(Assessment, ids["assessment"])
        assert madrs is not None
        assert madrs.answers == {f"item_{i}": (0 if i == 3 else i % 4) for i in range(1, 11)}
        assert madrs.score == {
            "total": 18,
            "subscores": {},
            "flags": ["item_10>=4"],
            "note": "ø æ å ✓",
        }
        assert isinstance(madrs.score["total"], int)
        vas = session.query(Assessment).filter_by(scale="se_vas").one()
        assert vas.answers == {"euphoria": 55.5, "anxiety": 10}
        sae = session.query(AdverseEvent).filter_by(serious=True).one()
        assert sae.seriousness_criteria == ["hospitalisation"]
        assert sae.sae_report_due_at == T0 + timedelta(days=19)


def test_json_numbers_come_back_exactly_as_audited(trial: Any) -> None:
    participant_id = trial.add_participant()
    answers = {"big": 1e16, "negative_zero": -0.0, "sum": 0.1 + 0.2, "int": 10**15, "tiny": 5e-324}
    with unit_of_work(trial.engine, trial.rater) as uow:
        row = Assessment(
            participant_id=participant_id,
            scale="se_vas",
            scale_version="1",
            answers=answers,
            status="draft",
        )
        uow.add(row)
        uow.flush()
        assessment_id = row.id
    with Session(trial.engine) as session:
        stored = session.get(Assessment, assessment_id)
        assert stored is not None
        assert [(k, repr(v)) for k, v in sorted(stored.answers.items())] == [
            (k, repr(v)) for k, v in sorted(answers.items())
        ]
    assert replay_audit(trial.engine) == snapshot_tables(trial.engine)
