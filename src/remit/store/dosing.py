"""The dosing-day tables: a participant's dosing sessions and their doses.

Vital signs taken on the day are in :mod:`remit.store.vitals`.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, Float, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from remit.protocol.status import DoseKind, DoseStatus, DosingSessionStatus, FollowUpCallStatus
from remit.store.tables import Base, ProtocolTagged, ReasonRule, _choice, _fk
from remit.store.types import UTCDateTime


class DosingSession(ProtocolTagged, Base):
    """One dosing day of one participant: its discharge sign-off and its next-day follow-up
    call (scheduled when the session ends)."""

    __tablename__ = "dosing_session"
    __table_args__ = (UniqueConstraint("participant_id", "session_number"),)
    __reason_rule__ = ReasonRule(statuses=frozenset({DosingSessionStatus.COMPLETED}))

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = _fk("participant.id")
    visit_id: Mapped[int | None] = _fk("visit.id", nullable=True)
    session_number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(
        _choice(DosingSessionStatus, "dosing_session_status"),
        default=DosingSessionStatus.PLANNED.value,
    )
    notes: Mapped[str | None] = mapped_column(Text)
    discharge_signed_off_by: Mapped[int | None] = _fk("user_account.id", nullable=True, index=False)
    discharge_signed_off_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    discharge_note: Mapped[str | None] = mapped_column(Text)
    follow_up_due_date: Mapped[date | None] = mapped_column(Date)
    follow_up_status: Mapped[str | None] = mapped_column(
        _choice(FollowUpCallStatus, "follow_up_call_status"), nullable=True
    )
    follow_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    follow_up_by: Mapped[int | None] = _fk("user_account.id", nullable=True, index=False)
    follow_up_note: Mapped[str | None] = mapped_column(Text)


class Dose(ProtocolTagged, Base):
    """An initial or supplemental dose: given, offered or withheld (with reasons)."""

    __tablename__ = "dose"
    __table_args__ = (CheckConstraint("dose_mg >= 0", name="dose_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dosing_session_id: Mapped[int] = _fk("dosing_session.id")
    kind: Mapped[str] = mapped_column(_choice(DoseKind, "dose_kind"))
    dose_mg: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(_choice(DoseStatus, "dose_status"))
    offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    given_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withheld_reason: Mapped[str | None] = mapped_column(Text)
    override_reason: Mapped[str | None] = mapped_column(Text)
    override_by: Mapped[int | None] = _fk("user_account.id", nullable=True, index=False)
    recorded_by: Mapped[int | None] = _fk("user_account.id", nullable=True, index=False)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)


__all__ = ["Dose", "DosingSession"]
