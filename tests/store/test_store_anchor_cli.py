"""``remit audit anchor | verify | rotate-key``: exit codes, JSON, named rows; the periodic
anchoring job of ``remit serve``."""

from __future__ import annotations

import json
import stat
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from tests.support.db import tamper_sql
from typer.testing import CliRunner

from remit.cli.app import app
from remit.services import AnchorJob, load_key_ring, read_anchor
from remit.store import audit_keys_of, default_key_file, verify_audit, with_audit_keys
from remit.store.tables import AuditEvent
from remit.store.types import utc_now

runner = CliRunner()


def _run(*args: str, env: dict[str, str] | None = None) -> Any:
    return runner.invoke(app, list(args), env=env)


def _head(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.max(AuditEvent.id))).scalar_one())


def test_anchor_then_verify_passes_and_a_cut_tail_fails_naming_the_row(
    trial: Any, db_url: str, tmp_path: Path
) -> None:
    for n in range(6):
        trial.add_participant(f"OSL-{n:03d}", birth_year=1980 + n)
    out = tmp_path / "anchors" / "a1.json"
    made = _run("audit", "anchor", "--db", db_url, "--out", str(out), "--json")
    assert made.exit_code == 0, made.output
    written = json.loads(out.read_text())
    assert written == json.loads(made.stdout)
    head = _head(trial.engine)
    assert (written["head_id"], written["row_count"]) == (head, head)
    ok = _run("audit", "verify", "--db", db_url, "--anchor", str(out), "--json")
    assert ok.exit_code == 0, ok.output
    assert (json.loads(ok.stdout)["ok"], json.loads(ok.stdout)["anchors_checked"]) == (True, 1)
    again = _run("audit", "anchor", "--db", db_url, "--out", str(out))
    assert again.exit_code == 2
    assert "exists already" in again.stderr

    tamper_sql(trial.engine, f"DELETE FROM audit_event WHERE id > {head - 25}")
    # without the anchor the chain fits; only the records the cut rows wrote stand unexplained
    unanchored = json.loads(_run("audit", "verify", "--db", db_url, "--json").stdout)
    assert (unanchored["ok"], unanchored["problem"]) == (False, "state")
    broken = _run("audit", "verify", "--db", db_url, "--anchor", str(out), "--json")
    assert broken.exit_code == 1
    report = json.loads(broken.stdout)
    assert (report["ok"], report["first_bad_id"], report["problem"]) == (
        False,
        head - 24,
        "truncated",
    )
    human = _run("audit", "verify", "--db", db_url, "--anchor", str(out))
    assert f"broken at row {head - 24} (truncated)" in human.stdout


def test_verify_names_a_value_changed_with_raw_sql(trial: Any, db_url: str) -> None:
    participant = trial.add_participant(birth_year=1980)
    with trial.engine.begin() as connection:
        connection.execute(
            text(f"UPDATE participant SET birth_year = 1999 WHERE id = {participant}")
        )
    broken = _run("audit", "verify", "--db", db_url)
    assert broken.exit_code == 1
    assert f"participant {participant} field birth_year" in broken.stdout
    report = json.loads(_run("audit", "verify", "--db", db_url, "--json").stdout)
    assert report["problem"] == "state"
    assert report["differences"] == [
        {
            "table": "participant",
            "record_id": participant,
            "field": "birth_year",
            "trail": 1980,
            "stored": 1999,
        }
    ]


def test_bad_anchor_files_and_key_files_are_bad_input(
    trial: Any, db_url: str, tmp_path: Path
) -> None:
    trial.add_participant(birth_year=1980)
    missing = _run("audit", "verify", "--db", db_url, "--anchor", str(tmp_path / "none.json"))
    assert missing.exit_code == 2
    assert "no anchor file" in missing.stderr
    junk = tmp_path / "junk.json"
    junk.write_text('{"format": "something else"}')
    assert _run("audit", "verify", "--db", db_url, "--anchor", str(junk)).exit_code == 2
    no_key = _run("audit", "verify", "--db", db_url, "--audit-key", str(tmp_path / "k"))
    assert no_key.exit_code == 2
    assert "no audit key file" in no_key.stderr
    bad_key = tmp_path / "bad.key"
    bad_key.write_text("k1 not-hex\n")
    refused = _run("audit", "verify", "--db", db_url, "--audit-key", str(bad_key))
    assert (refused.exit_code, "line 1" in refused.stderr) == (2, True)


def test_a_wrong_key_or_an_altered_anchor_fails(trial: Any, db_url: str, tmp_path: Path) -> None:
    trial.add_participant(birth_year=1980)
    other = tmp_path / "other.key"
    assert _run("audit", "rotate-key", "--audit-key", str(other)).exit_code == 0
    wrong = _run("audit", "verify", "--db", db_url, "--audit-key", str(other), "--json")
    assert wrong.exit_code == 1
    assert (json.loads(wrong.stdout)["first_bad_id"], json.loads(wrong.stdout)["problem"]) == (
        1,
        "row_hash",
    )
    anchor = tmp_path / "a.json"
    assert _run("audit", "anchor", "--db", db_url, "--out", str(anchor)).exit_code == 0
    data = json.loads(anchor.read_text())
    data["head_id"] -= 1
    anchor.write_text(json.dumps(data))
    altered = _run("audit", "verify", "--db", db_url, "--anchor", str(anchor), "--json")
    assert (altered.exit_code, json.loads(altered.stdout)["problem"]) == (1, "anchor_signature")


def test_rotate_key_adds_a_key_new_rows_use_it_and_verify_needs_the_ring(
    trial: Any, db_url: str, tmp_path: Path
) -> None:
    trial.add_participant("OSL-001", birth_year=1980)
    ring_file = tmp_path / "ring.key"
    # start the ring from the database's own key, then rotate to a new one
    default = default_key_file(trial.engine.url)
    if default is None:  # pragma: no cover - the fixtures use files or PostgreSQL
        raise AssertionError("expected a default key file")
    ring_file.write_text(default.read_text())
    ring_file.chmod(0o600)
    rotated = _run("audit", "rotate-key", "--audit-key", str(ring_file), "--json")
    assert rotated.exit_code == 0, rotated.output
    assert json.loads(rotated.stdout)["key_id"] == "k2"
    assert stat.S_IMODE(ring_file.stat().st_mode) == 0o600
    ring = load_key_ring(ring_file)
    assert [key_id for key_id, _ in ring.keys] == ["k1", "k2"]
    keyed = replace(trial, engine=with_audit_keys(trial.engine, ring))
    keyed.add_participant("OSL-002", birth_year=1981)
    ok = _run(
        "audit", "verify", "--db", db_url, "--json", env={"REMIT_AUDIT_KEY_FILE": str(ring_file)}
    )
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["keys_used"] == ["k1", "k2"]
    # the database's old key alone cannot verify the new rows
    assert _run("audit", "verify", "--db", db_url).exit_code == 1


@dataclass
class _Context:
    engine: Engine
    now: Any


def test_the_periodic_anchor_job_anchors_when_due_and_the_trail_grew(
    trial: Any, tmp_path: Path
) -> None:
    trial.add_participant("OSL-001")
    job = AnchorJob(tmp_path / "anchors", every_s=60)
    start = utc_now()
    first = job(_Context(trial.engine, start))
    assert first.written is not None
    assert read_anchor(first.written).head_id == _head(trial.engine)
    assert job(_Context(trial.engine, start + timedelta(seconds=10))).note == "not due"
    unchanged = job(_Context(trial.engine, start + timedelta(seconds=70)))
    assert (unchanged.written, unchanged.note) == (None, "audit head unchanged")
    trial.add_participant("OSL-002")
    grown = job(_Context(trial.engine, start + timedelta(seconds=140)))
    assert grown.written is not None
    assert len(list((tmp_path / "anchors").iterdir())) == 2
    anchors = [read_anchor(p) for p in sorted((tmp_path / "anchors").iterdir())]
    assert verify_audit(trial.engine, anchors).ok
    assert anchors[-1].key_id == audit_keys_of(trial.engine).current_id


def test_serve_refuses_a_key_ring_that_is_not_the_databases(
    trial: Any, db_url: str, tmp_path: Path
) -> None:
    from remit.errors import StoreError
    from remit.store import require_matching_keys

    trial.add_participant(birth_year=1980)
    require_matching_keys(trial.engine)  # its own ring fits
    other = tmp_path / "other.key"
    assert _run("audit", "rotate-key", "--audit-key", str(other)).exit_code == 0
    with pytest.raises(StoreError, match="did not make the newest audit row"):
        require_matching_keys(trial.engine, keys=load_key_ring(other))
    served = _run("serve", "--db", db_url, "--audit-key", str(other))
    assert served.exit_code == 1
    assert "did not make the newest audit row" in served.stderr
