"""Anchors: signed checkpoints of the audit chain's head, kept outside the database.

An anchor records the id and hash of the newest audit row, how many rows there were and when,
signed (HMAC-SHA256) with the current audit key. Kept elsewhere (a file, a ticket, an e-mail),
it lets :func:`remit.store.verify_audit_chain` detect what the keyed chain alone cannot: rows
deleted from the end, and a history rewritten by someone who holds the key.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select

from remit.errors import InputError
from remit.store.audit_keys import AuditKeyRing, audit_keys_of
from remit.store.canonical import iso_utc
from remit.store.tables import AuditEvent
from remit.store.types import utc_now

#: The ``format`` of an anchor file.
ANCHOR_FORMAT = "remit-audit-anchor/1"

_FIELDS = ("format", "database", "head_id", "head_hash", "row_count", "created_at", "key_id")


@dataclass(frozen=True)
class AuditAnchor:
    """A signed checkpoint of the audit chain (see the module docstring).

    ``head_id`` is 0 and ``head_hash`` empty for an empty trail.
    """

    database: str
    head_id: int
    head_hash: str
    row_count: int
    created_at: str
    key_id: str
    signature: str
    format: str = ANCHOR_FORMAT

    def signed_content(self) -> dict[str, Any]:
        """What the signature covers (every field but the signature)."""
        data = asdict(self)
        del data["signature"]
        return data

    def to_dict(self) -> dict[str, Any]:
        """The anchor as a JSON-ready dictionary (what an anchor file holds)."""
        return asdict(self)

    def describe(self) -> str:
        """Short name for messages."""
        return f"anchor of {self.created_at} (head {self.head_id})"

    @classmethod
    def from_dict(cls, data: Any, source: str = "anchor") -> AuditAnchor:
        """An anchor from its dictionary; one clear error when it is not one."""
        expected = "a JSON object written by `remit audit anchor`"
        if not isinstance(data, dict) or data.get("format") != ANCHOR_FORMAT:
            raise InputError(f"{source} is not a Remit audit anchor", expected=expected)
        missing = [name for name in (*_FIELDS, "signature") if name not in data]
        if missing:
            raise InputError(f"{source} lacks {', '.join(missing)}", expected=expected)
        try:
            return cls(
                database=str(data["database"]),
                head_id=int(data["head_id"]),
                head_hash=str(data["head_hash"]),
                row_count=int(data["row_count"]),
                created_at=str(data["created_at"]),
                key_id=str(data["key_id"]),
                signature=str(data["signature"]),
            )
        except (TypeError, ValueError) as error:
            raise InputError(
                f"{source} has a malformed field: {error}", expected=expected
            ) from None


def make_anchor(
    engine: Engine, *, now: datetime | None = None, keys: AuditKeyRing | None = None
) -> AuditAnchor:
    """A signed anchor of the audit chain's head as it is now (one consistent read)."""
    ring = keys if keys is not None else audit_keys_of(engine)
    with engine.connect() as connection:
        head = connection.execute(
            select(AuditEvent.id, AuditEvent.row_hash).order_by(AuditEvent.id.desc()).limit(1)
        ).first()
        count = int(connection.execute(select(func.count()).select_from(AuditEvent)).scalar_one())
    return sign_anchor(
        ring,
        database=engine.url.render_as_string(hide_password=True),
        head_id=0 if head is None else int(head[0]),
        head_hash="" if head is None else str(head[1]),
        row_count=count,
        now=now,
    )


def sign_anchor(
    ring: AuditKeyRing,
    *,
    database: str,
    head_id: int,
    head_hash: str,
    row_count: int,
    now: datetime | None = None,
) -> AuditAnchor:
    """An anchor of the given head, signed with the ring's current key (for a head read some
    other way than :func:`make_anchor` reads it, such as from a backup copy)."""
    unsigned = AuditAnchor(
        database=database,
        head_id=head_id,
        head_hash=head_hash,
        row_count=row_count,
        created_at=iso_utc(now or utc_now()),
        key_id=ring.current_id,
        signature="",
    )
    signature = ring.sign(ring.current_id, unsigned.signed_content())
    return AuditAnchor(**{**unsigned.signed_content(), "signature": signature})
