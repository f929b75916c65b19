"""Participants: screening, eligibility, enrolment, status changes, reading them and their
identity. The schedule and the visits are in :mod:`remit.services.visits`.

Every function here is one transaction opened by the services' preamble
(:func:`remit.services.unit.writing` or :func:`~remit.services.unit.reading`), which checks
the access table first; a refusal writes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from remit.errors import InputError, NotFoundError
from remit.protocol import Protocol, evaluate_eligibility
from remit.protocol.demographics import Characteristic, Ethnicity, Race
from remit.protocol.status import FINAL_STATUSES, ParticipantStatus
from remit.services._common import (
    authorise,
    choice,
    now_utc,
    participant_record,
    plausible_time,
    serialise,
    text_given,
)
from remit.services.access import require_site
from remit.services.blinding import SafetyBlind
from remit.services.randomisation import allocate
from remit.services.records import EligibilityRecord, ParticipantRecord
from remit.services.screening import current_verdict, hold_visit, recorded_forms
from remit.services.unit import reading, writing
from remit.services.visits import refresh_schedule
from remit.store import Actor, IdentityRecord, set_identity, unit_of_work
from remit.store import read_identity as store_read_identity
from remit.store.tables import EligibilityCheck, Participant, Site, Study

S = ParticipantStatus

#: status → statuses it may move to with :func:`change_status`.
STATUS_CHANGES: Mapping[str, frozenset[str]] = {
    S.ENROLLED: frozenset({S.ON_STUDY, S.LOST_TO_FOLLOW_UP}),
    S.ON_STUDY: frozenset({S.IN_FOLLOW_UP, S.COMPLETED, S.LOST_TO_FOLLOW_UP}),
    S.IN_FOLLOW_UP: frozenset({S.COMPLETED, S.LOST_TO_FOLLOW_UP}),
}

_ID_NUMBER = re.compile(r"-(\d+)$")


# --- screening and eligibility ---------------------------------------------------------------


def _next_study_id(session: Session) -> str:
    serialise(session, "participant-number")
    code = session.scalar(select(Study.code).order_by(Study.id).limit(1))
    if code is None:
        raise NotFoundError("this database holds no study", hint="initialise it with `remit init`")
    highest = 0
    for (found,) in session.execute(select(Participant.study_id)):
        match = _ID_NUMBER.search(found)
        if match and found.startswith(code + "-"):
            highest = max(highest, int(match.group(1)))
    return f"{code}-{highest + 1:03d}"


def _site_for(session: Session, actor: Actor, site: str | None) -> Site:
    if site is None:
        if actor.site_id is not None:
            found = session.get(Site, actor.site_id)
        else:
            sites = list(session.scalars(select(Site).order_by(Site.id)))
            if len(sites) != 1:
                raise InputError(
                    "the trial has several sites and none was given",
                    expected="a site code: " + ", ".join(s.code for s in sites),
                )
            found = sites[0]
    else:
        found = session.scalar(select(Site).where(Site.code == site))
    if found is None:
        raise NotFoundError(
            f"site {site!r} does not exist", hint="list the sites with `remit init`"
        )
    require_site(actor, found.id, f"site {found.code}")
    return found


def screen_participant(
    engine: Engine,
    actor: Actor,
    *,
    site: str | None = None,
    sex: str | None = None,
    birth_year: int | None = None,
    identity: Mapping[str, str | None] | None = None,
    screened_at: datetime | None = None,
    simulated: bool = False,
    race: str | None = None,
    ethnicity: str | None = None,
    idempotency_key: str | None = None,
) -> ParticipantRecord:
    """Register a person for screening under a new pseudonymous ID (``OSL-001``, ``OSL-002`` …).

    ``identity`` (``name``, ``national_id``, ``contact``) is stored apart, readable only by
    investigators and admins. The visits of the schedule are created; their dates follow as
    anchor dates and visits are recorded.

    ``race`` and ``ethnicity`` (CDISC RACE / ETHNIC terms, :class:`~remit.protocol.demographics.
    Race`, :class:`~remit.protocol.demographics.Ethnicity`) are taken only when the protocol's
    ``[demographics]`` collects them; given under a protocol that does not, they are refused
    (nothing is stored).
    """
    screened = plausible_time(screened_at, "screened_at") or now_utc()
    if birth_year is not None and not (1900 <= birth_year <= screened.year):
        raise InputError(
            f"birth year {birth_year} is not plausible", expected=f"1900 to {screened.year}"
        )
    if identity is not None:
        unknown = sorted(set(identity) - {"name", "national_id", "contact"})
        if unknown or not identity.get("name"):
            raise InputError(
                f"identity {sorted(identity)} is not usable",
                expected="name (required), national_id, contact",
            )
    body = {
        "site": site,
        "sex": sex,
        "birth_year": birth_year,
        "identity": dict(identity) if identity else None,
        "screened_at": screened_at,
        "simulated": simulated,
        "race": race,
        "ethnicity": ethnicity,
    }
    with writing(
        engine,
        actor,
        "screen_participant",
        request=body,
        idempotency_key=idempotency_key,
        record_table="participant",
    ) as w:
        uow, session = w.uow, w.session
        if (done := w.stored(Participant)) is not None:
            return participant_record(session, done)
        found_site = _site_for(session, actor, site)
        race = _collected(w.protocol, Characteristic.RACE, race, Race)
        ethnicity = _collected(w.protocol, Characteristic.ETHNICITY, ethnicity, Ethnicity)
        participant = Participant(
            study_id=_next_study_id(session),
            site_id=found_site.id,
            sex=sex,
            birth_year=birth_year,
            simulated=simulated,
            screened_at=screened,
            status=S.SCREENING.value,
            status_changed_at=screened,
            race=race,
            ethnicity=ethnicity,
        )
        uow.add(participant)
        uow.flush()
        if identity is not None:
            set_identity(
                uow,
                participant.id,
                name=str(identity["name"]),
                national_id=identity.get("national_id"),
                contact=identity.get("contact"),
            )
        refresh_schedule(uow, w.protocol, participant)
        w.remember(participant.id)
        return participant_record(session, participant)


def _collected(
    protocol: Protocol, characteristic: Characteristic, value: str | None, vocabulary: Any
) -> str | None:
    """``value`` as a term of ``vocabulary`` when the protocol collects ``characteristic``;
    ``None`` when not given. A value the protocol does not collect is refused."""
    if value is None or not value.strip():
        return None
    if not protocol.demographics.collects(characteristic):
        raise InputError(
            f"{characteristic.value} {value!r} given, but protocol {protocol.study.id} does not "
            f"collect {characteristic.value}",
            expected=f"no {characteristic.value} (the protocol's [demographics] does not list it)",
            hint="leave it out; nothing was created",
        )
    return choice(value.strip().upper(), vocabulary, characteristic.value)


def _set_status(participant: Participant, status: str, reason: str | None, when: datetime) -> None:
    participant.status = str(status)  # the plain value, not the StrEnum member
    participant.status_reason = reason
    participant.status_changed_at = when


def check_eligibility(
    engine: Engine,
    actor: Actor,
    participant: int | str,
    data: Mapping[str, object],
    *,
    idempotency_key: str | None = None,
) -> EligibilityRecord:
    """Check the candidate against the criteria decided before enrolment and store the
    checklist answers and the verdicts.

    ``data`` holds the checklist answers (criteria without a ``source``); the criteria with a
    ``source`` read the recorded forms (a form not complete leaves them missing). Eligible →
    status ``eligible``; a failed criterion → ``ineligible`` with the reasons and the first
    failing criterion's id as the screen-failure code; missing data only → still
    ``screening`` (the record lists what is missing).
    """
    if not isinstance(data, Mapping):
        raise InputError("screening data must be a mapping of field → value")
    with writing(
        engine,
        actor,
        "check_eligibility",
        participant=participant,
        request={"participant": participant, "data": dict(data)},
        idempotency_key=idempotency_key,
        record_table="eligibility_check",
    ) as w:
        uow, p = w.uow, w.p
        if (done := w.stored(EligibilityCheck)) is not None:
            return _eligibility_record(p, done)
        if p.status not in (S.SCREENING, S.ELIGIBLE, S.INELIGIBLE):
            raise InputError(
                f"{p.study_id} is {p.status}; eligibility is checked before enrolment",
                expected="a participant in screening",
            )
        sourced = {
            c.field: c.source for c in w.protocol.eligibility.criteria if c.source is not None
        }
        typed = sorted(k for k, v in data.items() if k in sourced and v is not None)
        if typed:
            first = sourced[typed[0]]
            raise InputError(
                f"{', '.join(typed)} cannot be typed in: the protocol reads "
                f"{'them' if len(typed) > 1 else 'it'} from the recorded forms",
                expected="only the checklist answers",
                hint=f"record the {first.scale} form at {first.visit}",
            )
        result = evaluate_eligibility(
            w.protocol, data, recorded_forms(w.session, p), stage="enrolment"
        )
        check = EligibilityCheck(
            participant_id=p.id,
            checked_by=actor.user_id,
            data=dict(data),
            results=[c.to_dict() for c in result.criteria],
            eligible=result.eligible,
        )
        uow.add(check)
        if result.eligible:
            _set_status(p, S.ELIGIBLE, None, now_utc())
        elif result.unmet:
            _set_status(p, S.INELIGIBLE, result.summary(), now_utc())
            p.screen_failure_code = result.unmet[0].id
        else:
            _set_status(p, S.SCREENING, result.summary(), now_utc())
        uow.flush()
        w.remember(check.id)
        return _eligibility_record(p, check)


def _eligibility_record(p: Participant, check: EligibilityCheck) -> EligibilityRecord:
    criteria = tuple(dict(c) for c in check.results)
    unmet = [c for c in criteria if c.get("status") == "unmet"]
    missing = [c for c in criteria if c.get("status") == "missing"]
    if check.eligible:
        summary = f"eligible: all {len(criteria)} criteria met"
    else:
        parts = []
        if unmet:
            parts.append("fails " + "; ".join(f"{c['id']} ({c['reason']})" for c in unmet))
        if missing:
            parts.append("missing " + ", ".join(str(c["field"]) for c in missing))
        summary = "not eligible: " + "; ".join(parts)
    return EligibilityRecord(
        id=check.id,
        participant_id=p.study_id,
        eligible=check.eligible,
        complete=not missing,
        criteria=criteria,
        summary=summary,
        status=p.status,
    )


def enrol(
    engine: Engine,
    actor: Actor,
    participant: int | str,
    *,
    arm: str | None = None,
    enrolled_at: datetime | None = None,
) -> ParticipantRecord:
    """Enrol an eligible participant in ``arm`` (the only arm when the protocol has one).

    A protocol with ``[randomisation]`` takes no arm: the participant is randomised when the
    enrolment is confirmed (:func:`remit.services.screening.confirm_enrolment`), or here when
    the protocol has no confirmation step.

    Needs a current consent at ``enrolled_at``. With an ``[enrolment]`` section the
    enrolment visit (``V0``) takes place that day (refused if it is recorded on another);
    its confirmation is :func:`remit.services.screening.confirm_enrolment`.
    """
    when = plausible_time(enrolled_at, "enrolled_at") or now_utc()
    with writing(engine, actor, "enrol", participant=participant, at=when) as w:
        uow, session, p, protocol = w.uow, w.session, w.p, w.protocol
        if p.status != S.ELIGIBLE:
            raise InputError(
                f"{p.study_id} is {p.status}, not eligible",
                expected="an eligible participant",
                hint="record a passing eligibility check first",
            )
        # a form edited since the decision (a C-SSRS re-rated) must not pass unseen
        now, _ = current_verdict(session, protocol, p, stage="enrolment")
        if not now.eligible:
            raise InputError(
                f"{p.study_id} was found eligible, but now: {now.summary()}",
                expected="every criterion decided before enrolment still met on the forms",
                hint="check eligibility again (the forms changed since), or record a screen "
                "failure",
            )
        randomised = protocol.randomisation is not None
        if randomised and arm is not None:
            raise InputError(
                f"arm {arm!r} given for {p.study_id}, but protocol {protocol.study.id} "
                "randomises: the arm is allocated from the concealed list",
                expected="no arm",
                hint="enrol without an arm; the participant is randomised when enrolment is "
                "confirmed",
            )
        if arm is None and not randomised:
            if len(protocol.arms) != 1:
                raise InputError(
                    f"protocol {protocol.study.id} has {len(protocol.arms)} arms; none was given",
                    expected="one of " + ", ".join(a.code for a in protocol.arms),
                )
            arm = protocol.arms[0].code
        if arm is not None:
            protocol.arm(arm)
        p.arm = arm  # a randomised participant's arm stays sealed in the list
        p.enrolled_at = when
        p.enrolled_by = actor.user_id
        _set_status(p, S.ENROLLED, None, when)
        session.flush()
        refresh_schedule(uow, protocol, p)
        if protocol.enrolment is not None:
            hold_visit(uow, w, p, protocol.enrolment.enrol_at, when)
        if randomised and (protocol.enrolment is None or protocol.enrolment.confirm_at is None):
            allocate(engine, uow, protocol, p, when)  # no confirmation step: randomised now
        return participant_record(session, p)


# --- status ----------------------------------------------------------------------------------


def change_status(
    engine: Engine,
    actor: Actor,
    participant: int | str,
    status: str,
    *,
    reason: str | None = None,
) -> ParticipantRecord:
    """Move a participant along the lifecycle: enrolled → on_study → in_follow_up → completed,
    or lost_to_follow_up (needs a reason). Withdrawal is :func:`withdraw`."""
    allowed_now = {str(s) for targets in STATUS_CHANGES.values() for s in targets}
    if status not in allowed_now:
        raise InputError(
            f"status {status!r} cannot be set with change_status",
            expected="one of " + ", ".join(sorted(allowed_now)),
            hint="use enrol, check_eligibility or withdraw for the other statuses",
        )
    if status == S.LOST_TO_FOLLOW_UP:
        text_given(reason, "reason for lost to follow-up")
    with writing(engine, actor, "change_status", participant=participant, reason=reason) as w:
        session, p = w.session, w.p
        if status not in STATUS_CHANGES.get(p.status, frozenset()):
            raise InputError(
                f"{p.study_id} is {p.status} and cannot become {status}",
                expected="one of "
                + (", ".join(sorted(STATUS_CHANGES.get(p.status, ()))) or "(none: final)"),
            )
        _set_status(p, status, reason, now_utc())
        session.flush()
        return participant_record(session, p)


def withdraw(
    engine: Engine,
    actor: Actor,
    participant: int | str,
    *,
    reason: str,
    withdrawn_at: datetime | None = None,
) -> ParticipantRecord:
    """Withdraw a participant (consent withdrawn, investigator decision …) with the reason."""
    text_given(reason, "reason for withdrawal")
    when = plausible_time(withdrawn_at, "withdrawn_at") or now_utc()
    with writing(engine, actor, "withdraw", participant=participant, reason=reason) as w:
        session, p = w.session, w.p
        if p.status in FINAL_STATUSES:
            raise InputError(
                f"{p.study_id} is already {p.status}", expected="a participant still in the trial"
            )
        _set_status(p, S.WITHDRAWN, reason, when)
        session.flush()
        return participant_record(session, p)


# --- reading ---------------------------------------------------------------------------------


def list_participants(
    engine: Engine, actor: Actor, *, status: str | None = None
) -> list[ParticipantRecord]:
    """Participants the actor may see (a site-bound role sees its own site), by study ID;
    ``status`` keeps those in one lifecycle status (``screening``, ``enrolled``, …)."""
    if status is not None:
        choice(status, ParticipantStatus, "participant status")
    with reading(engine, actor, "view_participants", "list_participants") as r:
        query = select(Participant).order_by(Participant.study_id)
        if actor.site_id is not None:
            query = query.where(Participant.site_id == actor.site_id)
        if status is not None:
            query = query.where(Participant.status == status)
        blind = SafetyBlind.in_force(r.session, actor)
        return r.returning(
            [blind.participant(participant_record(r.session, p)) for p in r.session.scalars(query)]
        )


def get_participant(engine: Engine, actor: Actor, participant: int | str) -> ParticipantRecord:
    """One participant (no identifying data)."""
    with reading(
        engine, actor, "view_participants", "get_participant", participant=participant
    ) as r:
        blind = SafetyBlind.in_force(r.session, actor)
        return r.one(blind.participant(participant_record(r.session, r.p)))


def read_identity(
    engine: Engine, actor: Actor, participant: int | str, *, purpose: str | None = None
) -> IdentityRecord:
    """A participant's identity, for investigators and admins only; every attempt is logged
    (a refusal too: :class:`~remit.errors.PermissionDeniedError` after logging)."""
    with unit_of_work(engine, actor) as uow:
        authorise(uow.session, actor, "view_participants")
        return store_read_identity(uow, participant, purpose=purpose)
