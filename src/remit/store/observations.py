"""What the web servers saw of their requests, for ``remit doctor`` (migration 0020).

``server_observation`` holds one row per observation name, overwritten: the scheme the last
requests arrived with (``https`` when the server saw HTTPS itself or through a trusted proxy's
``X-Forwarded-Proto``), the ``X-Forwarded-Proto`` header sent, which host wrote it and when.
The web app writes it when a value changes and otherwise at most every few minutes per process,
so it costs nothing per request. Not in the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Engine, String, Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column

from remit.store.engine import write_engine
from remit.store.tables import Base
from remit.store.types import UTCDateTime


class ServerObservation(Base):
    """One named thing a web server observed, with when and where."""

    __tablename__ = "server_observation"
    __audited__ = False

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    host: Mapped[str] = mapped_column(String(200))
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime)


_TABLE = cast(Table, ServerObservation.__table__)


@dataclass(frozen=True)
class Observation:
    """A stored observation: its value, the host that saw it and when."""

    name: str
    value: str
    host: str
    observed_at: datetime


def record_observations(
    engine: Engine, values: dict[str, str], *, host: str, now: datetime
) -> None:
    """Store (overwrite) the observations ``values`` (name → value) seen by ``host``."""
    if not values:
        return
    with write_engine(engine).begin() as connection:
        make = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
        for name, value in values.items():
            row = {"name": name[:64], "value": value[:200], "host": host[:200], "observed_at": now}
            statement = make(_TABLE).values(**row)
            connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[_TABLE.c.name],
                    set_={k: v for k, v in row.items() if k != "name"},
                )
            )


def read_observations(engine: Engine) -> dict[str, Observation]:
    """Every stored observation, by name."""
    with engine.connect() as connection:
        rows = connection.execute(select(_TABLE)).all()
    return {r.name: Observation(r.name, r.value, r.host, r.observed_at) for r in rows}
