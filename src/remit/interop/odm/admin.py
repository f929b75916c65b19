"""ODM ``<AdminData>``: the users and locations the audit records of a file refer to.

Every ``UserRef`` and ``LocationRef`` of a file resolves to a ``User`` or ``Location`` here.
Users and sites are read from the audit trail itself (the rows of ``user_account``,
``user_role`` and ``site``), so a user whose account is gone is still named; a user is
described by login name, full name, the roles they acted in (``DisplayName``) and the sites
they hold roles at (``LocationRef``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from remit.interop.odm.base import ODM_NS, el, oid
from remit.protocol import Protocol
from remit.protocol.roles import Role

_N = f"{{{ODM_NS}}}"

#: The location of study-wide work (a role held at no site).
STUDY_LOCATION = "STUDY"

#: The user Remit itself acts as (audit rows without a user ID).
SYSTEM_USER = "SYSTEM"


@lru_cache(maxsize=4096)
def user_oid(user_id: int | None) -> str:
    """The ODM ``User`` OID of an audit row's user (``USR.SYSTEM`` for Remit itself)."""
    return oid("USR", SYSTEM_USER if user_id is None else str(user_id))


@lru_cache(maxsize=4096)
def location_oid(site: str | None) -> str:
    """The ODM ``Location`` OID of a site code (``LOC.STUDY`` for study-wide work)."""
    return oid("LOC", site or STUDY_LOCATION)


@dataclass
class _User:
    login: str
    full_name: str | None = None
    roles: list[str] = field(default_factory=list)
    sites: list[str] = field(default_factory=list)


def _directory(trail: Iterable[Any]) -> tuple[dict[str, _User], dict[str, str]]:
    """Users (by OID) and sites (code → name) as the audit trail describes them."""
    users: dict[str, _User] = {}
    sites: dict[int, dict[str, Any]] = {}
    roles: dict[int, dict[str, Any]] = {}
    for e in trail:
        if e.table_name == "site" and e.field is not None:
            sites.setdefault(e.record_id, {})[e.field] = e.new_value
        elif e.table_name == "user_role" and e.field is not None:
            roles.setdefault(e.record_id, {})[e.field] = e.new_value
        elif e.table_name == "user_account" and e.field in ("username", "full_name"):
            user = users.setdefault(user_oid(e.record_id), _User(str(e.new_value)))
            if e.field == "username" and e.new_value:
                user.login = str(e.new_value)
            elif e.field == "full_name":
                user.full_name = None if e.new_value is None else str(e.new_value)
        if e.table_name not in ("user_account", "user_role"):
            user = users.setdefault(user_oid(e.user_id), _User(e.username))
            if e.role not in user.roles:
                user.roles.append(e.role)
    codes = {sid: str(s.get("code")) for sid, s in sites.items() if s.get("code")}
    for r in roles.values():
        holder = users.get(user_oid(r.get("user_id")))
        if holder is None:
            continue
        if r.get("role") and r["role"] not in holder.roles:
            holder.roles.append(str(r["role"]))
        site = codes.get(r.get("site_id") or -1)
        if site is not None and site not in holder.sites:
            holder.sites.append(site)
    names = {
        str(s["code"]): str(s.get("name") or s["code"]) for s in sites.values() if s.get("code")
    }
    return users, names


def add_admin_data(
    root: Any,
    protocol: Protocol,
    trail: Iterable[Any],
    created: datetime,
    refs: tuple[list[str], list[str]] | None = None,
) -> Any:
    """Insert ``<AdminData>`` before the ``<ClinicalData>`` of ``root``: one ``User`` for every
    ``UserRef`` and one ``Location`` for every ``LocationRef`` in the file (and for every site
    those users hold roles at). ``refs``: the user and location OIDs referred to (in the order
    of first reference), when the file's clinical data are not in ``root`` (streamed)."""
    users, site_names = _directory(trail)
    if refs is None:
        user_oids = list(dict.fromkeys(n.get("UserOID") for n in root.iter(_N + "UserRef")))
        locations = list(dict.fromkeys(n.get("LocationOID") for n in root.iter(_N + "LocationRef")))
    else:
        user_oids, locations = list(refs[0]), list(refs[1])
    for u in user_oids:
        for site in users.get(u, _User("")).sites:
            if location_oid(site) not in locations:
                locations.append(location_oid(site))
    admin = el(root, "AdminData", StudyOID=oid("ST", protocol.study.id))
    clinical = root.find(_N + "ClinicalData")
    if clinical is not None:
        clinical.addprevious(admin)
    for u in user_oids:
        user = users.get(u) or _User(u.removeprefix("USR."))
        node = el(
            admin,
            "User",
            OID=u,
            UserType="Investigator" if Role.INVESTIGATOR in user.roles else "Other",
        )
        el(node, "LoginName", user.login)
        el(node, "DisplayName", f"{user.login} ({', '.join(user.roles) or 'no role'})")
        if user.full_name:
            el(node, "FullName", user.full_name)
        for site in user.sites:
            el(node, "LocationRef", LocationOID=location_oid(site))
    by_oid = {location_oid(code): (code, name) for code, name in site_names.items()}
    for loc in locations:
        code, name = by_oid.get(loc, (STUDY_LOCATION, f"{protocol.study.id} (study-wide)"))
        node = el(
            admin,
            "Location",
            OID=loc,
            Name=name,
            LocationType="Sponsor" if code == STUDY_LOCATION else "Site",
        )
        el(
            node,
            "MetaDataVersionRef",
            StudyOID=oid("ST", protocol.study.id),
            MetaDataVersionOID=oid("MDV", protocol.study.version),
            EffectiveDate=created.strftime("%Y-%m-%d"),
        )
    return admin
