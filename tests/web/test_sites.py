"""A site-bound user sees and touches only their own site's participants, on every surface."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.web.conftest import page_login
from tests.web.trial import PASSWORD

from remit import services as sv
from remit.protocol import load_protocol
from remit.protocol.loader import parse_protocol
from remit.store import Actor, make_engine, upgrade
from remit.web import WebSettings, create_app


@pytest.fixture
def two_sites(tmp_path: Path) -> FastAPI:
    text = load_protocol("oslo-mdma-mdd").text.replace(
        'sites = [{ code = "OST", name = "Østfold Hospital Trust", country = "NO" }]',
        'sites = [{ code = "OST", name = "Østfold Hospital Trust", country = "NO" }, '
        '{ code = "OUS", name = "Oslo University Hospital", country = "NO" }]',
    )
    protocol, problems = parse_protocol(text)
    assert protocol is not None, problems
    engine = make_engine(tmp_path / "two.db")
    upgrade(engine)
    trial = sv.create_trial(engine, protocol, admin_username="ada", admin_password=PASSWORD)
    admin = Actor(trial.admin.id, "ada", "admin", None)
    for name, role, site in [("kari", "investigator", "OST"), ("olav", "investigator", "OUS")]:
        sv.add_user(engine, admin, name, PASSWORD, [(role, site)])
    kari = Actor(2, "kari", "investigator", 1)
    olav = Actor(3, "olav", "investigator", 2)
    sv.screen_participant(engine, kari, site="OST")  # OSL-001
    sv.screen_participant(engine, olav, site="OUS")  # OSL-002
    engine.dispose()
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
