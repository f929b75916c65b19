"""The ``consent`` table: one row per consent a participant gave to a version of the form.

A row says which version of the protocol's consent form (:mod:`remit.protocol.consent`) was
signed, the components agreed to, when (``consented_at``, the clinical time, UTC), who obtained
it and when it was entered. A withdrawal is written on the row it withdraws: ``withdrawn_at``,
its scope (:class:`~remit.protocol.consent.WithdrawalScope`: ``full`` or ``partial``), the
components withdrawn and the reason. Re-consent to a newer version is a new row. Like every
clinical table it is audited field by field; changing a stored row needs a reason, except
recording its withdrawal.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Enum, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from remit.protocol.consent import WithdrawalScope
from remit.protocol.status import values
from remit.store.tables import Base, ProtocolTagged, _fk
from remit.store.types import JSONType, UTCDateTime, utc_now


class Consent(ProtocolTagged, Base):
    """One informed consent (and its withdrawal, if any)."""

    __tablename__ = "consent"
    __table_args__ = (Index("ix_consent_participant_consented", "participant_id", "consented_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = _fk("participant.id", index=False)
    version: Mapped[str] = mapped_column(String(32))
    components: Mapped[list[str]] = mapped_column(JSONType)
    consented_at: Mapped[datetime] = mapped_column(UTCDateTime)
    obtained_by: Mapped[int | None] = _fk("user_account.id", nullable=True, index=False)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawal_scope: Mapped[str | None] = mapped_column(
        Enum(
            *values(WithdrawalScope),
            name="withdrawal_scope",
            native_enum=False,
            create_constraint=True,
            length=32,
            validate_strings=True,
        )
    )
    withdrawn_components: Mapped[list[Any] | None] = mapped_column(JSONType)
    withdrawal_reason: Mapped[str | None] = mapped_column(Text)
    withdrawal_recorded_by: Mapped[int | None] = _fk("user_account.id", nullable=True, index=False)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
