"""Migration 0025 gives ``participant`` race and ethnicity and ``adverse_event`` the action
taken with the study treatment: rows recorded before keep every value with the new columns
empty, the columns refuse words outside their vocabularies, and downgrade removes them; on
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, inspect
from sqlalchemy.exc import IntegrityError
from tests.support.db import participant_at

from remit.store import downgrade, make_engine, upgrade, verify_audit_chain

AE = sa.table(
    "adverse_event",
    sa.column("id", sa.Integer()),
    sa.column("participant_id", sa.Integer()),
    sa.column("term", sa.String()),
    sa.column("onset_date", sa.Date()),
    sa.column("severity", sa.String()),
    sa.column("serious", sa.Boolean()),
    sa.column("seriousness_criteria", sa.JSON()),
    sa.column("relatedness", sa.String()),
    sa.column("outcome", sa.String()),
    sa.column("awareness_at", sa.DateTime(timezone=True)),
    sa.column("protocol_version_id", sa.Integer()),
)


def _columns(engine: Engine, table: str) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns(table)}


def _event_at_0023(engine: Engine) -> tuple[int, int]:
    participant_id, version_id = participant_at(engine, "0023")
    with engine.begin() as connection:
        row = connection.execute(
            sa.insert(AE)
            .values(
                participant_id=participant_id,
                term="headache",
                onset_date=date(2024, 3, 1),
                severity="mild",
                serious=False,
                seriousness_criteria=[],
                relatedness="possible",
                outcome="recovered",
                awareness_at=datetime(2024, 3, 1, 12, tzinfo=UTC),
                protocol_version_id=version_id,
            )
            .returning(AE.c.id)
        )
        return participant_id, int(row.scalar_one())


def test_upgrade_keeps_rows_checks_words_and_downgrade_drops_the_columns(
    empty_db_url: str,
) -> None:
    engine = make_engine(empty_db_url)
    try:
        participant_id, ae_id = _event_at_0023(engine)
        people, events = _columns(engine, "participant"), _columns(engine, "adverse_event")
        upgrade(engine, "0025")
        assert _columns(engine, "participant") == people | {"race", "ethnicity"}
        assert _columns(engine, "adverse_event") == events | {"action_taken"}
        meta = sa.MetaData()
        participant = sa.Table("participant", meta, autoload_with=engine)
        ae = sa.Table("adverse_event", meta, autoload_with=engine)
        with engine.connect() as connection:
            person = connection.execute(
                sa.select(participant).where(participant.c.id == participant_id)
            ).one()
            event = connection.execute(sa.select(ae).where(ae.c.id == ae_id)).one()
        assert (person.study_id, person.race, person.ethnicity) == ("OSL-001", None, None)
        assert (event.term, event.outcome, event.action_taken) == ("headache", "recovered", None)
        with engine.begin() as connection:
            connection.execute(
                sa.update(participant)
                .where(participant.c.id == participant_id)
                .values(race="NATIVE HAWAIIAN OR OTHER PACIFIC ISLANDER", ethnicity="UNKNOWN")
            )
            connection.execute(
                sa.update(ae).where(ae.c.id == ae_id).values(action_taken="drug_interrupted")
            )
        for table, column, word in (
            (participant, "race", "Caucasian"),
            (participant, "ethnicity", "NORWEGIAN"),
            (ae, "action_taken", "DRUG WITHDRAWN"),
        ):
            with pytest.raises(IntegrityError), engine.begin() as connection:
                connection.execute(sa.update(table).values({column: word}))
        downgrade(engine, "0023")
        assert _columns(engine, "participant") == people
        assert _columns(engine, "adverse_event") == events
        assert verify_audit_chain(engine).ok
        upgrade(engine, "0025")
        assert _columns(engine, "adverse_event") == events | {"action_taken"}
    finally:
        engine.dispose()
