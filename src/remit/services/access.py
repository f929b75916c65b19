"""Who may do what: ONE table, operation × role → allowed, enforced by every service.

Roles are held per site (or study-wide). A site-bound role acts only on participants of its
site; a study-wide role (site ``None``) on every site. The pseudo-role ``system`` (work Remit
does itself in-process: initialising a trial, simulation) is allowed every operation except
those that need a person (reading identity, signing); it cannot log in, so the CLI and the
web app never act as it.

The web app renders :func:`access_matrix` and its tests walk it; ``docs/services.md`` prints it.
"""

from __future__ import annotations

from collections.abc import Mapping

from remit.errors import PermissionDeniedError
from remit.protocol.roles import PARTICIPANT_ROLE, SYSTEM_ROLE, UNBLINDED_ROLES, Role
from remit.protocol.status import values
from remit.store import Actor

INV = Role.INVESTIGATOR.value
THE = Role.THERAPIST.value
RAT = Role.INDEPENDENT_RATER.value
MON = Role.MONITOR.value
STA = Role.STATISTICIAN.value
UNB = Role.UNBLINDED_STATISTICIAN.value
DM = Role.DATA_MANAGER.value
ADM = Role.ADMIN.value

#: Every role, in the order the matrix is shown.
ROLES: tuple[str, ...] = values(Role)

_VIEW = frozenset({INV, THE, RAT, MON, STA, UNB, DM, ADM})
#: The roles that may see arms (remit.protocol.roles.UNBLINDED_ROLES).
_UNBLINDED = frozenset(r.value for r in UNBLINDED_ROLES)

#: operation → roles allowed. The one place access rules live.
ACCESS: Mapping[str, frozenset[str]] = {
    # trial set-up
    "create_trial": frozenset({ADM}),
    "add_user": frozenset({ADM}),
    "set_user_active": frozenset({ADM}),
    "reset_password": frozenset({ADM}),
    "change_own_password": _VIEW,
    # participants and visits
    "screen_participant": frozenset({INV}),
    "check_eligibility": frozenset({INV}),
    "enrol": frozenset({INV}),
    "set_anchor_date": frozenset({INV, DM}),
    "record_visit": frozenset({INV, THE, RAT, DM}),
    "change_status": frozenset({INV}),
    "withdraw": frozenset({INV}),
    "record_consent": frozenset({INV}),
    "record_source_history": frozenset({INV, DM}),
    "withdraw_consent": frozenset({INV}),
    "view_participants": _VIEW,
    "read_identity": frozenset({INV, ADM}),
    # forms
    "record_assessment": frozenset({INV, THE, RAT}),
    "update_assessment": frozenset({INV, THE, RAT, DM}),
    # dosing days
    "start_dosing_session": frozenset({INV, THE}),
    "record_dose": frozenset({INV, THE}),
    "override_dose_limit": frozenset({INV}),
    "record_vitals": frozenset({INV, THE}),
    "record_vas": frozenset({INV, THE}),
    "end_dosing_session": frozenset({INV, THE}),
    "sign_off_discharge": frozenset({INV}),
    "record_follow_up_call": frozenset({INV, THE}),
    # safety and medication
    "record_adverse_event": frozenset({INV, THE}),
    "update_adverse_event": frozenset({INV}),
    "mark_sae_reported": frozenset({INV}),
    "record_conmed": frozenset({INV, THE}),
    "edit_conmed": frozenset({INV, THE}),
    "stop_conmed": frozenset({INV, THE}),
    "record_deviation": frozenset({INV, DM}),
    "view_deviations": frozenset({INV, MON, DM, STA}),
    "view_alerts": frozenset({INV, THE, RAT, MON, DM, ADM}),
    "acknowledge_alert": frozenset({INV}),
    "sweep_missed_readings": frozenset({INV, DM, ADM}),
    "close_alert": frozenset({INV}),
    # data management
    "sign": frozenset({INV, THE, RAT, MON}),
    "lock": frozenset({DM, INV}),
    "lock_study": frozenset({DM}),
    "unlock": frozenset({DM}),
    "open_query": frozenset({MON, DM}),
    "answer_query": frozenset({INV, THE, RAT}),
    "close_query": frozenset({MON, DM}),
    "build_trial_data": frozenset({INV, MON, STA, DM}),
    # worklists (what each user has to do)
    "view_worklist": _VIEW,
    # authentication (issue 13): the security log of logins, lockouts, re-authentications
    "view_security_log": frozenset({ADM}),
    # TOTP multi-factor authentication: one's own set-up; an admin's reset of another user's
    "set_up_own_mfa": _VIEW,
    "reset_mfa": frozenset({ADM}),
    # screening and the two-step enrolment (issue 12)
    "record_referral": frozenset({INV}),
    "record_phone_screen": frozenset({INV}),
    "record_screen_failure": frozenset({INV}),
    "confirm_enrolment": frozenset({INV}),
    # clinical results and the pre-dose checklist
    "record_result": frozenset({INV, THE}),
    "edit_result": frozenset({INV, DM}),
    "complete_checklist": frozenset({INV, THE}),
    "override_checklist": frozenset({INV}),
    # participant self-report (ePRO, issue 14): links and tablet hand-over issued by the staff
    # who administer self-reports, reminders sent by them or an admin
    "issue_epro_link": frozenset({INV, THE, RAT}),
    "set_epro_preferences": frozenset({INV, THE}),
    "send_epro_reminders": frozenset({INV, THE, ADM}),
    "view_epro_links": frozenset({INV, THE, RAT, MON, DM}),
    # randomisation (issue 14): the concealed list, its use, and the arms (unblinded only)
    "generate_randomisation_list": frozenset({UNB}),
    "view_randomisation_status": frozenset({INV, MON, STA, UNB, DM}),
    "view_allocations": _UNBLINDED,
    "view_allocation_balance": _UNBLINDED,
    # blinding (issue 14): an investigator breaks the blind of one participant in an emergency
    # (the protocol's [blinding] emergency_unblinding narrows it); the unblinded roles list them
    "emergency_unblind": frozenset({INV}),
    "view_unblindings": _UNBLINDED,
    # the analysis data with each participant's arm read from the allocations (issue 14)
    "build_unblinded_trial_data": _UNBLINDED,
    # medical coding (issue 15): dictionaries, autocoding and the manual coding queue
    "load_dictionary": frozenset({DM}),
    "autocode": frozenset({DM}),
    "view_coding_queue": frozenset({INV, MON, STA, DM}),
    "assign_code": frozenset({DM}),
    # scale definitions kept in the trial database (issue 15): added by the data manager or
    # an admin, listed by anyone on the study
    "manage_scales": frozenset({DM, ADM}),
    "view_scales": _VIEW,
}

#: The only operations of the ``participant`` pseudo-role (:data:`PARTICIPANT_ROLE`): opening
#: and submitting their own ePRO forms, with a valid link's token (checked by
#: :mod:`remit.services.epro`). No role of the study team performs them, and the participant
#: performs nothing else.
PARTICIPANT_OPERATIONS: frozenset[str] = frozenset({"open_epro_link", "submit_epro_forms"})

#: Operations that record study data about a participant, and the consent they need at the
#: procedure's clinical time (checked once, by :func:`remit.services.unit.writing`):
#: ``"procedure"`` needs a current consent (given, not fully withdrawn, to the version in force,
#: with the optional components covering the operation); ``"safety"`` only a consent given at
#: some time before, so that vital signs and adverse events are still recorded after a
#: withdrawal (safety follow-up). Operations not listed need no consent (registration, visit
#: dates, corrections of stored data, the end of a dosing session already started, queries).
CONSENT_NEEDED: Mapping[str, str] = {
    "check_eligibility": "procedure",
    "enrol": "procedure",
    "record_assessment": "procedure",
    "start_dosing_session": "procedure",
    "record_dose": "procedure",
    "record_vas": "procedure",
    "record_vitals": "safety",
    "record_adverse_event": "safety",
    "confirm_enrolment": "procedure",
    "record_result": "procedure",
    "complete_checklist": "procedure",
}

#: Operations the in-process ``system`` actor may NOT perform (they need a person).
PERSON_ONLY: frozenset[str] = frozenset({"read_identity", "sign"})

#: Who may enter a form, by the protocol's ``rater`` of that form.
RATER_ROLES: Mapping[str, frozenset[str]] = {
    "independent_rater": frozenset({RAT}),
    "investigator": frozenset({INV}),
    "therapist": frozenset({THE, INV}),
    # and the participant themselves, through an ePRO link (remit.services.epro)
    "self_report": frozenset({INV, THE, RAT, PARTICIPANT_ROLE}),
}


def allowed(operation: str, role: str) -> bool:
    """Whether ``role`` may perform ``operation`` (an unknown operation is allowed to no one)."""
    if role == SYSTEM_ROLE:
        return operation in ACCESS and operation not in PERSON_ONLY
    if role == PARTICIPANT_ROLE:
        return operation in PARTICIPANT_OPERATIONS
    return role in ACCESS.get(operation, frozenset())


def require(actor: Actor, operation: str) -> None:
    """Raise :class:`PermissionDeniedError` unless ``actor``'s role may perform ``operation``."""
    if operation not in ACCESS and operation not in PARTICIPANT_OPERATIONS:
        raise PermissionDeniedError(f"operation {operation!r} is not in the access table")
    if not allowed(operation, actor.role):
        who = ", ".join(sorted(ACCESS.get(operation, {PARTICIPANT_ROLE}))) or "no one"
        raise PermissionDeniedError(
            f"{actor.username} ({actor.role}) may not {operation.replace('_', ' ')}",
            expected=f"a user with one of the roles {who}",
            hint="ask someone who holds such a role, or an admin to grant it",
        )


def require_site(actor: Actor, site_id: int, what: str) -> None:
    """A site-bound actor acts only on its own site's participants."""
    if actor.site_id is not None and actor.site_id != site_id:
        raise PermissionDeniedError(
            f"{actor.username} ({actor.role}) works at another site than {what}",
            expected="a participant of the actor's own site",
            hint="act as a user of that site, or with a study-wide role",
        )


def access_matrix() -> list[dict[str, object]]:
    """The table as rows: ``{"operation": ..., "<role>": bool, ...}`` (for docs and the web)."""
    return [
        {"operation": operation, **{role: role in roles for role in ROLES}}
        for operation, roles in ACCESS.items()
    ]


def access_matrix_markdown() -> str:
    """The table as Markdown (what ``docs/services.md`` shows)."""
    head = "| operation | " + " | ".join(ROLES) + " |"
    rule = "|---|" + "---|" * len(ROLES)
    lines = [head, rule]
    for row in access_matrix():
        marks = ["✓" if row[role] else "" for role in ROLES]
        lines.append(f"| `{row['operation']}` | " + " | ".join(marks) + " |")
    return "\n".join(lines)
