"""Migration 0002 moves event dates kept as ``visit`` rows (0001) into ``participant_event``,
on the audit chain, and moves them back on downgrade."""

from __future__ import annotations

import importlib
from datetime import date

from sqlalchemy import Engine, inspect, select
from sqlalchemy.orm import Session
from tests.support.db import assert_trail_agrees, insert_at_revision

from remit.protocol import read_protocol_source
from remit.store import (
    Actor,
    add_site,
    audit_log,
    create_study,
    downgrade,
    make_engine,
    store_protocol_version,
    unit_of_work,
    upgrade,
    verify_audit_chain,
)
from remit.store.tables import ProtocolDeviation, Visit

MIGRATION = importlib.import_module("remit.store.migrations.versions.0002_participant_event")

# A later protocol version: declares "consent" as an event, and "PHONE" (a visit of the Oslo
# protocol) as an event too, so PHONE rows must stay visits.
AMENDMENT = """
[[events]]
code = "consent"
label = "Consent"

[[events]]
code = "PHONE"
label = "Phone call"
"""


def _old_database(engine: Engine) -> dict[str, int]:
    """A database at 0001 holding event dates the way 0001's services kept them."""
    upgrade(engine, "0001")
    system = Actor.system()
    with unit_of_work(engine, system) as uow:
        study = create_study(uow, "OSL", "MDMA-assisted therapy for MDD")
        text, _ = read_protocol_source("oslo-mdma-mdd")
        store_protocol_version(uow, study, name="oslo-mdma-mdd", version="1", text=text)
        store_protocol_version(uow, study, name="broken", version="2", text="not [ toml")
        store_protocol_version(uow, study, name="amended", version="3", text=AMENDMENT)
        site = add_site(uow, study, "OST", "Oslo")
        ids = {
            name: insert_at_revision(uow, "participant", study_id=study_id, site_id=site.id)
            for name, study_id in (("first", "OSL-001"), ("second", "OSL-002"))
        }
        rows = {
            "referral": Visit(
                participant_id=ids["first"],
                visit_code="referral",
                actual_date=date(2023, 1, 2),
                status="completed",
            ),
            "consent": Visit(
                participant_id=ids["first"],
                visit_code="consent",
                actual_date=date(2023, 1, 20),
                status="completed",
            ),
            "PHONE": Visit(
                participant_id=ids["first"],
                visit_code="PHONE",
                target_date=date(2023, 1, 9),
                actual_date=date(2023, 1, 9),
                status="completed",
                window_status="in_window",
            ),
            "kept": Visit(
                participant_id=ids["second"],
                visit_code="referral",
                actual_date=date(2023, 2, 1),
                status="completed",
            ),
        }
        uow.session.add_all(rows.values())
        uow.flush()
        ids |= {f"visit_{name}": row.id for name, row in rows.items()}
        # A deviation filed "at" the second participant's referral row: that row must stay.
        uow.add(
            ProtocolDeviation(
                participant_id=ids["second"],
                visit_id=rows["kept"].id,
                category="other",
                description="referral letter incomplete",
            )
        )
    with unit_of_work(engine, system, reason="date typed wrong") as uow:
        referral = uow.session.get_one(Visit, ids["visit_referral"])
        referral.actual_date = date(2023, 1, 3)
    return ids


def _events(engine: Engine) -> set[tuple[int, str, date]]:
    with Session(engine) as session:
        rows = session.execute(
            select(
                MIGRATION._EVENT.c.participant_id,
                MIGRATION._EVENT.c.event_code,
                MIGRATION._EVENT.c.event_date,
            )
        )
        return {(int(p), str(c), d) for p, c, d in rows}


def _visits(engine: Engine) -> dict[tuple[int, str], date | None]:
    with Session(engine) as session:
        rows = session.execute(select(Visit.participant_id, Visit.visit_code, Visit.actual_date))
        return {(int(p), str(c)): d for p, c, d in rows}


def test_upgrade_moves_event_rows_on_the_chain_and_downgrade_moves_them_back(
    empty_db_url: str,
) -> None:
    engine = make_engine(empty_db_url)
    try:
        ids = _old_database(engine)
        first, second = ids["first"], ids["second"]
        before = _visits(engine)
        upgrade(engine)

        assert _events(engine) == {
            (first, "referral", date(2023, 1, 3)),
            (first, "consent", date(2023, 1, 20)),
            (second, "referral", date(2023, 2, 1)),
        }
        assert _visits(engine) == {
            (first, "PHONE"): date(2023, 1, 9),  # a visit in the Oslo protocol: stays
            (second, "referral"): date(2023, 2, 1),  # a deviation refers to it: stays
        }
        assert_trail_agrees(engine)

        moved = [e for e in audit_log(engine) if e.username == "remit-migration"]
        assert {e.reason for e in moved} == {MIGRATION.REASON}
        assert {e.role for e in moved} == {"system"}
        assert len({e.transaction_id for e in moved}) == 1
        assert {(e.action, e.table_name) for e in moved} == {
            ("insert", "participant_event"),
            ("delete", "visit"),
        }
        deleted = {e.record_id for e in moved if e.action == "delete"}
        assert deleted == {ids["visit_referral"], ids["visit_consent"]}
        # recorded_at is when the date was last written: the corrected referral date
        correction = next(
            e
            for e in audit_log(engine, table="visit", record_id=ids["visit_referral"])
            if e.action == "update" and e.field == "actual_date"
        )
        with Session(engine) as session:
            recorded = session.execute(
                select(MIGRATION._EVENT.c.recorded_at).where(
                    MIGRATION._EVENT.c.participant_id == first,
                    MIGRATION._EVENT.c.event_code == "referral",
                )
            ).scalar_one()
        assert recorded == correction.occurred_at

        downgrade(engine, "0001")
        assert "participant_event" not in inspect(engine).get_table_names()
        assert _visits(engine) == {**before, (first, "referral"): date(2023, 1, 3)}
        assert verify_audit_chain(engine).ok

        upgrade(engine)
        assert len(_events(engine)) == 3
        assert_trail_agrees(engine)
    finally:
        engine.dispose()


def test_a_database_without_event_rows_migrates_without_audit_rows(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    try:
        upgrade(engine, "0001")
        with unit_of_work(engine, Actor.system()) as uow:
            study = create_study(uow, "OSL", "MDMA-assisted therapy for MDD")
            store_protocol_version(uow, study, name="oslo", version="1", text='name = "oslo"\n')
        rows = verify_audit_chain(engine).rows_checked
        upgrade(engine)
        assert verify_audit_chain(engine).rows_checked == rows
        assert _events(engine) == set()
    finally:
        engine.dispose()
