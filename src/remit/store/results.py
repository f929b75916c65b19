"""Structured clinical results and pre-dose checklist completions.

``clinical_result``: one row per result of a test the protocol declares (``[[results.tests]]``):
the participant and visit, the test code, the value (a number in ``value_number`` or an answer
in ``value_text``), the unit and normal range copied from the protocol when it was recorded,
the interpretation (:class:`~remit.protocol.results.Interpretation`), when the sample or
tracing was taken (``collected_at``, the clinical time, UTC), who recorded it and when it was
entered. A change of a stored result needs a reason.

``dosing_checklist``: one row per completed pre-dose checklist of a dosing session: each item
with its evaluated status and why (a JSON list), who completed it, the clinical time
(``completed_at``) and when it was entered. Both are audited field by field like every
clinical table.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from remit.protocol.results import Interpretation
from remit.store.tables import Base, ProtocolTagged, ReasonRule, _choice, _fk
from remit.store.types import JSONType, UTCDateTime, utc_now


class ClinicalResult(ProtocolTagged, Base):
    """One laboratory, ECG or screening-test result."""

    __tablename__ = "clinical_result"
    __table_args__ = (
        Index("ix_clinical_result_participant_test", "participant_id", "test_code", "collected_at"),
    )
    __reason_rule__ = ReasonRule(always=True)

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = _fk("participant.id", index=False)
    visit_id: Mapped[int | None] = _fk("visit.id", nullable=True)
    test_code: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    value_number: Mapped[float | None] = mapped_column(Float)
    value_text: Mapped[str | None] = mapped_column(String(64))
    unit: Mapped[str | None] = mapped_column(String(32))
    normal_low: Mapped[float | None] = mapped_column(Float)
    normal_high: Mapped[float | None] = mapped_column(Float)
    expected: Mapped[str | None] = mapped_column(String(64))
    interpretation: Mapped[str] = mapped_column(_choice(Interpretation, "result_interpretation"))
    collected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[int | None] = _fk("user_account.id", nullable=True, index=False)
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    comment: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)


class DosingChecklist(ProtocolTagged, Base):
    """One completed pre-dose checklist of a dosing session."""

    __tablename__ = "dosing_checklist"
    __reason_rule__ = ReasonRule(always=True)

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = _fk("participant.id", index=False)
    dosing_session_id: Mapped[int] = _fk("dosing_session.id")
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_by: Mapped[int | None] = _fk("user_account.id", nullable=True, index=False)
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    override_reason: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
