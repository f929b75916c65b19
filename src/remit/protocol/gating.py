"""Which visits a participant's status allows data for: the one rule the services apply when a
form, a visit date, a dosing session or a vital-sign reading is recorded.

The rule is a table from :class:`~remit.protocol.status.ParticipantStatus` to the visit
``kind`` values of the protocol (:data:`remit.protocol.vocab.VisitKind`):

* ``screening`` — screening visits only;
* ``eligible`` — screening visits and the enrolment visit (enrolment happens there);
* enrolled, on study, in follow-up, completed, lost to follow-up — every visit (data of an
  earlier visit may still be entered late);
* ``ineligible``, ``withdrawn`` — nothing; except safety readings (vital signs): a withdrawn
  participant's safety follow-up goes on at every visit (``safety=True``).

Examples
--------
>>> sorted(visit_kinds_allowed("eligible"))
['enrolment', 'screening']
>>> visit_kinds_allowed("withdrawn")
frozenset()
"""

from __future__ import annotations

from typing import get_args

from remit.errors import InputError
from remit.protocol.status import ParticipantStatus
from remit.protocol.vocab import VisitKind

__all__ = ["check_visit_allowed", "visit_kinds_allowed"]

_S = ParticipantStatus
_ALL: frozenset[str] = frozenset(get_args(VisitKind))
_SCREENING: frozenset[str] = frozenset({"screening"})

_ALLOWED: dict[ParticipantStatus, frozenset[str]] = {
    _S.SCREENING: _SCREENING,
    _S.ELIGIBLE: _SCREENING | {"enrolment"},
    _S.ENROLLED: _ALL,
    _S.ON_STUDY: _ALL,
    _S.IN_FOLLOW_UP: _ALL,
    _S.COMPLETED: _ALL,
    _S.LOST_TO_FOLLOW_UP: _ALL,
    _S.INELIGIBLE: frozenset(),
    _S.WITHDRAWN: frozenset(),
}

_WHAT_TO_DO: dict[ParticipantStatus, str] = {
    _S.SCREENING: "complete screening and the eligibility decision first",
    _S.ELIGIBLE: "enrol the participant at the enrolment visit first",
    _S.INELIGIBLE: "a participant who failed screening takes no further part",
    _S.WITHDRAWN: "a withdrawn participant takes no further part",
}


def visit_kinds_allowed(status: str, *, safety: bool = False) -> frozenset[str]:
    """The visit kinds whose data a participant in ``status`` may have recorded; with
    ``safety`` the kinds for safety readings (vital signs), which go on after a withdrawal.

    Examples
    --------
    >>> "dosing" in visit_kinds_allowed("on_study"), "dosing" in visit_kinds_allowed("eligible")
    (True, False)
    >>> "baseline" in visit_kinds_allowed("withdrawn", safety=True)
    True
    """
    try:
        if safety and ParticipantStatus(status) == _S.WITHDRAWN:
            return _ALL
        return _ALLOWED[ParticipantStatus(status)]
    except ValueError:
        raise InputError(
            f"participant status {status!r} is unknown",
            expected="one of " + ", ".join(s.value for s in ParticipantStatus),
        ) from None


def check_visit_allowed(
    status: str, study_id: str, visit_code: str, kind: str, what: str, *, safety: bool = False
) -> None:
    """Refuse ``what`` (e.g. ``"a madrs form"``) at a visit of ``kind`` for a participant in
    ``status``, with what is allowed and what to do.

    Examples
    --------
    >>> try:
    ...     check_visit_allowed("screening", "OST-001", "V3", "baseline", "a madrs form")
    ... except InputError as e:
    ...     print(e.message); print(e.expected); print(e.hint)
    OST-001 is screening: a madrs form at V3 (a baseline visit) cannot be recorded yet
    data of screening visits only
    complete screening and the eligibility decision first
    """
    allowed = visit_kinds_allowed(status, safety=safety)
    if kind in allowed:
        return
    state = ParticipantStatus(status)
    final = not allowed
    verb = "cannot be recorded" if final else "cannot be recorded yet"
    kinds = " and ".join(k for k in get_args(VisitKind) if k in allowed)
    raise InputError(
        f"{study_id} is {status}: {what} at {visit_code} (a {kind} visit) {verb}",
        expected=f"data of {kinds} visits only" if kinds else "no more data",
        hint=_WHAT_TO_DO.get(state, "check the participant's status"),
    )
