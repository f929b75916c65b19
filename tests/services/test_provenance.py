"""record_source_history: a source system's audit records kept as history of a participant."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.support.db import count_all
from tests.support.presets import import_target

from remit import services as sv
from remit.errors import InputError, PermissionDeniedError
from remit.store import verify_audit

RECORD = {
    "id": 17,
    "user": "per",
    "at": "2023-03-14T09:00:00Z",
    "reason": "rater corrected item 1",
    "record": "assessment/4/answers/update",
}


def test_history_is_kept_as_the_importing_user_and_replays_as_nothing(tmp_path: Path) -> None:
    engine, actors = import_target(tmp_path / "t.db")
    inv = actors["investigator"]
    pid = sv.screen_participant(engine, inv, site="OST").participant_id
    assert sv.record_source_history(engine, inv, pid, [RECORD], source="x.xml") == 1
    [row] = sv.audit_log(engine, pid, table=sv.SOURCE_AUDIT_TABLE)
    assert row.username == "imp"
    assert row.reason == "rater corrected item 1"
    assert row.new_value["user"] == "per"
    assert row.new_value["imported_as"] == pid
    assert row.new_value["source"] == "x.xml"
    assert "reason" not in row.new_value
    assert verify_audit(engine).ok
    engine.dispose()


def test_refusals_store_nothing(tmp_path: Path) -> None:
    engine, actors = import_target(tmp_path / "t.db")
    pid = sv.screen_participant(engine, actors["investigator"], site="OST").participant_id
    before = count_all(engine)
    with pytest.raises(InputError, match="lacks user"):
        sv.record_source_history(
            engine, actors["investigator"], pid, [RECORD, {**RECORD, "user": ""}], source="x"
        )
    with pytest.raises(PermissionDeniedError, match="record source history"):
        sv.record_source_history(engine, actors["therapist"], pid, [RECORD], source="x")
    after = count_all(engine)
    assert after == before
    engine.dispose()
