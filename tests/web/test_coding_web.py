"""The coding page: the data manager sees the queue, searches MedDRA by term and codes an AE
(audited); an investigator sees the queue but has no code form and a POST is refused. The
dictionary is tiny made-up test data, not MedDRA content."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.support import coding_dictionaries as cd
from tests.support.trial import trial_of
from tests.support.web import csrf_of

from remit import services as sv
from remit.services import coding
from remit.store import audit_log, make_engine


def _seed(trial_db: Path, tmp_path: Path) -> tuple[Engine, int]:
    engine = make_engine(trial_db)
    trial = trial_of(engine)
    coding.load_meddra(engine, trial.data_manager, cd.meddra_files(tmp_path / "meddra"))
    ae = sv.record_adverse_event(
        engine, trial.investigator, "OSL-001", term="sore elbow", onset_date=date.today(),
        severity="mild", relatedness="possible",
    )  # fmt: skip
    return engine, ae.id


def test_the_data_manager_codes_a_queued_ae_on_the_page(
    login_as: Callable[[str], TestClient], trial_db: Path, tmp_path: Path
) -> None:
    engine, ae_id = _seed(trial_db, tmp_path)
    try:
        investigator = login_as("investigator")
        page = investigator.get("/coding").text
        assert f'id="queue-ae-{ae_id}"' in page
        assert "sore elbow" in page
        assert 'action="/coding/assign"' not in page
        refused = investigator.post(
            "/coding/assign",
            data={"csrf_token": csrf_of(page), "kind": "ae", "record_id": str(ae_id),
                  "code": str(cd.LLT_HEAD_PAIN)},
        )  # fmt: skip
        assert refused.status_code == 403
        dm = login_as("data_manager")
        page = dm.get("/coding", params={"dictionary": "meddra", "search": "pain"}).text
        assert "meddra 99.0 (7 terms)" in page
        assert f"<td>{cd.LLT_HEAD_PAIN}</td><td>Head pain</td><td>Headache</td>" in page
        bad = dm.post(
            "/coding/assign",
            data={"csrf_token": csrf_of(page), "kind": "ae", "record_id": str(ae_id),
                  "code": str(cd.LLT_OLD_NAUSEA)},
        )  # fmt: skip
        assert bad.status_code == 422
        assert "not a current entry" in bad.text
        done = dm.post(
            "/coding/assign",
            data={"csrf_token": csrf_of(page), "kind": "ae", "record_id": str(ae_id),
                  "code": str(cd.LLT_HEAD_PAIN)},
        )  # fmt: skip
        assert done.status_code == 200
        assert f'id="queue-ae-{ae_id}"' not in done.text
        trail = audit_log(engine, table="coded_term")
        assert {(t.username, t.new_value) for t in trail if t.field == "code"} == {
            ("dag", str(cd.LLT_HEAD_PAIN))
        }
    finally:
        engine.dispose()
