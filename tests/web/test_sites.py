"""A site-bound user sees and touches only their own site's participants, on every surface."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.support.presets import two_site_protocol
from tests.support.trial import PASSWORD, stage, trial_file
from tests.support.web import page_login

from remit.web import WebSettings, create_app


@pytest.fixture
def two_sites(tmp_path: Path) -> FastAPI:
    made = trial_file(
        tmp_path / "two.db",
        protocol=two_site_protocol(),
        sites=None,
        staff={"kari": [("investigator", "OST")], "olav": [("investigator", "OUS")]},
        participants=[
            stage("screened", site=site, sex=None, birth_year=None) for site in ("OST", "OUS")
        ],
    )
    assert made.participants == ("OSL-001", "OSL-002")
    return create_app(str(tmp_path / "two.db"), settings=WebSettings(work_dir=tmp_path / "w"))


def test_a_site_bound_user_sees_only_their_site(two_sites: FastAPI) -> None:
    pages = TestClient(two_sites, follow_redirects=False)
    assert page_login(pages, "kari").status_code == 303
    listing = pages.get("/participants").text
    assert "OSL-001" in listing
    assert "OSL-002" not in listing
    assert pages.get("/participants/OSL-002").status_code == 403
    assert pages.get("/participants/OSL-002/visits/V3/forms/sds").status_code == 403
    assert pages.get("/participants/OSL-002/identity").status_code == 403
    api = TestClient(two_sites)
    token = api.post("/api/v1/auth/login", json={"username": "kari", "password": PASSWORD})
    api.headers["Authorization"] = f"Bearer {token.json()['token']}"
    assert [p["participant_id"] for p in api.get("/api/v1/participants").json()] == ["OSL-001"]
    assert api.get("/api/v1/participants/OSL-002/visits").status_code == 403
    sds = {"participant_id": "OSL-002", "visit_code": "V3", "scale": "sds",
           "answers": {"1": 2, "2": 2, "3": 2}}  # fmt: skip
    assert api.post("/api/v1/assessments", json=sds).status_code == 403
