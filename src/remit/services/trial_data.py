"""Load the whole trial from the store into the analysis layer's contract, ``TrialData``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from remit.analysis import TrialData
from remit.errors import InputError, RemitError
from remit.protocol import VITAL_SIGN_CODES, Protocol
from remit.protocol.consent import WithdrawalScope
from remit.protocol.medications import atc_class
from remit.protocol.status import (
    DECIDED_DOSE_STATUSES,
    AssessmentStatus,
    DoseKind,
    DoseStatus,
    ParticipantStatus,
    VisitStatus,
)
from remit.services._common import alert_status, open_locks, protocol_in_force
from remit.services.access import require
from remit.services.blinding import check_study_locked_for_unblinding, mask_trial_frames
from remit.services.coding import codes_of
from remit.services.randomisation import sealed_arms
from remit.services.unit import reading
from remit.store import Actor, UnitOfWork, unit_of_work
from remit.store.allocation import AllocationKey, RandomisationList, allocation_key_of
from remit.store.coding import CodedTerm
from remit.store.consent import Consent
from remit.store.dosing import Dose, DosingSession
from remit.store.results import ClinicalResult, DosingChecklist
from remit.store.tables import (
    AdverseEvent,
    Alert,
    Assessment,
    ConcomitantMedication,
    EligibilityCheck,
    Participant,
    ProtocolDeviation,
    Site,
    Visit,
)
from remit.store.vitals import VitalSignReading, reading_values
from remit.store.vocab import AuditAction


def _day(value: datetime | None) -> Any:
    return None if value is None else value.date()


#: Where the clinical time of an alert's source record is kept.
_OBSERVED_AT: dict[str, Any] = {
    "assessment": Assessment.assessed_at,
    "vital_sign": VitalSignReading.measured_at,
    "adverse_event": AdverseEvent.awareness_at,
}


def _observed_times(
    session: Session, alerts: list[Alert]
) -> dict[tuple[str | None, int | None], datetime | None]:
    """When the observation behind each alert was made (a form, a reading, an AE's awareness).

    ``raised_at`` is when Remit raised the alert, which is when the data were entered; a
    timeline of the trial wants the clinical time of the observation instead (an extra
    ``observed_at`` column of the alerts frame; missing when the source has no time).
    """
    wanted: dict[str, set[int]] = {}
    for a in alerts:
        if a.source_table in _OBSERVED_AT and a.source_id is not None:
            wanted.setdefault(a.source_table, set()).add(a.source_id)
    found: dict[tuple[str | None, int | None], datetime | None] = {}
    for table, ids in wanted.items():
        column = _OBSERVED_AT[table]
        model = column.class_
        for record_id, moment in session.execute(
            select(model.id, column).where(model.id.in_(sorted(ids)))
        ):
            found[(table, record_id)] = moment
    return found


#: The reason an unblinding of the analysis data is audited with when the caller gives none.
UNBLINDING_PURPOSE = "unblinded analysis data set"


def _audit_unblinding(
    uow: UnitOfWork,
    granted: bool,
    purpose: str | None,
    n_arms: int | None = None,
    interim: Mapping[str, Any] | None = None,
) -> None:
    """The audit row of one unblinding of the analysis data (or of a refused attempt): who and
    when come from the unit of work; the record is the randomisation list whose arms were read.
    An interim read (the DSMB closed report) also records what ``interim`` names (the report,
    its coding key, the data cut-off, whether the study was locked)."""
    listed = uow.session.scalar(select(RandomisationList.id).order_by(RandomisationList.id))
    value: dict[str, Any] = {
        "analysis_data": "unblinded" if interim is None else "dsmb_interim",
        "participants_with_arm": n_arms,
        **(interim or {}),
    }
    uow.record_event(
        AuditAction.READ if granted else AuditAction.READ_REFUSED,
        "randomisation_list",
        listed or 0,
        field="arm",
        new_value=value,
        reason=purpose or UNBLINDING_PURPOSE,
    )


def _unblinding_key(
    engine: Engine,
    actor: Actor,
    purpose: str | None,
    interim: Mapping[str, Any] | None = None,
) -> AllocationKey:
    """The allocation key, for a role that may unblind; a refusal is audited, then raised."""
    try:
        require(actor, "build_unblinded_trial_data")
        return allocation_key_of(engine)
    except RemitError:
        with unit_of_work(engine, actor) as uow:
            _audit_unblinding(uow, False, purpose, interim=interim)
        raise


@dataclass(frozen=True)
class InterimTrialData:
    """The unblinded data of an interim look (:func:`build_interim_trial_data`).

    ``cut_off`` is when the data were read (UTC): everything recorded before it is in
    ``data``; ``study_locked`` whether the data manager's study lock was open then.
    """

    data: TrialData
    cut_off: datetime
    study_locked: bool


def build_interim_trial_data(
    engine: Engine, *, actor: Actor, purpose: str, interim: Mapping[str, Any]
) -> InterimTrialData:
    """The trial with each participant's arm, for the DSMB's closed report, locked or not.

    The same read as ``build_trial_data(..., unblinded=True)`` (the unblinded roles only, with
    the allocation key; a refusal audited as ``read_refused``) without the database lock: an
    interim look is run on the data as they stand. The audit row (``read`` of the
    ``randomisation_list``'s arms, reason ``purpose``) carries ``analysis_data:
    dsmb_interim``, the cut-off, whether the study was locked and the JSON-ready ``interim``
    details the caller gives (the report's id, the SHA-256 of its coding key).
    """
    data, cut_off, locked = _read_trial(engine, actor, True, purpose, interim)
    return InterimTrialData(data=data, cut_off=cut_off, study_locked=locked)


def build_trial_data(
    engine: Engine, *, actor: Actor, unblinded: bool = False, purpose: str | None = None
) -> TrialData:
    """The trial, as ``actor`` may see it, as :class:`remit.analysis.TrialData` (every frame).

    For a randomised protocol the participant rows keep ``arm`` empty (the arm exists only
    sealed in the randomisation list), so the data are blinded. With ``unblinded=True`` the
    arm of every allocated participant is read from the allocations, opened with the engine's
    allocation key (operation ``build_unblinded_trial_data``: the unblinded roles only; the
    read is logged as ``build_unblinded_trial_data``). Refused without the key, with the
    wrong key, for a protocol without randomisation (its arm is on the participant row), and
    before the database lock: unless the data manager's study lock is open
    (:func:`remit.services.blinding.check_study_locked_for_unblinding`).
    Every unblinding is on the audit trail: a ``read`` of the ``randomisation_list``'s arms by
    the actor, with ``purpose`` as the reason (default :data:`UNBLINDING_PURPOSE`) and the
    number of arms read; a refused attempt (role, key, no lock) as ``read_refused``.

    ``actor`` is checked against the access table (``build_trial_data``); a site-bound actor
    gets the participants of their site and their data only, a study-wide actor (or
    ``Actor.system(...)`` for Remit's own in-process work) the whole trial. The read writes one
    access-log row (resource ``build_trial_data``, the number of participants read).

    Drafts are left out of ``scores``; ``offered`` doses (neither given nor withheld yet) out
    of ``doses``; statuses are the stored ones
    (:class:`remit.protocol.status.ParticipantStatus`). ``study_day`` counts from the
    protocol's reference visit; ``scores`` carries an extra ``timepoint`` column (dosing-day
    ratings), ``alerts`` the times of acknowledgement and closing, ``adverse_events`` the SAE
    reporting clock (awareness, due, reported), ``deviations`` every protocol deviation of the
    participants read (study-wide ones for a study-wide actor), ``conmeds`` their
    concomitant medications with the dated taper plans, ``results`` their clinical results,
    ``checklists`` their pre-dose checklist completions; ``vitals`` fills
    ``minutes_after_dose`` from the initial dose time when a
    reading was taken before the dose was recorded. ``simulated`` is true when every
    participant is simulated (and there is at least one).
    """
    return _read_trial(engine, actor, unblinded, purpose, None)[0]


def _read_trial(
    engine: Engine,
    actor: Actor,
    unblinded: bool,
    purpose: str | None,
    interim: Mapping[str, Any] | None,
) -> tuple[TrialData, datetime, bool]:
    """:func:`build_trial_data`'s read; ``interim`` (a DSMB look) reads the arms unlocked.
    Returns the data, when they were read and whether the study was locked."""
    operation = "build_unblinded_trial_data" if unblinded else "build_trial_data"
    key = _unblinding_key(engine, actor, purpose, interim) if unblinded else None
    with reading(engine, actor, operation, operation) as read:
        session = read.session
        cut_off = datetime.now(UTC)
        opened: list[int] = []  # how many arms were read, once the read has succeeded
        details: dict[str, Any] | None = None
        if interim is not None:
            details = {"cut_off": cut_off.isoformat(timespec="seconds"), **interim}
        if unblinded:  # audited in this transaction, or after its rollback as refused
            read.uow.always(
                lambda uow: _audit_unblinding(
                    uow, bool(opened), purpose, opened[0] if opened else None, details
                )
            )
        protocol, _ = protocol_in_force(session)
        if unblinded and protocol.randomisation is None:
            raise InputError(
                f"protocol {protocol.study.id} is not randomised: there is nothing to unblind",
                expected="a protocol with a [randomisation] section",
                hint="build the data without unblinded=True; the arm is on the participant rows",
            )
        locked = False  # not asked of a blinded read (it needs no lock)
        if details is not None:
            locked = details["study_locked"] = bool(open_locks(session, None))
        elif unblinded:
            check_study_locked_for_unblinding(session, protocol)
            locked = True
        query = select(Participant).order_by(Participant.study_id)
        if actor.site_id is not None:
            query = query.where(Participant.site_id == actor.site_id)
        people = read.returning(list(session.scalars(query)))
        by_id = {p.id: p for p in people}
        sites = {s.id: s.code for s in session.scalars(select(Site))}
        visits = [
            v
            for v in session.scalars(select(Visit).order_by(Visit.id))
            if v.participant_id in by_id
        ]
        visit_code = {v.id: v.visit_code for v in visits}
        reference = {
            v.participant_id: v.actual_date
            for v in visits
            if v.visit_code == protocol.study.reference_visit and v.actual_date is not None
        }
        sessions = {
            ds.id: ds for ds in session.scalars(select(DosingSession)) if ds.participant_id in by_id
        }
        arms = None if key is None else {a.participant_id: a.arm for a in sealed_arms(session, key)}
        if arms is not None:
            opened.append(len(arms))
        frames = {
            "participants": _participants(session, people, sites, arms),
            "visits": _visits(protocol, by_id, visits, reference),
            "scores": _scores(session, by_id, visit_code, sessions, reference),
        }
        doses = [
            d
            for d in session.scalars(select(Dose).order_by(Dose.id))
            if d.dosing_session_id in sessions
        ]
        frames["doses"] = _doses(by_id, visit_code, sessions, doses)
        frames["vitals"] = _vitals(session, by_id, visit_code, sessions, doses)
        coded = codes_of(session)
        frames["adverse_events"] = pd.DataFrame(
            [
                {
                    "participant_id": by_id[ae.participant_id].study_id,
                    "term": ae.term,
                    "onset_date": ae.onset_date,
                    "end_date": ae.end_date,
                    "severity": ae.severity,
                    "serious": ae.serious,
                    "relatedness": ae.relatedness,
                    "outcome": ae.outcome,
                    "action_taken": ae.action_taken,
                    "awareness_at": ae.awareness_at,
                    "report_due_at": ae.sae_report_due_at,
                    "reported_at": ae.reported_at,
                    **_meddra_columns(coded.get(("adverse_event", ae.id))),
                }
                for ae in session.scalars(select(AdverseEvent).order_by(AdverseEvent.id))
                if ae.participant_id in by_id
            ],
            columns=[
                "participant_id",
                "term",
                "onset_date",
                "end_date",
                "severity",
                "serious",
                "relatedness",
                "outcome",
                "action_taken",
                "awareness_at",
                "report_due_at",
                "reported_at",
                *MEDDRA_COLUMNS,
            ],
        )
        alerts = [
            a
            for a in session.scalars(select(Alert).order_by(Alert.id))
            if a.participant_id in by_id
        ]
        observed = _observed_times(session, alerts)
        frames["alerts"] = pd.DataFrame(
            [
                {
                    "participant_id": by_id[a.participant_id].study_id,
                    "rule_id": a.rule_id,
                    "level": a.level,
                    "raised_at": a.raised_at,
                    "status": alert_status(a),
                    "observed_at": observed.get((a.source_table, a.source_id)),
                    "acknowledged_at": a.acknowledged_at,
                    "closed_at": a.closed_at,
                }
                for a in alerts
            ],
            columns=[
                "participant_id",
                "rule_id",
                "level",
                "raised_at",
                "status",
                "observed_at",
                "acknowledged_at",
                "closed_at",
            ],
        )
        frames["deviations"] = _deviations(session, actor, by_id, visit_code)
        frames["conmeds"] = _conmeds(session, protocol, by_id, coded)
        frames["results"] = _results(session, by_id, visit_code)
        frames["checklists"] = _checklists(session, by_id, visit_code, sessions)
        simulated = bool(people) and all(p.simulated for p in people)
        mask_trial_frames(session, protocol, actor, frames)  # the arm and doses of a blind role
        return TrialData(**frames, simulated=simulated), cut_off, locked


def _deviations(
    session: Session, actor: Actor, by_id: dict[int, Participant], visit_code: dict[int, str]
) -> pd.DataFrame:
    """Protocol deviations of the participants read; study-wide ones (no participant) only
    for a study-wide actor."""
    rows = []
    for d in session.scalars(select(ProtocolDeviation).order_by(ProtocolDeviation.id)):
        if d.participant_id is None:
            if actor.site_id is not None:
                continue
        elif d.participant_id not in by_id:
            continue
        rows.append(
            {
                "participant_id": (
                    by_id[d.participant_id].study_id if d.participant_id is not None else None
                ),
                "visit_code": visit_code.get(d.visit_id) if d.visit_id else None,
                "category": d.category,
                "major": bool(d.major),
                "description": d.description,
                "occurred_date": d.occurred_date,
            }
        )
    columns = [
        "participant_id", "visit_code", "category", "major", "description", "occurred_date",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


#: The MedDRA columns of ``adverse_events`` (``None`` for an uncoded event).
MEDDRA_COLUMNS = (
    "llt_code", "llt_name", "pt_code", "pt_name", "hlt_code", "hlt_name", "hlgt_code",
    "hlgt_name", "soc_code", "soc_name",
)  # fmt: skip
#: The WHODrug columns of ``conmeds`` (``None`` for an uncoded medication).
WHODRUG_COLUMNS = ("drug_code", "drug_decod", "drug_atc_code", "drug_atc_text")


def _meddra_columns(code: CodedTerm | None) -> dict[str, Any]:
    values = {} if code is None else dict(code.values)
    return {c: values.get(c) for c in MEDDRA_COLUMNS}


def _whodrug_columns(code: CodedTerm | None) -> dict[str, Any]:
    if code is None:
        return dict.fromkeys(WHODRUG_COLUMNS)
    values = dict(code.values)
    return {
        "drug_code": code.code,
        "drug_decod": code.decod,
        "drug_atc_code": values.get("atc_code"),
        "drug_atc_text": values.get("atc_text"),
    }


def _conmeds(
    session: Session,
    protocol: Protocol,
    by_id: dict[int, Participant],
    coded: dict[tuple[str, int], CodedTerm],
) -> pd.DataFrame:
    """Concomitant medications of the participants read, in the order recorded, with their
    WHODrug codes."""
    rows = []
    query = select(ConcomitantMedication).order_by(ConcomitantMedication.id)
    for m in session.scalars(query):
        if m.participant_id not in by_id:
            continue
        cls = protocol.medications.prohibited_class(m.atc_code)
        rows.append(
            {
                "participant_id": by_id[m.participant_id].study_id,
                "conmed_id": m.id,
                "name": m.name,
                "atc_code": m.atc_code,
                "atc_class": atc_class(m.atc_code) if m.atc_code else None,
                "dose": m.dose,
                "route": m.route,
                "indication": m.indication,
                "start_date": m.start_date,
                "stop_date": m.stop_date,
                "taper_steps": {s["date"]: s["dose"] for s in m.taper_steps or ()},
                "prohibited": cls.label if cls else None,
                **_whodrug_columns(coded.get(("concomitant_medication", m.id))),
            }
        )
    columns = [
        "participant_id", "conmed_id", "name", "atc_code", "atc_class", "dose", "route",
        "indication", "start_date", "stop_date", "taper_steps", "prohibited",
        *WHODRUG_COLUMNS,
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def _results(
    session: Session, by_id: dict[int, Participant], visit_code: dict[int, str]
) -> pd.DataFrame:
    """Clinical results of the participants read, by collection time."""
    query = select(ClinicalResult).order_by(ClinicalResult.collected_at, ClinicalResult.id)
    rows = [
        {
            "participant_id": by_id[r.participant_id].study_id,
            "visit_code": visit_code.get(r.visit_id) if r.visit_id else None,
            "test_code": r.test_code,
            "value_number": r.value_number,
            "value_text": r.value_text,
            "unit": r.unit,
            "normal_low": r.normal_low,
            "normal_high": r.normal_high,
            "interpretation": r.interpretation,
            "collected_at": r.collected_at,
        }
        for r in session.scalars(query)
        if r.participant_id in by_id
    ]
    columns = [
        "participant_id", "visit_code", "test_code", "value_number", "value_text", "unit",
        "normal_low", "normal_high", "interpretation", "collected_at",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def _checklists(
    session: Session,
    by_id: dict[int, Participant],
    visit_code: dict[int, str],
    sessions: dict[int, DosingSession],
) -> pd.DataFrame:
    """Pre-dose checklist completions of the participants read, by completion time."""
    query = select(DosingChecklist).order_by(DosingChecklist.completed_at, DosingChecklist.id)
    rows = []
    for c in session.scalars(query):
        if c.participant_id not in by_id or c.dosing_session_id not in sessions:
            continue
        ds = sessions[c.dosing_session_id]
        items = list(c.items or ())
        rows.append(
            {
                "participant_id": by_id[c.participant_id].study_id,
                "visit_code": visit_code.get(ds.visit_id) if ds.visit_id else None,
                "session_number": ds.session_number,
                "completed_at": c.completed_at,
                "items": {str(i["id"]): i.get("status") for i in items},
                "not_applicable": {str(i["id"]): i["reason"] for i in items if i.get("reason")},
                "override_reason": c.override_reason,
            }
        )
    columns = [
        "participant_id", "visit_code", "session_number", "completed_at", "items",
        "not_applicable", "override_reason",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def _participants(
    session: Session,
    people: list[Participant],
    sites: dict[int, str],
    arms: dict[str, str] | None = None,
) -> pd.DataFrame:
    """One row per person; ``arms`` (study ID → arm, from the allocations) replaces the
    participant row's ``arm`` when given (unblinded data of a randomised trial)."""
    consents: dict[int, list[Consent]] = {}
    for given in session.scalars(select(Consent).order_by(Consent.consented_at, Consent.id)):
        consents.setdefault(given.participant_id, []).append(given)
    latest: dict[int, EligibilityCheck] = {}
    for found in session.scalars(select(EligibilityCheck).order_by(EligibilityCheck.id)):
        latest[found.participant_id] = found
    rows = []
    for p in people:
        check = latest.get(p.id)
        mine = consents.get(p.id, [])
        age = None
        reasons: list[str] = []
        if check is not None:
            value = check.data.get("age_years")
            age = value if isinstance(value, int | float) and not isinstance(value, bool) else None
            if p.status == ParticipantStatus.INELIGIBLE:
                reasons = [str(c["id"]) for c in check.results if c.get("status") == "unmet"]
        if p.status == ParticipantStatus.INELIGIBLE and p.screen_failure_code and not reasons:
            reasons = [p.screen_failure_code]  # a coded screen failure (phone screen, decision)
        if age is None and p.birth_year is not None and p.screened_at is not None:
            age = p.screened_at.year - p.birth_year
        rows.append(
            {
                "participant_id": p.study_id,
                "site": sites.get(p.site_id),
                "arm": p.arm if arms is None else arms.get(p.study_id),
                "sex": p.sex,
                "age_years": age,
                "status": p.status,
                "screened_date": _day(p.screened_at),
                "enrolled_date": _day(p.enrolled_at),
                "ineligible_reasons": reasons,
                "withdrawn_reason": (
                    p.status_reason if p.status == ParticipantStatus.WITHDRAWN else None
                ),
                "simulated": p.simulated,
                "consented_at": mine[0].consented_at if mine else None,
                "consent_withdrawn_at": next(
                    (c.withdrawn_at for c in mine if c.withdrawal_scope == WithdrawalScope.FULL),
                    None,
                ),
                "race": p.race,
                "ethnicity": p.ethnicity,
            }
        )
    columns = [
        "participant_id", "site", "arm", "sex", "age_years", "status", "screened_date",
        "enrolled_date", "ineligible_reasons", "withdrawn_reason", "simulated", "consented_at",
        "consent_withdrawn_at", "race", "ethnicity",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def _study_day(actual: Any, base: Any) -> int | None:
    if actual is None or base is None:
        return None
    return int((actual - base).days)


def _visits(
    protocol: Protocol,
    by_id: dict[int, Participant],
    visits: list[Visit],
    reference: dict[int, Any],
) -> pd.DataFrame:
    order = {code: i for i, code in enumerate(protocol.visit_codes)}
    rows = []
    for v in sorted(
        visits,
        key=lambda v: (
            by_id[v.participant_id].study_id,
            order.get(v.visit_code, len(order)),
            v.visit_code,
        ),
    ):
        status = v.window_status
        if status is None and v.status == VisitStatus.MISSED:
            status = VisitStatus.MISSED.value
        rows.append(
            {
                "participant_id": by_id[v.participant_id].study_id,
                "visit_code": v.visit_code,
                "target_date": v.target_date,
                "window_start_date": v.window_start_date,
                "window_end_date": v.window_end_date,
                "actual_date": v.actual_date,
                "study_day": _study_day(v.actual_date, reference.get(v.participant_id)),
                "window_status": status,
            }
        )
    columns = [
        "participant_id", "visit_code", "target_date", "window_start_date", "window_end_date",
        "actual_date", "study_day", "window_status",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def _scores(
    session: Session,
    by_id: dict[int, Participant],
    visit_code: dict[int, str],
    sessions: dict[int, DosingSession],
    reference: dict[int, Any],
) -> pd.DataFrame:
    actual = {v.id: v.actual_date for v in session.scalars(select(Visit))}
    rows = []
    for a in session.scalars(select(Assessment).order_by(Assessment.id)):
        if a.participant_id not in by_id or a.status == AssessmentStatus.DRAFT:
            continue
        visit_id = a.visit_id
        if visit_id is None and a.dosing_session_id in sessions:
            visit_id = sessions[a.dosing_session_id].visit_id
        score = a.score or {}
        rows.append(
            {
                "participant_id": by_id[a.participant_id].study_id,
                "visit_code": visit_code.get(visit_id) if visit_id else None,
                "study_day": _study_day(
                    actual.get(visit_id) if visit_id else None, reference.get(a.participant_id)
                ),
                "scale": a.scale,
                "version": a.scale_version,
                "total": a.total,
                "band": score.get("band"),
                "n_missing": score.get("n_missing"),
                "prorated": bool(score.get("prorated", False)),
                "assessed_at": a.assessed_at or a.entered_at,
                "items": dict(a.answers or {}),
                "subscales": dict(score.get("subscales") or {}),
                "derived": dict(score.get("derived") or {}),
                "timepoint": a.timepoint,
            }
        )
    columns = [
        "participant_id", "visit_code", "study_day", "scale", "version", "total", "band",
        "n_missing", "prorated", "assessed_at", "items", "subscales", "derived", "timepoint",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def _doses(
    by_id: dict[int, Participant],
    visit_code: dict[int, str],
    sessions: dict[int, DosingSession],
    doses: list[Dose],
) -> pd.DataFrame:
    rows = []
    for d in doses:
        if d.status not in DECIDED_DOSE_STATUSES:
            continue
        ds = sessions[d.dosing_session_id]
        rows.append(
            {
                "participant_id": by_id[ds.participant_id].study_id,
                "visit_code": visit_code.get(ds.visit_id) if ds.visit_id else None,
                "session_number": ds.session_number,
                "kind": d.kind,
                "dose_mg": d.dose_mg,
                "status": d.status,
                "given_at": d.given_at,
                "withheld_reason": d.withheld_reason,
            }
        )
    columns = [
        "participant_id", "visit_code", "session_number", "kind", "dose_mg", "status",
        "given_at", "withheld_reason",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def _vitals(
    session: Session,
    by_id: dict[int, Participant],
    visit_code: dict[int, str],
    sessions: dict[int, DosingSession],
    doses: list[Dose],
) -> pd.DataFrame:
    initial = {
        d.dosing_session_id: d.given_at
        for d in doses
        if d.kind == DoseKind.INITIAL and d.status == DoseStatus.GIVEN and d.given_at is not None
    }
    rows: list[dict[str, Any]] = []
    values = reading_values(session)
    query = select(VitalSignReading).order_by(VitalSignReading.measured_at, VitalSignReading.id)
    for v in session.scalars(query):
        if v.participant_id not in by_id:
            continue
        ds = sessions.get(v.dosing_session_id) if v.dosing_session_id else None
        minutes = v.minutes_after_dose
        if minutes is None and ds is not None and ds.id in initial:
            minutes = round((v.measured_at - initial[ds.id]).total_seconds() / 60)
        rows.append(
            {
                "participant_id": by_id[v.participant_id].study_id,
                "visit_code": visit_code.get(v.visit_id) if v.visit_id else None,
                "session_number": ds.session_number if ds else None,
                "minutes_after_dose": minutes,
                "measured_at": v.measured_at,
                **{sign: values.get(v.id, {}).get(sign) for sign in VITAL_SIGN_CODES},
            }
        )
    columns = [
        "participant_id", "visit_code", "session_number", "minutes_after_dose", "measured_at",
        *VITAL_SIGN_CODES,
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)
