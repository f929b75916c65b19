"""Reading the audit trail: the whole history, one record's history, the hash-chain check,
anchors.

:func:`audit_history` is for a person acting through the app (access-checked, own site only).
:func:`audit_log` (the history, oldest first, optionally of one participant, table or
record) and :func:`verify_audit_chain` (walk the hash chain; the result names the first row that
does not fit) are the store's own, re-exported: they read the database as its owner does, with
no acting user, for ``remit audit`` on the server and for exports that choose their rows
themselves.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from remit.errors import InputError, PermissionDeniedError
from remit.services.access import allowed, require_site
from remit.services.blinding import (
    PriorScores,
    SafetyBlind,
    blinded_audit,
    check_dosing_audit,
)
from remit.services.unit import reading
from remit.store import (
    Actor,
    AuditAnchor,
    AuditEntry,
    AuditKeyRing,
    AuditVerifyResult,
    StateDifference,
    audit_keys_of,
    audit_log,
    default_key_file,
    get_participant,
    load_key_ring,
    make_anchor,
    require_matching_keys,
    rotate_key_file,
    verify_audit,
    verify_audit_chain,
    with_audit_keys,
)

__all__ = [
    "AUDIT_HIDDEN_TABLES",
    "AnchorJob",
    "AnchorPass",
    "AuditAnchor",
    "AuditEntry",
    "AuditKeyRing",
    "AuditVerifyResult",
    "StateDifference",
    "anchor_audit",
    "audit_history",
    "audit_keys_of",
    "audit_log",
    "default_key_file",
    "load_key_ring",
    "read_anchor",
    "require_matching_keys",
    "rotate_key_file",
    "verify_audit",
    "verify_audit_chain",
    "with_audit_keys",
    "write_anchor",
]

#: Tables whose audit rows :func:`audit_history` never shows (identifying data, accounts).
AUDIT_HIDDEN_TABLES = frozenset(
    {"participant_identity", "identity_access_log", "user_account", "user_role"}
)


def audit_history(engine: Engine, actor: Actor, table: str, record_id: int) -> list[AuditEntry]:
    """The audit rows of one record, oldest first, for someone who may view participants.

    A site-bound user sees only records of their site's participants; identity and account
    tables are never shown here.
    """
    if not allowed("view_participants", actor.role):
        raise PermissionDeniedError(
            f"{actor.username} ({actor.role}) may not view audit histories",
            expected="a role that may view participants",
        )
    if table in AUDIT_HIDDEN_TABLES:
        raise PermissionDeniedError(
            f"the audit history of {table} is not shown in the web app",
            hint="use `remit audit` on the server",
        )
    with reading(engine, actor, "view_participants", "audit_history") as r:
        entries = audit_log(engine, table=table, record_id=record_id)
        for participant_id in {e.participant_id for e in entries if e.participant_id is not None}:
            found = get_participant(r.session, participant_id)
            require_site(actor, found.site_id, found.study_id)  # another site's participant
        if actor.site_id is not None and any(e.participant_id is None for e in entries):
            entries = [e for e in entries if e.participant_id is not None]
        if entries:
            entries = SafetyBlind.in_force(r.session, actor).audit(r, entries)
            check_dosing_audit(r, actor, entries)  # the rater blind to dosing
            entries = PriorScores.in_force(r.session, actor).audit(r.session, entries)
            entries = blinded_audit(r.session, actor, entries)  # no dose in mg
        return r.returning(entries)


def write_anchor(anchor: AuditAnchor, out: Path) -> Path:
    """Write ``anchor`` as JSON to the file ``out`` (refusing to overwrite one); the path.

    Written to a temporary file, synced, then renamed: a crash leaves no half-written anchor.
    """
    if out.exists():
        raise InputError(
            f"{out} exists already",
            expected="a new file for the anchor",
            hint="anchors are kept, not replaced: choose another name",
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with partial.open("w", encoding="utf-8") as file:
        json.dump(anchor.to_dict(), file, indent=2, sort_keys=True)
        file.write("\n")
        file.flush()
        os.fsync(file.fileno())
    os.replace(partial, out)
    return out


def anchor_audit(engine: Engine, out: Path, *, now: datetime | None = None) -> AuditAnchor:
    """Anchor the audit chain's head now (signed with the engine's current audit key) into
    the new file ``out``; the anchor. Keep the file away from the database."""
    anchor = make_anchor(engine, now=now)
    write_anchor(anchor, out)
    return anchor


def read_anchor(path: Path) -> AuditAnchor:
    """The anchor in file ``path``; one clear error when it is missing or not an anchor."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            f"there is no anchor file at {path}",
            expected="a file written by `remit audit anchor`",
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(
            f"anchor file {path} cannot be read: {error}",
            expected="a JSON file written by `remit audit anchor`",
        ) from None
    return AuditAnchor.from_dict(data, f"anchor file {path}")


@dataclass(frozen=True)
class AnchorPass:
    """What one pass of the periodic anchoring job did: the file written, or why none."""

    written: Path | None = None
    anchor: AuditAnchor | None = None
    note: str = ""

    @property
    def idle(self) -> bool:
        """Whether nothing was written (the server's log leaves such passes out)."""
        return self.written is None

    def summary(self) -> str:
        """One line for the loop's log."""
        if self.written is None or self.anchor is None:
            return self.note or "no anchor written"
        return f"audit head {self.anchor.head_id} anchored in {self.written}"


class AnchorJob:
    """Periodic job (:data:`remit.services.PERIODIC_JOBS` shape) writing anchors to a folder.

    Writes ``audit-anchor-<UTC time>-<head id>.json`` into ``folder`` when the audit head moved
    since the last anchor and at least ``every_s`` seconds have passed (the first pass always
    anchors). Keep the folder on another machine or disk than the database, or copy it away.
    """

    def __init__(self, folder: Path, every_s: float = 300.0) -> None:
        if every_s <= 0:
            raise InputError(f"anchor interval {every_s} s is not positive", expected="seconds > 0")
        self.folder = folder
        self.every_s = every_s
        self._last_at: datetime | None = None
        self._last_head: int | None = None

    def __call__(self, context: Any) -> AnchorPass:
        engine: Engine = context.engine
        now: datetime = context.now
        if self._last_at is not None and (now - self._last_at).total_seconds() < self.every_s:
            return AnchorPass(note="not due")
        anchor = make_anchor(engine, now=now)
        if anchor.head_id == self._last_head:
            self._last_at = now
            return AnchorPass(note="audit head unchanged")
        stamp = now.strftime("%Y%m%dT%H%M%S%fZ")
        written = write_anchor(anchor, self.folder / f"audit-anchor-{stamp}-{anchor.head_id}.json")
        self._last_at, self._last_head = now, anchor.head_id
        return AnchorPass(written, anchor)
