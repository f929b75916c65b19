"""Informed consent: record it, withdraw it (fully or partly), and read where it stands.

The versions of the consent form are the protocol's ``[[consent.versions]]``
(:mod:`remit.protocol.consent`). What consent allows is one rule,
:mod:`remit.services.consent_rules`, applied by the write preamble to every study procedure.

Examples
--------
::

    record_consent(engine, investigator, "OSL-001", version="1.0",
                   components=["main"], consented_at=datetime(2023, 1, 9, 9, 0, tzinfo=UTC))
    consent_status(engine, investigator, "OSL-001").procedures_allowed   # True
    withdraw_consent(engine, investigator, "OSL-001", reason="moved abroad",
                     withdrawn_at=datetime(2023, 5, 2, 14, 0, tzinfo=UTC))
    # -> the participant is withdrawn; vital signs and adverse events may still be recorded
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Engine

from remit.errors import ConflictError, InputError, NotFoundError
from remit.protocol.consent import WithdrawalScope
from remit.protocol.status import FINAL_STATUSES
from remit.protocol.status import ParticipantStatus as S
from remit.services._common import (
    aware,
    now_utc,
    plausible_time,
    protocol_in_force,
    text_given,
)
from remit.services.consent_rules import (
    consent_problem,
    consent_record,
    consents_of,
    latest_by,
    withdrawn_by,
)
from remit.services.records import ConsentRecord, ConsentStatusRecord
from remit.services.unit import reading, writing
from remit.store import Actor
from remit.store.consent import Consent


def _clinical_time(value: datetime | None, name: str) -> datetime:
    when = plausible_time(value, name)
    if when is None:
        raise InputError(f"{name} is missing", expected="the date and time it happened")
    return when


def record_consent(
    engine: Engine,
    actor: Actor,
    participant: int | str,
    *,
    version: str,
    components: Sequence[str],
    consented_at: datetime,
    idempotency_key: str | None = None,
) -> ConsentRecord:
    """Record that the participant gave informed consent to ``version`` of the consent form,
    agreeing to ``components``, at ``consented_at``; the actor is who obtained it.

    Refused, with nothing stored: a protocol declaring no consent form; a version the protocol
    does not have, not yet effective on that date, or superseded by a newer one on that date;
    components unknown to the version or missing a required one; a time in the future or not
    after the participant's latest consent; a participant whose consent was fully withdrawn or
    who has left the study. Re-consent to a newer version is a new consent.
    """
    when = _clinical_time(consented_at, "consented_at")
    if isinstance(components, str) or not isinstance(components, Sequence):
        raise InputError(
            f"components {components!r} are not a list", expected="a list of component names"
        )
    agreed = [str(c) for c in components]
    body = {
        "participant": participant,
        "version": version,
        "components": agreed,
        "consented_at": when,
    }
    with writing(
        engine,
        actor,
        "record_consent",
        participant=participant,
        request=body,
        idempotency_key=idempotency_key,
        record_table="consent",
    ) as w:
        session, p, forms = w.session, w.p, w.protocol.consent
        if (done := w.stored(Consent)) is not None:
            return consent_record(session, p, done)
        if not forms.required:
            raise InputError(
                "the protocol declares no consent form",
                expected="a protocol with [[consent.versions]]",
                hint="add the consent form's versions to the protocol file",
            )
        chosen = forms.version(version)
        day = when.date().isoformat()
        in_force = forms.in_force(when.date())
        if in_force is None or chosen.effective > when.date():
            raise InputError(
                f"consent version {version} is effective from {chosen.effective.isoformat()}, "
                f"after the consent date {day}",
                expected="a version effective on the consent date",
                hint=f"use version {in_force.version}" if in_force else "check the consent date",
            )
        if in_force.version != chosen.version:
            raise InputError(
                f"consent version {version} is superseded on {day} by version {in_force.version}",
                expected=f"consent to version {in_force.version}",
            )
        unknown = sorted(set(agreed) - set(chosen.components))
        missing = [c for c in chosen.required_components if c not in agreed]
        if unknown or missing or not agreed or len(set(agreed)) != len(agreed):
            raise InputError(
                f"components {agreed} do not fit consent version {version}"
                + (f": {unknown} unknown" if unknown else "")
                + (f": required {missing} missing" if missing else ""),
                expected=f"each once, from {list(chosen.components)}, including "
                f"{list(chosen.required_components)}",
                hint="a participant who does not agree to the required components has not "
                "consented: record nothing",
            )
        if p.status in FINAL_STATUSES:
            raise InputError(
                f"{p.study_id} is {p.status}", expected="a participant still in the study"
            )
        history = consents_of(session, p)
        if history:
            latest = history[-1]
            if latest.withdrawal_scope == WithdrawalScope.FULL:
                raise ConflictError(
                    f"{p.study_id} withdrew consent fully on "
                    f"{latest.withdrawn_at.date().isoformat() if latest.withdrawn_at else '?'}",
                    hint="a participant who withdrew is not consented again in this study",
                )
            if when <= latest.consented_at:
                raise InputError(
                    f"consented_at {when.isoformat(timespec='minutes')} is not after "
                    f"{p.study_id}'s latest consent "
                    f"({latest.consented_at.isoformat(timespec='minutes')}, version "
                    f"{latest.version})",
                    expected="a re-consent later than the consent it replaces",
                )
        row = Consent(
            participant_id=p.id,
            version=chosen.version,
            components=agreed,
            consented_at=when,
            obtained_by=actor.user_id,
            idempotency_key=idempotency_key,
        )
        w.create(row)
        return consent_record(session, p, row)


def withdraw_consent(
    engine: Engine,
    actor: Actor,
    participant: int | str,
    *,
    reason: str,
    withdrawn_at: datetime,
    components: Sequence[str] | None = None,
) -> ConsentRecord:
    """Record the withdrawal of the participant's current consent, with the reason.

    ``components=None`` withdraws it fully: no study procedure may be recorded after
    ``withdrawn_at`` (vital signs and adverse events still may, for safety follow-up) and a
    participant still in the study becomes ``withdrawn``. Naming optional components withdraws
    only those (partial): the operations they ``cover`` in the protocol stop. A partial
    withdrawal is recorded once per consent; withdraw more by withdrawing fully, or by a new
    consent with the components still agreed.
    """
    text_given(reason, "reason for withdrawal of consent")
    when = _clinical_time(withdrawn_at, "withdrawn_at")
    scope = WithdrawalScope.FULL if components is None else WithdrawalScope.PARTIAL
    with writing(
        engine,
        actor,
        "withdraw_consent",
        participant=participant,
        reason=reason,
    ) as w:
        session, p, forms = w.session, w.p, w.protocol.consent
        current = latest_by(consents_of(session, p), when)
        if current is None:
            raise NotFoundError(
                f"{p.study_id} has no consent given on or before "
                f"{when.isoformat(timespec='minutes')} to withdraw",
                hint="see `remit consent show`",
            )
        if current.withdrawal_scope == WithdrawalScope.FULL:
            raise ConflictError(f"{p.study_id}'s consent is already withdrawn fully")
        withdrawn: list[str] | None = None
        if components is not None:
            if current.withdrawal_scope == WithdrawalScope.PARTIAL:
                raise ConflictError(
                    f"{p.study_id} already withdrew {current.withdrawn_components} of this consent",
                    hint="withdraw fully, or record a new consent with the components still agreed",
                )
            optional = (
                set(forms.version(current.version).optional_components)
                if current.version in {v.version for v in forms.versions}
                else set()
            )
            withdrawn = [str(c) for c in components]
            wrong = sorted(set(withdrawn) - (optional & set(current.components)))
            if not withdrawn or wrong:
                raise InputError(
                    f"components {withdrawn} cannot be withdrawn partly"
                    + (f": {wrong} not optional components agreed to" if wrong else ""),
                    expected="optional components of the consent, agreed to: "
                    + (", ".join(sorted(optional & set(current.components))) or "(none)"),
                    hint="leave components out to withdraw consent fully",
                )
        if when < current.consented_at:
            raise InputError(f"withdrawn_at {when.isoformat()} is before the consent")
        current.withdrawn_at = when
        current.withdrawal_scope = scope.value
        current.withdrawn_components = withdrawn
        current.withdrawal_reason = reason.strip()
        current.withdrawal_recorded_by = actor.user_id
        if scope == WithdrawalScope.FULL and p.status not in FINAL_STATUSES:
            p.status = S.WITHDRAWN.value
            p.status_reason = f"consent withdrawn: {reason.strip()}"
            p.status_changed_at = when
        session.flush()
        return consent_record(session, p, current)


def consent_status(
    engine: Engine, actor: Actor, participant: int | str, *, at: datetime | None = None
) -> ConsentStatusRecord:
    """Where the participant's consent stands at ``at`` (default now): the current consent,
    the components agreed, the version in force and whether study procedures may be done."""
    when = aware(at, "at") or now_utc()
    with reading(
        engine, actor, "view_participants", "consent_status", participant=participant
    ) as r:
        session, p = r.session, r.p
        protocol = protocol_in_force(session)[0]
        forms = protocol.consent
        history = consents_of(session, p)
        current = latest_by(history, when)
        problem = consent_problem(protocol, p.study_id, history, when)
        in_force = forms.in_force(when.date())
        return r.one(
            ConsentStatusRecord(
                participant_id=p.study_id,
                at=when,
                consent_required=forms.required,
                current=None if current is None else consent_record(session, p, current),
                agreed=()
                if current is None
                else tuple(c for c in current.components if c not in withdrawn_by(current, when)),
                version_in_force=None if in_force is None else in_force.version,
                procedures_allowed=problem is None,
                problem=problem,
                history=tuple(consent_record(session, p, c) for c in history),
            )
        )
