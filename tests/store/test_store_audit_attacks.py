"""The attacks of issue 13 on the audit trail, each reproduced and now detected or refused.

(a) a clinical value changed with raw SQL, with a matching audit row whose hash is recomputed
without the key (attributed to any user); (a') the same change without any audit row;
(b) the newest 25 audit rows deleted after an anchor; (c) an old row edited and every later
hash recomputed (without the key; and by a key holder, caught by the anchor); (d) on
PostgreSQL a superuser edits the trail in ``session_replication_role = replica``.
"""

from __future__ import annotations

import dataclasses
import secrets
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from tests.support.db import engine_as_role, tamper_sql

from remit.store import (
    AuditKeyRing,
    audit_keys_of,
    make_anchor,
    verify_audit,
    verify_audit_chain,
    with_audit_keys,
)
from remit.store.audit import audit_content
from remit.store.audit_read import _content
from remit.store.canonical import canonical_json, chain_hash, iso_utc
from remit.store.tables import AuditEvent, Participant


def _head(engine: Engine) -> AuditEvent:
    with Session(engine) as session:
        row = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).one()
        session.expunge(row)
        return row


def _forge_row(engine: Engine, participant_id: int, hasher: Any) -> int:
    """Append an audit row saying admin 'kari' set birth_year to 1999, chained with ``hasher``."""
    head = _head(engine)
    content = audit_content(
        id=head.id + 1,
        occurred_at=iso_utc(head.occurred_at),
        transaction_id="f" * 32,
        user_id=None,
        username="kari",
        role="admin",
        site_id=None,
        action="update",
        table_name="participant",
        record_id=participant_id,
        participant_id=participant_id,
        field="birth_year",
        old_value=canonical_json(1980),
        new_value=canonical_json(1999),
        reason="typo",
    )
    row_hash = hasher(head.row_hash, content)
    with engine.begin() as connection:
        connection.execute(
            AuditEvent.__table__.insert().values(
                **{**content, "occurred_at": head.occurred_at},
                prev_hash=head.row_hash,
                row_hash=row_hash,
            )
        )
    return head.id + 1


def _set_birth_year(engine: Engine, participant_id: int, year: int) -> None:
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE participant SET birth_year = :y WHERE id = :id"),
            {"y": year, "id": participant_id},
        )


def test_a_raw_sql_change_with_an_unkeyed_forged_audit_row_is_named(trial: Any) -> None:
    participant_id = trial.add_participant(birth_year=1980)
    assert verify_audit(trial.engine).ok
    _set_birth_year(trial.engine, participant_id, 1999)
    forged = _forge_row(trial.engine, participant_id, chain_hash)
    # before keying, this passed: the replay now says 1999 and the chain fitted
    result = verify_audit(trial.engine)
    assert not result.ok
    assert (result.first_bad_id, result.problem) == (forged, "unkeyed")
    assert f"row {forged}" in result.summary()


def test_a_forged_row_keyed_with_a_guessed_key_is_named(trial: Any) -> None:
    participant_id = trial.add_participant(birth_year=1980)
    wrong = AuditKeyRing((("k1", secrets.token_bytes(32)),))
    forged = _forge_row(
        trial.engine, participant_id, lambda prev, content: wrong.row_hash(0, prev, content)
    )
    result = verify_audit_chain(trial.engine)
    assert (result.ok, result.first_bad_id, result.problem) == (False, forged, "row_hash")


def test_a_raw_sql_change_without_an_audit_row_names_table_record_and_field(trial: Any) -> None:
    participant_id = trial.add_participant(birth_year=1980)
    _set_birth_year(trial.engine, participant_id, 1999)
    with trial.engine.begin() as connection:  # a record the trail never saw
        connection.execute(
            Participant.__table__.insert().values(
                study_id="OSL-666",
                site_id=trial.site_id,
                protocol_version_id=trial.protocol_version_id,
            )
        )
    result = verify_audit(trial.engine)
    assert (result.ok, result.problem) == (False, "state")
    changed = [d for d in result.differences if d.field is not None]
    assert [(d.table, d.record_id, d.field, d.trail, d.stored) for d in changed] == [
        ("participant", participant_id, "birth_year", 1980, 1999)
    ]
    unexplained = [d for d in result.differences if d.field is None]
    assert [(d.table, d.trail, d.stored["study_id"]) for d in unexplained] == [
        ("participant", None, "OSL-666")
    ]
    assert f"participant {participant_id} field birth_year" in result.summary()


def test_deleting_the_newest_rows_after_an_anchor_is_named(trial: Any) -> None:
    for n in range(8):
        trial.add_participant(f"OSL-{n:03d}", birth_year=1980 + n)
    anchor = make_anchor(trial.engine)
    assert verify_audit_chain(trial.engine, [anchor]).ok
    cut = anchor.head_id - 24
    tamper_sql(trial.engine, f"DELETE FROM audit_event WHERE id >= {cut}")
    assert verify_audit_chain(trial.engine).ok  # without the anchor a cut tail cannot be seen
    result = verify_audit_chain(trial.engine, [anchor])
    assert (result.ok, result.first_bad_id, result.problem) == (False, cut, "truncated")
    assert f"saw rows up to {anchor.head_id}" in result.summary()


def test_an_old_row_edited_and_every_later_hash_recomputed_without_the_key(trial: Any) -> None:
    trial.add_participant(birth_year=1980)
    trial.add_participant("OSL-002", birth_year=1981)
    head = _head(trial.engine).id
    target = 5
    with Session(trial.engine) as session:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.id >= target).order_by(AuditEvent.id)
        ).all()
        prev = rows[0].prev_hash
        updates = []
        for row in rows:
            content = _content(row)
            if row.id == target:
                content["username"] = "eve"
            new = chain_hash(prev, content)
            updates.append((row.id, content["username"], prev, new))
            prev = new
    statements = "; ".join(
        f"UPDATE audit_event SET username = '{user}', prev_hash = '{p}', row_hash = '{h}' "
        f"WHERE id = {i}"
        for i, user, p, h in updates
    )
    for statement in statements.split("; "):
        tamper_sql(trial.engine, statement)
    result = verify_audit_chain(trial.engine)
    assert (result.ok, result.first_bad_id, result.problem) == (False, target, "unkeyed")
    assert head == _head(trial.engine).id


def test_a_key_holder_rewriting_history_is_caught_by_an_anchor(trial: Any) -> None:
    trial.add_participant(birth_year=1980)
    anchor = make_anchor(trial.engine)
    ring = audit_keys_of(trial.engine)
    with Session(trial.engine) as session:
        rows = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        prev = rows[0].prev_hash
        for row in rows:
            content = _content(row)
            if row.id == 3:
                content["reason"] = "rewritten"
            new = ring.row_hash(len(ring.keys) - 1, prev, content)
            reason = "NULL" if content["reason"] is None else f"'{content['reason']}'"
            tamper_sql(
                trial.engine,
                f"UPDATE audit_event SET reason = {reason}, prev_hash = '{prev}', "
                f"row_hash = '{new}' WHERE id = {row.id}",
            )
            prev = new
    assert verify_audit_chain(trial.engine).ok  # the key holder's chain fits
    result = verify_audit_chain(trial.engine, [anchor])
    assert (result.ok, result.first_bad_id, result.problem) == (False, anchor.head_id, "anchor")


def test_an_altered_anchor_is_refused(trial: Any) -> None:
    trial.add_participant(birth_year=1980)
    anchor = make_anchor(trial.engine)
    moved = dataclasses.replace(anchor, head_id=anchor.head_id - 3)
    result = verify_audit_chain(trial.engine, [moved])
    assert (result.ok, result.problem) == (False, "anchor_signature")


def test_a_wrong_key_ring_fails_on_the_first_keyed_row(trial: Any) -> None:
    trial.add_participant(birth_year=1980)
    wrong = AuditKeyRing((("k1", secrets.token_bytes(32)),))
    result = verify_audit_chain(trial.engine, keys=wrong)
    assert (result.ok, result.first_bad_id, result.problem) == (False, 1, "row_hash")


def test_rotated_keys_verify_in_order_and_never_go_back(trial: Any) -> None:
    old = audit_keys_of(trial.engine)
    trial.add_participant("OSL-001", birth_year=1980)
    first_head = _head(trial.engine).id
    rotated = AuditKeyRing((*old.keys, ("k2", secrets.token_bytes(32))))
    keyed = dataclasses.replace(trial, engine=with_audit_keys(trial.engine, rotated))
    keyed.add_participant("OSL-002", birth_year=1981)
    result = verify_audit_chain(trial.engine, keys=rotated)
    assert result.ok
    assert result.keys_used == (old.current_id, "k2")
    # the old ring alone does not verify the rows of the new key
    stale = verify_audit_chain(trial.engine, keys=old)
    assert (stale.ok, stale.first_bad_id) == (False, first_head + 1)
    # rows made with the old key after rows of the new one are refused
    trial.add_participant("OSL-003", birth_year=1982)
    back = verify_audit_chain(trial.engine, keys=rotated)
    assert (back.ok, back.problem) == (False, "row_hash")


@pytest.mark.parametrize("db_backend", [pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_postgres_replica_mode_does_not_switch_the_triggers_off(trial: Any) -> None:
    trial.add_participant(birth_year=1980)
    for statement in ("UPDATE audit_event SET username = 'eve'", "DELETE FROM audit_event"):
        with trial.engine.connect() as connection:
            connection.execute(text("SET session_replication_role = replica"))
            with pytest.raises(DBAPIError, match="append-only"):
                connection.execute(text(statement))
            connection.rollback()
    with trial.engine.connect() as connection:
        modes = connection.execute(
            text(
                "SELECT t.tgname, t.tgenabled FROM pg_trigger t JOIN pg_class c "
                "ON c.oid = t.tgrelid WHERE c.relname IN "
                "('audit_event', 'identity_access_log', 'alert_delivery') AND NOT t.tgisinternal"
            )
        ).all()
    assert len(modes) == 6
    assert {mode for _, mode in modes} == {"A"}
    assert verify_audit(trial.engine).ok


@pytest.mark.parametrize("db_backend", [pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_the_app_role_script_gives_a_role_that_cannot_switch_the_triggers_off(
    trial: Any, db_url: str
) -> None:
    import shutil
    import subprocess
    import uuid
    from pathlib import Path

    from sqlalchemy.engine import make_url

    psql = shutil.which("psql")
    if psql is None:  # pragma: no cover - the PostgreSQL client tools are installed here
        pytest.skip("psql is not installed")
    role = f"remit_app_{uuid.uuid4().hex[:8]}"
    script = Path(__file__).parents[2] / "docs" / "sql" / "app_role.sql"
    conninfo = make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)
    done = subprocess.run(
        [psql, "-q", "-v", f"app_role={role}", "-f", str(script), conninfo],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with engine_as_role(trial.engine, db_url, role) as app_engine:
        dataclasses.replace(trial, engine=app_engine).add_participant("OSL-100")
        for statement in (
            "ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only",
            "SET session_replication_role = replica",
            "UPDATE audit_event SET username = 'eve'",
            "DELETE FROM audit_event",
        ):
            with app_engine.connect() as connection:
                with pytest.raises(DBAPIError, match=r"must be owner|permission denied"):
                    connection.execute(text(statement))
                connection.rollback()
        assert verify_audit(app_engine).ok


def test_a_key_ring_never_shows_its_keys() -> None:
    key = secrets.token_bytes(32)
    ring = AuditKeyRing((("k1", key),), "/etc/remit/audit.keys")
    assert key.hex() not in repr(ring)
    assert str(key) not in repr(ring)


def test_legacy_unkeyed_rows_verify_only_as_the_first_rows(trial: Any) -> None:
    # a database from before keyed hashing: every row has a plain SHA-256 chain hash
    trial.add_participant("OSL-001", birth_year=1980)
    with Session(trial.engine) as session:
        rows = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        prev, updates = rows[0].prev_hash, []
        for row in rows:
            new = chain_hash(prev, _content(row))
            updates.append((row.id, prev, new))
            prev = new
    for row_id, prev_hash, row_hash in updates:
        tamper_sql(
            trial.engine,
            f"UPDATE audit_event SET prev_hash = '{prev_hash}', row_hash = '{row_hash}' "
            f"WHERE id = {row_id}",
        )
    legacy = len(updates)
    trial.add_participant("OSL-002", birth_year=1981)  # written after the upgrade: keyed
    result = verify_audit(trial.engine)
    assert result.ok
    assert result.legacy_rows == legacy
    assert result.keys_used == (audit_keys_of(trial.engine).current_id,)
    assert f"{legacy} legacy unkeyed rows" in result.summary()
