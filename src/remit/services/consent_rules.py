"""What a participant's consent allows at one time: the one rule behind the preamble's check.

:func:`remit.services.unit.writing` calls :func:`require_consent` for every operation of
:data:`remit.services.access.CONSENT_NEEDED`, at the procedure's clinical time, so no service
checks consent on its own. The rule, for a protocol that declares consent versions:

* no consent given by that time → refused (record consent to the version in force first);
* ``"safety"`` operations (vital signs, adverse events) need nothing more: they go on after a
  withdrawal, for safety follow-up;
* the latest consent fully withdrawn by then → refused;
* a newer version of the form effective on the procedure's date than the one consented to →
  refused until re-consent;
* an optional component covering the operation (``covers``) not agreed to, or withdrawn by
  then → refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from remit.errors import InputError
from remit.protocol import Protocol
from remit.protocol.consent import WithdrawalScope
from remit.services.access import CONSENT_NEEDED
from remit.services.records import ConsentRecord
from remit.store.consent import Consent
from remit.store.tables import Participant, UserAccount

#: Built once: every write that needs consent reads them.
_CONSENTS_OF = (
    select(Consent)
    .where(Consent.participant_id == bindparam("participant_id"))
    .order_by(Consent.consented_at, Consent.id)
)


def consents_of(session: Session, participant: Participant) -> list[Consent]:
    """The participant's consents, oldest first."""
    return list(session.scalars(_CONSENTS_OF, {"participant_id": participant.id}))


def latest_by(consents: Sequence[Consent], at: datetime) -> Consent | None:
    """The latest consent given on or before ``at``."""
    given = [c for c in consents if c.consented_at <= at]
    return given[-1] if given else None


def withdrawn_by(consent: Consent, at: datetime) -> set[str]:
    """The components of ``consent`` withdrawn on or before ``at`` (all of them for a full
    withdrawal)."""
    if consent.withdrawn_at is None or consent.withdrawn_at > at:
        return set()
    if consent.withdrawal_scope == WithdrawalScope.FULL:
        return set(consent.components)
    return set(consent.withdrawn_components or ())


def consent_problem(
    protocol: Protocol,
    study_id: str,
    consents: Sequence[Consent],
    at: datetime,
    *,
    operation: str | None = None,
    detail: str | None = None,
) -> str | None:
    """Why ``operation`` may not be done for the participant at ``at`` (``None``: it may).

    ``operation=None`` asks about study procedures in general (``"procedure"`` need, no
    component's ``covers``). The answer names what is missing and what to record.
    """
    forms = protocol.consent
    if not forms.required:
        return None
    need = "procedure" if operation is None else CONSENT_NEEDED.get(operation)
    if need is None:
        return None
    when = at.isoformat(timespec="minutes")
    in_force = forms.in_force(at.date())
    wanted = in_force.version if in_force is not None else forms.versions[0].version
    latest = latest_by(consents, at)
    if latest is None:
        return (
            f"{study_id} has no informed consent recorded on or before {when}: record consent "
            f"(version {wanted}) first"
        )
    if need == "safety":
        return None
    withdrawn = withdrawn_by(latest, at)
    if latest.withdrawal_scope == WithdrawalScope.FULL and withdrawn:
        assert latest.withdrawn_at is not None
        return (
            f"{study_id} withdrew consent on {latest.withdrawn_at.date().isoformat()}: no study "
            "procedure may be recorded after it (only vital signs and adverse events, for "
            "safety follow-up)"
        )
    known = {v.version for v in forms.versions}
    if in_force is not None and (
        latest.version not in known or forms.version(latest.version).effective < in_force.effective
    ):
        return (
            f"{study_id} consented to version {latest.version}, but version {in_force.version} "
            f"of the consent form is effective from {in_force.effective.isoformat()}: record "
            f"re-consent to version {in_force.version} first"
        )
    if operation is None or latest.version not in known:
        return None
    covering = forms.version(latest.version).covering(operation, detail)
    missing = [c for c in covering if c not in set(latest.components) - withdrawn]
    if missing:
        what = operation.replace("_", " ") + (f" ({detail})" if detail else "")
        return (
            f"{study_id} has not agreed to (or withdrew) the consent component "
            f"{', '.join(missing)}, which covers {what}: record a consent that includes it first"
        )
    return None


def require_consent(
    session: Session,
    protocol: Protocol,
    participant: Participant,
    operation: str,
    at: datetime,
    detail: str | None = None,
    consents: Sequence[Consent] | None = None,
) -> None:
    """Raise :class:`~remit.errors.InputError` when the participant's consent does not allow
    ``operation`` at ``at`` (see the module's docstring). ``consents``: the participant's
    consents, oldest first, when already read (else they are read here)."""
    problem = consent_problem(
        protocol,
        participant.study_id,
        consents_of(session, participant) if consents is None else consents,
        at,
        operation=operation,
        detail=detail,
    )
    if problem is not None:
        raise InputError(
            problem,
            expected="a current informed consent at the time of the procedure",
            hint="record it with `remit consent record` or on the participant's page, or see "
            "`remit consent show`",
        )


def consent_record(session: Session, participant: Participant, row: Consent) -> ConsentRecord:
    """The record of a stored consent."""

    def username(user_id: int | None) -> str | None:
        if user_id is None:
            return None
        user = session.get(UserAccount, user_id)
        return None if user is None else user.username

    return ConsentRecord.from_row(
        row,
        participant_id=participant.study_id,
        components=tuple(row.components),
        obtained_by=username(row.obtained_by),
        withdrawn_components=tuple(row.withdrawn_components or ()),
    )
