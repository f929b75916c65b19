"""Roles of the people who work on a trial (the user roles of the store and the web app).

A protocol names who rates each form with its own words (:data:`~remit.protocol.vocab.Rater`);
who may do what is the access table of :mod:`remit.services.access`, keyed by these roles.

Examples
--------
>>> Role("independent_rater").name
'INDEPENDENT_RATER'
>>> Role.INVESTIGATOR in IDENTITY_ROLES, SYSTEM_ROLE in set(Role)
(True, False)
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """What a user may do, study-wide or at one site."""

    INVESTIGATOR = "investigator"
    THERAPIST = "therapist"
    INDEPENDENT_RATER = "independent_rater"
    MONITOR = "monitor"
    STATISTICIAN = "statistician"
    DATA_MANAGER = "data_manager"
    ADMIN = "admin"


#: The pseudo-role of work done by Remit itself (initialising a study, migrations, simulation).
#: It is not a :class:`Role`: no user holds it and no one logs in with it.
SYSTEM_ROLE = "system"

#: Roles allowed to read a participant's identity (name, national ID, contact).
IDENTITY_ROLES: frozenset[Role] = frozenset({Role.INVESTIGATOR, Role.ADMIN})
