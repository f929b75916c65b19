"""``remit db`` and ``remit audit`` on both engines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import text
from tests.support.db import tamper_sql
from typer.testing import CliRunner

from remit.cli.app import app
from remit.store import head_revision

runner = CliRunner()


def _run(*args: str) -> Any:
    return runner.invoke(app, list(args))


def test_db_upgrade_and_current(empty_db_url: str) -> None:
    before = _run("db", "current", "--db", empty_db_url, "--json")
    if empty_db_url.startswith("sqlite"):  # a SQLite file that does not exist is refused
        assert before.exit_code == 2
    else:
        assert json.loads(before.stdout)["current"] is None
    result = _run("db", "upgrade", "--db", empty_db_url, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "from": None,
        "to": head_revision(),
        "head": head_revision(),
    }
    again = _run("db", "upgrade", "--db", empty_db_url)
    assert "already at migration" in again.stdout
    current = _run("db", "current", "--db", empty_db_url, "--json")
    assert json.loads(current.stdout) == {
        "current": head_revision(),
        "head": head_revision(),
        "up_to_date": True,
    }


def test_db_url_comes_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "env.db"
    result = runner.invoke(app, ["db", "upgrade"], env={"REMIT_DATABASE_URL": str(path)})
    assert result.exit_code == 0, result.output
    assert path.exists()


def test_missing_database_is_one_clear_line_and_exit_2(tmp_path: Path) -> None:
    result = _run("audit", "verify", "--db", str(tmp_path / "none.db"))
    assert result.exit_code == 2
    assert "no SQLite database at" in result.stderr
    assert not (tmp_path / "none.db").exists()


def test_audit_verify_passes_then_names_the_tampered_row(
    trial: Any, db_url: str, db_backend: str
) -> None:
    trial.add_participant(birth_year=1980)
    ok = _run("audit", "verify", "--db", db_url, "--json")
    assert ok.exit_code == 0, ok.output
    report = json.loads(ok.stdout)
    assert report["ok"] is True
    assert report["rows_checked"] == report["head_id"] > 0
    human = _run("audit", "verify", "--db", db_url)
    assert "audit chain intact" in human.stdout
    del db_backend
    tamper_sql(trial.engine, "UPDATE audit_event SET username = 'eve' WHERE id = 7")
    broken = _run("audit", "verify", "--db", db_url)
    assert broken.exit_code == 1
    assert "broken at row 7 (row_hash)" in broken.stdout
    as_json = json.loads(_run("audit", "verify", "--db", db_url, "--json").stdout)
    assert (as_json["ok"], as_json["first_bad_id"], as_json["rows_checked"]) == (False, 7, 6)


def test_audit_log_of_a_participant(trial: Any, db_url: str) -> None:
    trial.add_participant("OSL-001", birth_year=1980)
    trial.add_participant("OSL-002", birth_year=1990)
    result = _run("audit", "log", "--db", db_url, "--participant", "OSL-002", "--json")
    assert result.exit_code == 0, result.output
    entries = json.loads(result.stdout)
    assert {e["table_name"] for e in entries} == {"participant"}
    assert {e["new_value"] for e in entries if e["field"] == "birth_year"} == {1990}
    assert all(e["username"] == "kari" and e["occurred_at"].endswith("Z") for e in entries)
    table = _run("audit", "log", "--db", db_url, "--participant", "OSL-002")
    assert f"{len(entries)} audit rows" in table.stdout
    unknown = _run("audit", "log", "--db", db_url, "--participant", "OSL-999")
    assert unknown.exit_code == 2
    assert "participant 'OSL-999' is not in this database" in unknown.stderr


def test_audit_log_of_one_table(trial: Any, db_url: str) -> None:
    trial.add_participant("OSL-001")
    result = _run("audit", "log", "--db", db_url, "--table", "site", "--json")
    assert result.exit_code == 0, result.output
    entries = json.loads(result.stdout)
    assert {(e["table_name"], e["username"], e["role"]) for e in entries} == {
        ("site", "remit", "system")
    }
    assert {e["new_value"] for e in entries if e["field"] == "code"} == {"OSL", "BGO"}


def test_db_app_role_on_postgres(db_url: str, db_backend: str, engine: Any) -> None:
    if db_backend == "sqlite":
        result = _run("db", "app-role", "remit_app", "--db", db_url)
        assert result.exit_code == 1
        assert "only on PostgreSQL" in result.stderr
        return
    role = "remit_cli_app_" + db_url.rsplit("_", 2)[-2][:8]
    try:
        result = _run("db", "app-role", role, "--db", db_url, "--password", "s3cret-pass-phrase")
        assert result.exit_code == 0, result.output
        with engine.connect() as connection:
            grants = set(
                connection.execute(
                    text(
                        "SELECT privilege_type FROM information_schema.role_table_grants "
                        "WHERE grantee = :role AND table_name = 'audit_event'"
                    ),
                    {"role": role},
                ).scalars()
            )
        assert grants == {"SELECT", "INSERT"}
    finally:
        with engine.begin() as connection:
            connection.execute(text(f"DROP OWNED BY {role}"))
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                text(f"DROP ROLE IF EXISTS {role}")
            )
