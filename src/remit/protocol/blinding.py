"""Who is blind to the allocation: the protocol's ``[blinding]`` table (issue 14).

A randomised protocol names the roles that must not learn a participant's arm
(``blinded_roles``); every other role is unblinded. For a blinded role no page, API response,
export, report, error message or audit view shows the arm, the kit's content or a dose in mg
(:mod:`remit.services.blinding` masks them). Two further switches say what the independent
rater may read: earlier scores of the scales they rate (``rater_sees_prior_scores``) and the
dosing data (``rater_sees_dosing``); both are off unless the protocol allows them.

An open-label protocol has no ``[blinding]`` table: nobody is blinded.

Examples
--------
>>> from remit.protocol import load_protocol
>>> b = load_protocol("mdma-mdd-rct-example").blinding
>>> b.blinds("independent_rater"), b.blinds("unblinded_statistician")
(True, False)
>>> b.rater_sees_prior_scores, b.rater_sees_dosing
(False, False)
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
    emergency_unblinding: tuple[str, ...] = (Role.INVESTIGATOR.value,)
    assumption: str | None = None

    def blinds(self, role: str) -> bool:
        """Whether ``role`` is blind to the allocation."""
        return role in self.blinded_roles
