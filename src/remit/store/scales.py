"""Scale definitions held in the trial database (``trial_scale``).

A scale of one's own (say, imported from a REDCap data dictionary) can live in the trial
database instead of a directory named by ``REMIT_SCALES_PATH``: one row per revision of a
definition — its code, the revision number (1, 2, …), the TOML text, its SHA-256, where it came
from, who added it and when. Rows are never changed: a corrected definition is a new revision
(refused by the service once a form uses the scale). The table is audited.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from remit.store.tables import Base, _fk
from remit.store.types import UTCDateTime, utc_now


class TrialScale(Base):
    """One revision of a scale definition kept in the trial database."""

    __tablename__ = "trial_scale"
    __table_args__ = (
        UniqueConstraint("code", "revision"),
        CheckConstraint("revision >= 1", name="revision_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(Integer)
    definition: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(300))
    added_by: Mapped[int | None] = _fk("user_account.id", nullable=True, index=False)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
