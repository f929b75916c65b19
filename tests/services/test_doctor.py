"""Issue 16 part 4: ``remit doctor`` checks a deployment; each check passes on a sound one and
finds the problem (with its fix) on a broken one. SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from psycopg import sql
from sqlalchemy import Engine
from tests.support.db import PostgresServer, count_all, migrated_sqlite
from tests.support.smtp import closed_port, local_smtp
from tests.support.trial import OsloTrial
from typer.testing import CliRunner

from remit import services as sv
from remit.cli.app import app as cli_app
from remit.services.doctor import DoctorCheck, DoctorReport
from remit.store import downgrade, upgrade
from remit.web import WebSettings, create_app

FROM = "remit@trial.example.no"


def check(report: DoctorReport, name: str) -> DoctorCheck:
    (found,) = [c for c in report.checks if c.name == name]
    return found


def doctor(db_url: str, **options: Any) -> DoctorReport:
    return sv.check_deployment(db_url, **options)


def test_an_unreachable_database_is_a_problem_and_nothing_else_is_checked() -> None:
    report = doctor("postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert not report.ok
    database = check(report, "database")
    assert database.status == "problem"
    assert "cannot reach" in database.detail
    assert "database server" in database.fix
    assert {c.status for c in report.checks if c.name != "database"} == {"not checked"}


def test_a_database_behind_on_migrations_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with migrated_sqlite(path) as engine:
        downgrade(engine, "0019")
    database = check(doctor(str(path)), "database")
    assert database.status == "problem"
    assert "at migration 0019" in database.detail
    assert "remit db upgrade" in database.fix


def test_database_durability_and_time_zones_pass(oslo: OsloTrial, db_url: str) -> None:
    report = doctor(db_url)
    assert check(report, "database").status == "ok"
    assert check(report, "durability").status == "ok"
    zones = check(report, "time_zone")
    assert (zones.status, zones.detail) == ("ok", "sites in Europe/Oslo")


@pytest.mark.postgres
def test_synchronous_commit_off_is_a_problem(postgres_server: PostgresServer) -> None:
    name = postgres_server.create()
    try:
        url = postgres_server.url_of(name)
        upgrade(url)
        assert check(doctor(url), "durability").status == "ok"
        # set for this (throw-away) database only: new connections get it
        postgres_server._execute(
            sql.SQL("ALTER DATABASE {} SET synchronous_commit = off").format(sql.Identifier(name))
        )
        durability = check(doctor(url), "durability")
        assert durability.status == "problem"
        assert "synchronous_commit=off" in durability.detail
        assert "RESET synchronous_commit" in durability.fix
    finally:
        postgres_server.drop(name)


def test_a_site_without_a_valid_time_zone_is_a_problem(
    oslo: OsloTrial, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    protocol = oslo.protocol
    (site,) = protocol.study.sites
    for zone, found in ((None, "no time zone at OST"), ("Europe/Olso", "unknown time zone")):
        sites = (site.model_copy(update={"time_zone": zone}),)
        broken = protocol.model_copy(
            update={"study": protocol.study.model_copy(update={"sites": sites})}
        )
        monkeypatch.setattr("remit.services.trial.trial_protocol", lambda engine, p=broken: p)
        zones = check(doctor(db_url), "time_zone")
        assert zones.status == "problem"
        assert found in zones.detail
        assert "time_zone" in zones.fix


def test_anchors_recent_pass_and_missing_old_foreign_or_forged_ones_do_not(
    oslo: OsloTrial, db_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "anchors"
    missing = check(doctor(db_url), "anchor")
    assert missing.status == "problem"
    assert "--anchor-dir" in missing.fix
    folder.mkdir()
    empty = check(doctor(db_url, anchor_dir=folder), "anchor")
    assert (empty.status, empty.detail) == ("problem", f"no audit anchor in {folder}")
    sv.anchor_audit(oslo.engine, folder / "a1.json")
    fresh = check(doctor(db_url, anchor_dir=folder), "anchor")
    assert fresh.status == "ok", fresh
    later = datetime.now(UTC) + timedelta(hours=30)
    old = check(doctor(db_url, anchor_dir=folder, now=later), "anchor")
    assert old.status == "problem"
    assert "allowed 24 h" in old.detail
    # a forged anchor (its head moved on) is the newest: refused
    data = json.loads((folder / "a1.json").read_text())
    data["head_id"] += 1
    data["created_at"] = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    (folder / "a2.json").write_text(json.dumps(data))
    forged = check(doctor(db_url, anchor_dir=folder), "anchor")
    assert forged.status == "problem"
    assert "not signed" in forged.detail
    # an anchor of another database
    data["database"] = "sqlite:////elsewhere/other.db"
    (folder / "a2.json").write_text(json.dumps(data))
    foreign = check(doctor(db_url, anchor_dir=folder), "anchor")
    assert foreign.status == "problem"
    assert "other.db" in foreign.detail


def test_an_anchor_ahead_of_the_trail_is_a_problem(
    oslo: OsloTrial, db_url: str, tmp_path: Path
) -> None:
    engine = oslo.engine
    sv.anchor_audit(engine, tmp_path / "a1.json")
    # the newest audit rows go (as if deleted by someone bypassing the triggers): simulated by
    # anchoring against a fake head instead, signed with the database's own key
    anchor = sv.read_anchor(tmp_path / "a1.json")
    ring = sv.audit_keys_of(engine)
    from remit.store import sign_anchor

    ahead = sign_anchor(
        ring,
        database=anchor.database,
        head_id=anchor.head_id + 5,
        head_hash="0" * 64,
        row_count=anchor.row_count + 5,
    )
    (tmp_path / "a2.json").write_text(json.dumps(ahead.to_dict()))
    found = check(doctor(db_url, anchor_dir=tmp_path), "anchor")
    assert found.status == "problem"
    assert "rows were removed" in found.detail


def test_backups_recent_pass_and_missing_old_or_altered_ones_do_not(
    oslo: OsloTrial, db_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "backups"
    assert check(doctor(db_url), "backup").status == "problem"
    folder.mkdir()
    none = check(doctor(db_url, backup_dir=folder), "backup")
    assert (none.status, none.detail) == ("problem", f"no backup in {folder}")
    sv.backup_database(oslo.engine, folder / "2026-12-04")
    fresh = check(doctor(db_url, backup_dir=folder), "backup")
    assert fresh.status == "ok", fresh
    assert "2026-12-04" in fresh.detail
    later = datetime.now(UTC) + timedelta(hours=27)
    old = check(doctor(db_url, backup_dir=folder, now=later), "backup")
    assert old.status == "problem"
    assert "allowed 26 h" in old.detail
    manifest = folder / "2026-12-04" / "manifest.json"
    data = json.loads(manifest.read_text())
    data["audit_head_id"] += 1
    manifest.write_text(json.dumps(data))
    altered = check(doctor(db_url, backup_dir=folder), "backup")
    assert altered.status == "problem"
    assert "not signed" in altered.detail


def test_smtp_that_answers_passes_and_one_down_or_missing_does_not(
    oslo: OsloTrial, db_url: str
) -> None:
    with local_smtp() as server:
        up = check(doctor(db_url, smtp_url=server.url, smtp_from=FROM), "smtp")
        assert up.status == "ok", up
        assert server.messages == []  # nothing is sent
        no_from = check(doctor(db_url, smtp_url=server.url), "smtp")
        assert no_from.status == "problem"
        assert "--smtp-from" in no_from.fix
    down = check(
        doctor(db_url, smtp_url=f"smtp://127.0.0.1:{closed_port()}", smtp_from=FROM), "smtp"
    )
    assert down.status == "problem"
    assert "does not work" in down.detail
    missing = check(doctor(db_url), "smtp")
    assert missing.status == "problem"
    assert "not e-mailed" in missing.detail


def _served(db_url: str, base_url: str, headers: dict[str, str] | None = None) -> None:
    app = create_app(db_url, settings=WebSettings())
    TestClient(app, base_url=base_url).get("/login", headers=headers or {})


def test_https_is_read_from_what_the_web_app_saw(oslo: OsloTrial, db_url: str) -> None:
    unseen = check(doctor(db_url), "https")
    assert unseen.status == "not checked"
    _served(db_url, "http://testserver")
    plain = check(doctor(db_url), "https")
    assert plain.status == "problem"
    assert "plain HTTP" in plain.detail
    assert "--https" in plain.fix
    _served(db_url, "http://testserver", {"X-Forwarded-Proto": "https"})
    untrusted = check(doctor(db_url), "https")
    assert untrusted.status == "problem"
    assert "does not trust it" in untrusted.detail
    _served(db_url, "https://testserver", {"X-Forwarded-Proto": "https"})
    secure = check(doctor(db_url), "https")
    assert secure.status == "ok"
    assert "through a proxy" in secure.detail


def _all_sound(engine: Engine, db_url: str, tmp_path: Path) -> tuple[Path, Path]:
    anchors, backups = tmp_path / "anchors", tmp_path / "backups"
    sv.anchor_audit(engine, anchors / "a1.json")
    sv.backup_database(engine, backups / "b1")
    _served(db_url, "https://testserver")
    return anchors, backups


def test_the_command_exits_0_when_all_is_well_and_1_with_a_problem(
    oslo: OsloTrial, db_url: str, tmp_path: Path
) -> None:
    anchors, backups = _all_sound(oslo.engine, db_url, tmp_path)
    with local_smtp() as server:
        base = ["doctor", "--db", db_url, "--anchor-dir", str(anchors),
                "--backup-dir", str(backups), "--smtp-url", server.url,
                "--smtp-from", FROM]  # fmt: skip
        well = CliRunner().invoke(cli_app, base)
        assert well.exit_code == 0, well.output
        assert "Nothing is wrong." in well.output
        as_json = CliRunner().invoke(cli_app, [*base, "--json"])
        assert as_json.exit_code == 0, as_json.output
        data = json.loads(as_json.stdout)
        assert data["ok"] is True
        assert {c["name"]: c["status"] for c in data["checks"]} == {
            "database": "ok",
            "durability": "ok",
            "anchor": "ok",
            "backup": "ok",
            "time_zone": "ok",
            "smtp": "ok",
            "https": "ok",
        }
    down = CliRunner().invoke(cli_app, [*base, "--json"])  # the SMTP server has stopped
    assert down.exit_code == 1, down.output
    data = json.loads(down.stdout)
    assert data["ok"] is False
    assert [c["name"] for c in data["checks"] if c["status"] == "problem"] == ["smtp"]
    table = CliRunner().invoke(cli_app, base)
    assert table.exit_code == 1
    assert "1 problem(s): smtp" in table.output


def test_nothing_is_written(oslo: OsloTrial, db_url: str) -> None:
    before = count_all(oslo.engine)
    report = doctor(db_url)
    assert not report.ok  # anchors, backups and SMTP are not configured
    assert count_all(oslo.engine) == before
