"""Roles of the people who work on a trial (the user roles of the store and the web app).

A protocol names who rates each form with its own words (:data:`~remit.protocol.vocab.Rater`);
who may do what is the access table of :mod:`remit.services.access`, keyed by these roles.

Examples
--------
>>> Role("independent_rater").name
'INDEPENDENT_RATER'
>>> Role.INVESTIGATOR in IDENTITY_ROLES, SYSTEM_ROLE in set(Role)
(True, False)
>>> [m.value for m in SIGNATURE_MEANINGS[Role.INDEPENDENT_RATER]]
['author']
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class Role(StrEnum):
    """What a user may do, study-wide or at one site."""

    INVESTIGATOR = "investigator"
    THERAPIST = "therapist"
    INDEPENDENT_RATER = "independent_rater"
    MONITOR = "monitor"
    STATISTICIAN = "statistician"
    #: The statistician who generates the randomisation list and sees the allocations (arms,
    #: balance); everyone else is blind to them.
    UNBLINDED_STATISTICIAN = "unblinded_statistician"
    DATA_MANAGER = "data_manager"
    ADMIN = "admin"


#: The pseudo-role of work done by Remit itself (initialising a study, migrations, simulation).
#: It is not a :class:`Role`: no user holds it and no one logs in with it.
SYSTEM_ROLE = "system"

#: The pseudo-role of a participant answering their own self-report forms through an ePRO link
#: (:mod:`remit.services.epro`): no user account; the link's token is the authority, and the
#: audit trail records the participant as the source of what they enter.
PARTICIPANT_ROLE = "participant"
#: Roles that may see allocated arms (the randomisation list, the balance by arm).
UNBLINDED_ROLES: frozenset[Role] = frozenset({Role.UNBLINDED_STATISTICIAN})

#: Roles allowed to read a participant's identity (name, national ID, contact).
IDENTITY_ROLES: frozenset[Role] = frozenset({Role.INVESTIGATOR, Role.ADMIN})


class SignatureMeaning(StrEnum):
    """What an electronic signature says (21 CFR 11.50: every signature states its meaning)."""

    #: "I entered or rated this record": only the person who did.
    AUTHOR = "author"
    #: The investigator's review and approval of a record (whoever entered it).
    APPROVED = "approved"
    #: A monitor's review (e.g. source data verified); it approves nothing.
    REVIEWED = "reviewed"


#: The meanings each role may sign with (a role not listed signs nothing). ``author`` also
#: needs the signer to be the person who entered the record (checked by the signing service).
SIGNATURE_MEANINGS: Mapping[Role, tuple[SignatureMeaning, ...]] = {
    Role.INVESTIGATOR: (SignatureMeaning.APPROVED, SignatureMeaning.AUTHOR),
    Role.THERAPIST: (SignatureMeaning.AUTHOR,),
    Role.INDEPENDENT_RATER: (SignatureMeaning.AUTHOR,),
    Role.MONITOR: (SignatureMeaning.REVIEWED,),
}
