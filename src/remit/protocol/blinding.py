"""Who is blind to the allocation: the protocol's ``[blinding]`` table (issue 14).

A randomised protocol names the roles that must not learn a participant's arm
(``blinded_roles``); every other role is unblinded. For a blinded role no page, API response,
export, report, error message or audit view shows the arm, the kit's content or a dose in mg
(:mod:`remit.services.blinding` masks them). Two further switches say what the independent
rater may read: earlier scores of the scales they rate (``rater_sees_prior_scores``) and the
dosing data (``rater_sees_dosing``) and the safety data (``rater_sees_safety``: adverse
events, vital signs, concomitant medications, clinical results, and the free-text reasons and
queries that may quote them or a score); all are off unless the protocol allows them.

An open-label protocol has no ``[blinding]`` table: nobody is blinded.

Examples
--------
>>> from remit.protocol import load_protocol
>>> b = load_protocol("mdma-mdd-rct-example").blinding
>>> b.blinds("independent_rater"), b.blinds("unblinded_statistician")
(True, False)
>>> b.rater_sees_prior_scores, b.rater_sees_dosing, b.rater_sees_safety
(False, False, False)
>>> b.hides_safety_from("independent_rater"), b.hides_safety_from("investigator")
(True, False)
>>> load_protocol("oslo-mdma-mdd").blinding is None
True
"""

from __future__ import annotations

from pydantic import Field

from remit.protocol._base import _Model
from remit.protocol.roles import UNBLINDED_ROLES, Role

#: The roles that may never be declared blinded: they hold the list.
NEVER_BLINDED: frozenset[str] = frozenset(r.value for r in UNBLINDED_ROLES)


class Blinding(_Model):
    """The protocol's ``[blinding]`` table.

    ``blinded_roles`` are role names of :class:`~remit.protocol.roles.Role`; the unblinded
    statistician cannot be one of them (checked, ``P041``). ``emergency_unblinding`` names who
    may break the blind of one participant in an emergency (investigators by default).
    """

    blinded_roles: tuple[str, ...] = Field(min_length=1)
    rater_sees_prior_scores: bool = False
    rater_sees_dosing: bool = False
    #: Whether the independent rater may read the safety data: adverse events, vital signs,
    #: concomitant medications, clinical results (MDMA's raised blood pressure and heart rate,
    #: jaw clenching, insomnia or a new antidepressant tell the arm or the course of the
    #: illness), and the free text that may quote them or a score (status reasons, visit
    #: deviations, data queries).
    rater_sees_safety: bool = False
    emergency_unblinding: tuple[str, ...] = (Role.INVESTIGATOR.value,)
    assumption: str | None = None

    def blinds(self, role: str) -> bool:
        """Whether ``role`` is blind to the allocation."""
        return role in self.blinded_roles

    def hides_safety_from(self, role: str) -> bool:
        """Whether ``role`` is the independent rater kept blind to the safety data (listed in
        ``blinded_roles`` and ``rater_sees_safety`` false)."""
        return (
            role == Role.INDEPENDENT_RATER.value
            and self.blinds(role)
            and not self.rater_sees_safety
        )
