"""Restore drill: a small trial backed up, restored into a new database and verified against
the backup's anchor, on SQLite and PostgreSQL; a changed backup is refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from tests.support.db import PostgresServer, count_all
from tests.support.store_trial import Trial, store_trial
from typer.testing import CliRunner

from remit.cli.app import app
from remit.errors import InputError, StoreError
from remit.services import backup_database, close_database, open_database, restore_database
from remit.store import default_key_file, verify_audit

runner = CliRunner()


@pytest.fixture
def trial(engine: Engine, fast_password_hashing: None) -> Trial:
    made = store_trial(engine)
    for n in range(3):
        made.add_participant(f"OSL-{n:03d}", birth_year=1970 + n)
    return made


@pytest.fixture
def new_db(db_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """URL of a database that does not exist yet (SQLite) or has no tables (PostgreSQL)."""
    if db_backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored' / 'trial.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = server.create()
    yield server.url_of(name)
    key = default_key_file(make_url(server.url_of(name)))
    server.drop(name)
    if key is not None:
        key.unlink(missing_ok=True)


def test_restore_drill(trial: Trial, tmp_path: Path, new_db: str) -> None:
    folder = tmp_path / "backup"
    made = backup_database(trial.engine, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest == made.manifest
    counts = count_all(trial.engine)
    assert manifest["row_counts"] == counts
    assert manifest["audit_head_id"] == counts["audit_event"] > 0
    assert manifest["anchor"]["head_hash"] == manifest["audit_head_hash"]
    assert len(manifest["files"][0]["sha256"]) == 64
    assert (folder / "anchor.json").is_file()

    restored = restore_database(folder, new_db)
    assert restored.audit_head_id == manifest["audit_head_id"]
    assert restored.row_counts == counts
    engine = open_database(new_db)
    try:
        assert verify_audit(engine).ok
        assert count_all(engine) == counts
    finally:
        close_database(engine)


def test_a_changed_backup_file_is_refused(trial: Trial, tmp_path: Path, new_db: str) -> None:
    folder = tmp_path / "backup"
    made = backup_database(trial.engine, folder)
    copy = folder / made.manifest["files"][0]["name"]
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="does not match its checksum"):
        restore_database(folder, new_db)
    if new_db.startswith("sqlite"):
        assert not Path(new_db.removeprefix("sqlite:///")).exists()


def test_a_changed_manifest_is_refused(trial: Trial, tmp_path: Path, new_db: str) -> None:
    folder = tmp_path / "backup"
    backup_database(trial.engine, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["row_counts"]["participant"] += 1
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(StoreError, match="not signed"):
        restore_database(folder, new_db)


def test_restore_refuses_an_existing_database_and_backup_a_used_folder(
    trial: Trial, tmp_path: Path, db_url: str
) -> None:
    folder = tmp_path / "backup"
    backup_database(trial.engine, folder)
    with pytest.raises(InputError, match="exists and is not an empty folder"):
        backup_database(trial.engine, folder)
    before = count_all(trial.engine)
    with pytest.raises(InputError, match=r"restore into a new database|exists already"):
        restore_database(folder, db_url)
    assert count_all(trial.engine) == before


def test_backup_and_restore_commands(
    trial: Trial, tmp_path: Path, db_url: str, new_db: str
) -> None:
    folder = tmp_path / "cli-backup"
    made = runner.invoke(app, ["backup", "--db", db_url, "--out", str(folder), "--json"])
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout)["manifest"]["audit_head_id"] > 0
    over = runner.invoke(app, ["restore", "--from", str(folder), "--db", db_url])
    assert over.exit_code == 2
    assert "restore into a new database" in over.stderr
    restored = runner.invoke(app, ["restore", "--from", str(folder), "--db", new_db, "--json"])
    assert restored.exit_code == 0, restored.output
    assert json.loads(restored.stdout)["verified"] is True


def test_a_changed_backup_fails_the_restore_command_with_exit_1(
    trial: Trial, tmp_path: Path, db_url: str, new_db: str
) -> None:
    folder = tmp_path / "cli-backup"
    assert runner.invoke(app, ["backup", "--db", db_url, "--out", str(folder)]).exit_code == 0
    manifest: dict[str, Any] = json.loads((folder / "manifest.json").read_text())
    copy = folder / manifest["files"][0]["name"]
    copy.write_bytes(copy.read_bytes() + b"\0")
    refused = runner.invoke(app, ["restore", "--from", str(folder), "--db", new_db])
    assert refused.exit_code == 1
    assert "does not match its checksum" in refused.stderr
