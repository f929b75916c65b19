"""The alert delivery log: every attempt to tell someone of an alert (append-only).

One row per event of an attempt: ``sending`` is written (and committed) before a message goes
out, ``sent`` or ``failed`` after. The unique key ``(alert_id, step, recipient, attempt,
outcome)`` is the claim: a second worker trying the same attempt of the same step for the same
person fails to insert its ``sending`` row and sends nothing. A step that reached nobody gets
one ``undeliverable`` row (``recipient`` empty), written with the alert it raises. The database
refuses UPDATE and DELETE of the table (triggers, revision 0008), like the audit trail.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from remit.store.tables import EMAIL_LENGTH, Base, _choice, _fk
from remit.store.types import UTCDateTime
from remit.store.vocab import DeliveryOutcome

#: ``recipient`` of a row about no one in particular (a step that reached nobody).
NOBODY = ""


class AlertDelivery(Base):
    """One event of one attempt to deliver one step of an alert to one person."""

    __tablename__ = "alert_delivery"
    __audited__ = False
    __table_args__ = (UniqueConstraint("alert_id", "step", "recipient", "attempt", "outcome"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = _fk("alert.id")
    step: Mapped[int] = mapped_column(Integer)
    recipient: Mapped[str] = mapped_column(String(100))
    recipient_user_id: Mapped[int | None] = _fk("user_account.id", nullable=True, index=False)
    channel: Mapped[str] = mapped_column(String(32))
    address: Mapped[str | None] = mapped_column(String(EMAIL_LENGTH))
    attempt: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(_choice(DeliveryOutcome, "delivery_outcome"))
    error: Mapped[str | None] = mapped_column(Text)
    attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
