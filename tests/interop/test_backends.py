"""The exports read the trial through the services only: the same files on SQLite and
PostgreSQL (the ``engine`` fixture runs the test on both)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from lxml import etree
from sqlalchemy import Engine
from tests.support.paths import STANDARDS
from tests.support.presets import IDENTITY, SMALL_TRIAL
from tests.support.trial import build_trial

from remit.interop import export_trial


def test_export_on_each_backend(engine: Engine, tmp_path: Path) -> None:
    oslo = build_trial(engine, participants=SMALL_TRIAL)
    out = tmp_path / "export"  # tmp_path also holds the SQLite database itself
    when = datetime(2024, 1, 1, tzinfo=UTC)
    result = export_trial(oslo.engine, out, created_at=when)
    assert result.participants == 3
    schema = etree.XMLSchema(etree.parse(str(STANDARDS / "odm-1.3.2" / "ODM1-3-2.xsd")))
    for f in result.files["odm"]:
        assert schema.validate(etree.parse(str(out / f))), schema.error_log
    qs = json.loads((out / "sdtm" / "qs.json").read_text())
    assert qs["records"] > 1000
    assert qs["datasetJSONCreationDateTime"] == "2024-01-01T00:00:00"
    values = [v.encode() for person in IDENTITY.values() for v in person.values()]
    for path in out.rglob("*.*"):
        content = path.read_bytes()
        assert not [v for v in values if v in content], path
