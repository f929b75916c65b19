"""Registration collects race and ethnicity on the page only when the protocol does (the RCT
example; CDISC terms, NOT REPORTED offered, a missing or unknown term refused with nothing
created) and never under the Oslo protocol; the adverse-event form takes the end date and the
action taken with the study treatment and the casebook shows them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.support.db import count_all
from tests.support.trial import build_trial
from tests.support.web import csrf_of, page_login

from remit import services as sv
from remit.protocol import load_protocol
from remit.store import make_engine, upgrade
from remit.web import WebSettings, create_app

TODAY = date.today().isoformat()


def _client(engine: Engine, tmp_path: Path, user: str) -> TestClient:
    app = create_app(
        engine.url.render_as_string(hide_password=False),
        secret_key="test-secret",
        settings=WebSettings(work_dir=tmp_path / "web"),
    )
    client = TestClient(app, follow_redirects=True)
    assert page_login(client, user).status_code == 200
    return client


@pytest.fixture
def rct_engine(tmp_path: Path, fast_password_hashing: None) -> Iterator[Engine]:
    engine = make_engine(tmp_path / "rct.db")
    upgrade(engine)
    build_trial(engine, protocol=load_protocol("mdma-mdd-rct-example"), sites=None)
    yield engine
    engine.dispose()


@pytest.fixture
def oslo_engine(trial_db: Path) -> Iterator[Engine]:
    engine = make_engine(trial_db)
    yield engine
    engine.dispose()


def _stored(engine: Engine) -> dict[str, int]:
    return {k: v for k, v in count_all(engine).items() if k != "identity_access_log"}


def test_race_and_ethnicity_are_asked_when_collected(rct_engine: Engine, tmp_path: Path) -> None:
    client = _client(rct_engine, tmp_path, "kari")
    form = client.get("/participants")
    assert 'name="race"' in form.text
    assert 'name="ethnicity"' in form.text
    assert "NOT REPORTED" in form.text
    token = csrf_of(form.text)
    base = {"csrf_token": token, "site": "OST", "sex": "female", "birth_year": "1981"}
    before = _stored(rct_engine)
    missing = client.post("/participants", data={**base, "ethnicity": "UNKNOWN", "confirm": "yes"})
    assert missing.status_code == 422
    assert "race is not given" in missing.text
    unknown = client.post(
        "/participants", data={**base, "race": "Nordic", "ethnicity": "UNKNOWN", "confirm": "yes"}
    )
    assert unknown.status_code == 422
    assert "race &#39;Nordic&#39;" in unknown.text
    assert _stored(rct_engine) == before
    chosen = {**base, "race": "ASIAN", "ethnicity": "NOT REPORTED"}
    confirm = client.post("/participants", data=chosen)
    assert "Confirm registration" in confirm.text
    assert 'name="race" value="ASIAN"' in confirm.text
    assert _stored(rct_engine) == before
    done = client.post("/participants", data={**chosen, "confirm": "yes"})
    assert done.status_code == 200, done.text
    pid = str(done.url).rsplit("/", 1)[1]
    trial = sv.trial_protocol(rct_engine)
    assert trial.demographics.collects("race")
    person = sv.get_participant(rct_engine, sv.Actor.system("test"), pid)
    assert (person.race, person.ethnicity) == ("ASIAN", "NOT REPORTED")


def test_the_oslo_page_never_asks_race_and_refuses_a_posted_one(
    oslo_engine: Engine, tmp_path: Path
) -> None:
    client = _client(oslo_engine, tmp_path, "kari")
    form = client.get("/participants")
    assert 'name="race"' not in form.text
    before = _stored(oslo_engine)
    posted = client.post(
        "/participants",
        data={"csrf_token": csrf_of(form.text), "site": "OST", "sex": "male",
              "birth_year": "1979", "race": "WHITE", "confirm": "yes"},
    )  # fmt: skip
    assert posted.status_code == 422
    assert "does not collect race" in posted.text
    assert _stored(oslo_engine) == before


def test_the_ae_form_takes_end_date_and_action_taken(oslo_engine: Engine, tmp_path: Path) -> None:
    client = _client(oslo_engine, tmp_path, "tor")
    page = client.get("/participants/OSL-001/ae/new")
    assert 'name="action_taken"' in page.text
    assert 'value="drug_interrupted"' in page.text
    base = {"csrf_token": csrf_of(page.text), "term": "dizziness", "onset_date": TODAY,
            "severity": "mild", "relatedness": "possible"}  # fmt: skip
    refused = client.post("/participants/OSL-001/ae", data={**base, "action_taken": "DOSE DELAYED"})
    assert refused.status_code == 422
    assert "action taken" in refused.text.lower()
    done = client.post(
        "/participants/OSL-001/ae",
        data={**base, "outcome": "recovered", "end_date": TODAY,
              "action_taken": "dose_not_changed"},
    )  # fmt: skip
    assert done.status_code == 200, done.text
    assert "dose not changed" in done.text
    assert TODAY in done.text
    found = [
        ae for ae in sv.list_adverse_events(oslo_engine, sv.Actor.system("t"), "OSL-001")
        if ae.term == "dizziness"
    ]  # fmt: skip
    assert [(a.action_taken, str(a.end_date)) for a in found] == [("dose_not_changed", TODAY)]
