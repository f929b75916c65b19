"""The ePRO tables: single-use links to a participant's self-report forms, and the
participant's ePRO preferences (interface language, optional e-mail address for reminders).

``epro_link`` holds one row per link a member of staff issued (by e-mail or on the site's
tablet, ``mode``): the participant, the visit, the scales asked, when it expires, when it was
used (all forms submitted; ``None`` while open) and the SHA-256 of its token. The token itself
is never stored: whoever reads the database cannot open a link. A reminder gives the link a
new token (the old one stops working) so that the e-mail can carry a working address.

``participant_epro`` holds the participant's interface language (``nb`` or ``en``) and, only
when the site chooses to send e-mail reminders, their e-mail address (identifying: redacted in
the audit trail, which records only that it changed).

Both tables are audited like every clinical table; the token hash is redacted in the audit
trail too.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from remit.store.tables import Base, ProtocolTagged, _fk
from remit.store.types import JSONType, UTCDateTime, utc_now

#: How a link reaches the participant: a link (by e-mail, text message, on paper) or the
#: site's tablet handed over by a member of staff.
EPRO_MODES = ("link", "handover")
#: Interface languages of the participant pages.
EPRO_LANGUAGES = ("nb", "en")


class EproLink(ProtocolTagged, Base):
    """One single-use, expiring link to a participant's self-report forms at a visit."""

    __tablename__ = "epro_link"
    __audit_redact__ = frozenset({"token_sha256"})
    __table_args__ = (
        Index("ix_epro_link_participant_visit", "participant_id", "visit_id"),
        CheckConstraint("mode IN ('link', 'handover')", name="mode_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = _fk("participant.id", index=False)
    visit_id: Mapped[int] = _fk("visit.id", index=False)
    scales: Mapped[list[str]] = mapped_column(JSONType)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    mode: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8))
    window_reason: Mapped[str | None] = mapped_column(Text)
    issued_by: Mapped[int | None] = _fk("user_account.id", nullable=True, index=False)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ParticipantEpro(Base):
    """A participant's ePRO preferences: language, and the e-mail address when the site sends
    reminders (else ``None``)."""

    __tablename__ = "participant_epro"
    __audit_redact__ = frozenset({"email"})

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("participant.id", ondelete="RESTRICT"), unique=True
    )
    language: Mapped[str] = mapped_column(String(8))
    email: Mapped[str | None] = mapped_column(String(254))
