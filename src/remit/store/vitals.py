"""Vital-sign tables: a reading (``vital_sign``) and one row per sign read (``vital_sign_value``).

A reading is one moment of one participant (at a visit, at a dosing visit in its session): when,
how long after the initial dose, who recorded it. Each sign measured then is a row of
``vital_sign_value`` under the sign's code from :data:`remit.protocol.VITAL_SIGNS`, which a
CHECK constraint enforces; any sign the vocabulary declares can be stored, none other.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Enum, Float, ForeignKey, Index, Integer, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from remit.protocol.vital_signs import VITAL_SIGN_CODES, VITAL_SIGNS, VitalSign
from remit.store.tables import Base, ProtocolTagged, _fk
from remit.store.types import UTCDateTime


class VitalSignReading(ProtocolTagged, Base):
    """One reading of vital signs at one moment (of a dosing session or a visit).

    The values are the ``vital_sign_value`` rows of the reading (:func:`reading_values`).
    """

    __tablename__ = "vital_sign"
    __table_args__ = (Index("ix_vital_sign_participant_measured", "participant_id", "measured_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = _fk("participant.id", index=False)
    dosing_session_id: Mapped[int | None] = _fk("dosing_session.id", nullable=True)
    visit_id: Mapped[int | None] = _fk("visit.id", nullable=True)
    measured_at: Mapped[datetime] = mapped_column(UTCDateTime)
    minutes_after_dose: Mapped[int | None] = mapped_column(Integer)
    recorded_by: Mapped[int | None] = _fk("user_account.id", nullable=True, index=False)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)


class VitalSignValue(Base):
    """The value of one sign in one reading, in the sign's unit."""

    __tablename__ = "vital_sign_value"
    __table_args__ = (UniqueConstraint("vital_sign_id", "sign"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    vital_sign_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("vital_sign.id", ondelete="RESTRICT"), nullable=False
    )
    sign: Mapped[str] = mapped_column(
        Enum(
            *VITAL_SIGN_CODES,
            name="vital_sign_code",
            native_enum=False,
            create_constraint=True,
            length=32,
            validate_strings=True,
        )
    )
    value: Mapped[float] = mapped_column(Float)


def as_stored(sign: VitalSign, value: float) -> float | int:
    """``value`` as a reading of ``sign`` is given back: a whole number for integer signs."""
    return int(value) if VITAL_SIGNS[sign].integer else float(value)


def reading_values(
    session: Session, reading_ids: Iterable[int] | None = None
) -> dict[int, dict[VitalSign, float | int]]:
    """Reading id → {sign: value} (signs in vocabulary order), for ``reading_ids`` or all."""
    query = select(VitalSignValue.vital_sign_id, VitalSignValue.sign, VitalSignValue.value)
    if reading_ids is not None:
        query = query.where(VitalSignValue.vital_sign_id.in_(list(reading_ids)))
    found: dict[int, dict[VitalSign, float | int]] = {}
    rank = {code: i for i, code in enumerate(VITAL_SIGN_CODES)}
    rows = sorted(session.execute(query), key=lambda r: (r[0], rank[r[1]]))  # type: ignore[index]
    for reading, sign, value in rows:
        code: VitalSign = sign  # type: ignore[assignment]  # the CHECK constraint allows no other
        found.setdefault(reading, {})[code] = as_stored(code, value)
    return found


__all__ = ["VitalSignReading", "VitalSignValue", "as_stored", "reading_values"]
