"""The demo trial database: a new SQLite file with the protocol and one demo user per role.

A database counts as a *previous demo* when every participant in it is simulated (or it holds
none yet) and its admin is the demo admin; anything else is someone's trial and is never
replaced.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from remit import services as sv
from remit.errors import InputError
from remit.protocol import Protocol
from remit.services import Actor, Engine

#: Demo users: username → (role, password). Study-wide roles, printed by ``remit demo``.
DEMO_USERS: Mapping[str, tuple[str, str]] = {
    "ada": ("admin", "remit-demo-admin"),
    "ingrid": ("investigator", "remit-demo-investigator"),
    "terje": ("therapist", "remit-demo-therapist"),
    "rune": ("independent_rater", "remit-demo-rater"),
    "mona": ("monitor", "remit-demo-monitor"),
    "stine": ("statistician", "remit-demo-statistician"),
    "dag": ("data_manager", "remit-demo-data-manager"),
}
_ADMIN = "ada"
#: The unblinded statistician added to the demo of a randomised protocol (only there).
UNBLINDED_DEMO_USER: tuple[str, str, str] = (
    "una",
    "unblinded_statistician",
    "remit-demo-unblinded-statistician",
)


@dataclass(frozen=True)
class DemoDatabase:
    """A new demo database: its path, engine, the staff actors and the demo logins."""

    path: Path
    engine: Engine
    staff: Mapping[str, Actor]
    logins: tuple[tuple[str, str, str], ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """Path and logins (username, role, password) as plain values."""
        return {
            "path": str(self.path),
            "logins": [{"username": u, "role": r, "password": p} for u, r, p in self.logins],
        }


def is_demo_database(path: Path) -> bool:
    """Whether the SQLite file at ``path`` is a previous Remit demo (see the module text)."""
    engine = sv.open_database(path, require_migrated=False)
    try:
        census = sv.database_census(engine)
        return census.first_user == _ADMIN and census.real_participants == 0
    except Exception:  # not a Remit database (or not SQLite at all): not a demo
        return False
    finally:
        sv.close_database(engine)


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def create_demo_database(path: Path, protocol: Protocol, *, force: bool = False) -> DemoDatabase:
    """Create ``path`` (SQLite) with ``protocol``, its sites and the demo users.

    An existing file is replaced only when it is a previous demo and ``force`` is true; any
    other database is refused. While the demo is built the file is written with
    ``PRAGMA synchronous = OFF`` (a crash leaves only a demo to rebuild); every later
    connection uses the store's settings (WAL, ``synchronous = FULL``).
    """
    path = Path(path)
    if path.exists():
        if not is_demo_database(path):
            raise InputError(
                f"{path} exists and is not a Remit demo database",
                expected="a new path, or a previous demo with --force",
                hint="choose another --out DIR; remit demo never replaces a real trial",
            )
        if not force:
            raise InputError(
                f"{path} holds a previous demo",
                expected="--force to replace it, or another --out DIR",
            )
        _remove(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = sv.create_database(path, durable=False)
    role, password = DEMO_USERS[_ADMIN]
    # the demo logins' published passwords have production-strength hashes shipped with
    # Remit (remit.services.demo_logins): none is computed here
    trial = sv.create_demo_trial(engine, protocol, admin_username=_ADMIN)
    admin = Actor(trial.admin.id, _ADMIN, role, None)
    staff: dict[str, Actor] = {role: admin}
    logins = [(_ADMIN, role, password)]
    users = dict(DEMO_USERS)
    if protocol.randomisation is not None:
        users[UNBLINDED_DEMO_USER[0]] = UNBLINDED_DEMO_USER[1:]
    for username, (role, password) in users.items():
        if username == _ADMIN:
            continue
        # the demo's printed logins work as they are: not forced to change the password
        user = sv.add_demo_user(engine, admin, username,
                                full_name=f"Demo {role.replace('_', ' ')}")  # fmt: skip
        staff[role] = Actor(user.id, username, role, None)
        logins.append((username, role, password))
    return DemoDatabase(path=path, engine=engine, staff=staff, logins=tuple(logins))


def close_demo_database(demo: DemoDatabase) -> None:
    """Checkpoint the WAL into the file and close every connection."""
    sv.close_database(demo.engine, checkpoint=True)
