"""Screening and enrolment in the web app (issue 12): registration needs a confirmation (an
empty or invalid form, and the first POST, create nothing), the screening page is reachable
from the casebook, a candidate whose screening C-SSRS scored type 5 is judged ineligible from
the recorded form and never enrolled, and an eligible one is enrolled at V0 and confirmed at
V4. Refusals store nothing (rows counted in every table)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.services.test_screening import TYPE_5
from tests.support.db import count_all
from tests.support.forms import fill, madrs
from tests.support.trial import ELIGIBLE, ROLE_USER, trial_of
from tests.support.web import csrf_of

from remit import services as sv
from remit.store import make_engine


def stored(engine: Engine) -> dict[str, int]:
    """Rows per table, but the access log (every page read adds to it)."""
    return {k: v for k, v in count_all(engine).items() if k != "identity_access_log"}


@pytest.fixture
def engine(trial_db: Path) -> Iterator[Engine]:
    found = make_engine(trial_db)
    yield found
    found.dispose()


def _register(client: TestClient, **fields: str) -> tuple[str, str]:
    """Post the registration form; return the confirmation page and the token."""
    token = csrf_of(client.get("/participants").text)
    page = client.post("/participants", data={"csrf_token": token, "site": "OST", **fields})
    return page.text, token


def _checklist(token: str, data: dict[str, object]) -> dict[str, str]:
    out = {"csrf_token": token}
    for k, v in data.items():
        out[f"item:{k}"] = ("yes" if v else "no") if isinstance(v, bool) else str(v)
    return out


def _new_candidate(client: TestClient, engine: Engine) -> str:
    _page, token = _register(client, sex="male", birth_year="1979", name="Per Hansen")
    done = client.post(
        "/participants",
        data={
            "csrf_token": token,
            "site": "OST",
            "sex": "male",
            "birth_year": "1979",
            "name": "Per Hansen",
            "confirm": "yes",
        },
    )
    assert done.status_code == 200, done.text
    pid = str(done.url).rsplit("/", 1)[1]
    trial = trial_of(engine)
    version = trial.protocol.consent.versions[-1]
    sv.record_consent(
        engine,
        trial.investigator,
        pid,
        version=version.version,
        components=list(version.components),
        consented_at=datetime.now(UTC) - timedelta(days=REFERRED_DAYS_AGO + 1),
    )
    return pid


#: How many days before today the web candidates are referred: the walk to V4 on the
#: target dates (about 52 days) then lies in the past.
REFERRED_DAYS_AGO = 60


def _target(engine: Engine, pid: str, code: str) -> date:
    trial = trial_of(engine)
    found = {v.visit_code: v for v in sv.list_visits(engine, trial.investigator, pid)}[code]
    assert found.target_date is not None, f"{pid} {code} has no target date yet"
    return found.target_date


def _local(day: date, hour: int = 10) -> str:
    """A time on ``day`` as the pages take it (site time)."""
    return datetime(day.year, day.month, day.day, hour).strftime("%Y-%m-%dT%H:%M")


def _to_screening_visit(engine: Engine, pid: str) -> datetime:
    """The screening visit (SCR) recorded on its target date, after the phone screen; returns
    10:00 UTC that day (when its C-SSRS is done)."""
    trial = trial_of(engine)
    day = _target(engine, pid, "SCR")
    sv.record_visit(engine, trial.investigator, pid, "SCR", day)
    return datetime(day.year, day.month, day.day, 10, tzinfo=UTC)


def test_registration_needs_a_confirmation_and_an_empty_form_creates_nothing(
    login_as: Callable[[str], TestClient], engine: Engine
) -> None:
    inv = login_as("investigator")
    before = stored(engine)
    token = csrf_of(inv.get("/participants").text)
    empty = inv.post("/participants", data={"csrf_token": token})
    assert empty.status_code == 422
    assert "sex is not given" in empty.text
    bad = inv.post(
        "/participants", data={"csrf_token": token, "sex": "female", "birth_year": "1850"}
    )
    assert bad.status_code == 422
    assert "birth year" in bad.text
    page, _ = _register(inv, sex="female", birth_year="1980", name="Ola Nordmann")
    assert "Nothing has been created yet" in page
    assert "yes: name" in page
    assert stored(engine) == before
    confirmed = inv.post(
        "/participants",
        data={
            "csrf_token": token,
            "site": "OST",
            "sex": "female",
            "birth_year": "1980",
            "name": "Ola Nordmann",
            "confirm": "yes",
        },
    )
    assert confirmed.status_code == 200
    assert str(confirmed.url).endswith("/participants/OSL-003")
    assert stored(engine)["participant"] == before["participant"] + 1


def test_the_type_5_candidate_is_ineligible_from_the_recorded_form_and_never_enrolled(
    login_as: Callable[[str], TestClient], engine: Engine
) -> None:
    inv = login_as("investigator")
    pid = _new_candidate(inv, engine)
    casebook = inv.get(f"/participants/{pid}").text
    assert f'href="/participants/{pid}/screening"' in casebook
    page = inv.get(f"/participants/{pid}/screening")
    assert page.status_code == 200
    token = csrf_of(page.text)
    assert 'id="referral-form"' in page.text
    assert "no cssrs form recorded at SCR" in page.text
    referred = date.today() - timedelta(days=REFERRED_DAYS_AGO)
    done = inv.post(
        f"/participants/{pid}/screening/referral",
        data={"csrf_token": token, "referral_date": referred.isoformat(), "source": "GP"},
    )
    assert "Referral: GP" in done.text
    done = inv.post(
        f"/participants/{pid}/screening/phone",
        data={
            "csrf_token": token,
            "outcome": "pass",
            "screened_at": _local(_target(engine, pid, "PHONE")),
        },
    )
    assert "Phone screen: pass" in done.text
    trial = trial_of(engine)
    when = _to_screening_visit(engine, pid)
    sv.record_assessment(
        engine,
        trial.investigator,
        pid,
        "SCR",
        "cssrs",
        TYPE_5,
        version="baseline",
        assessed_at=when,
    )
    page = inv.get(f"/participants/{pid}/screening").text
    assert "SCR cssrs ideation_type" in page
    done = inv.post(f"/participants/{pid}/screening/eligibility", data=_checklist(token, ELIGIBLE))
    assert done.status_code == 200, done.text
    assert "Ineligible" in done.text or "ineligible" in done.text
    assert "cssrs_ideation_type is 5; excluded when &gt;= 4" in done.text
    assert 'id="enrol-form"' not in done.text
    before = stored(engine)
    refused = inv.post(
        f"/participants/{pid}/screening/enrol",
        data={"csrf_token": token, "at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M")},
    )
    assert refused.status_code == 422
    assert "not eligible" in refused.text
    assert stored(engine) == before
    assert sv.get_participant(engine, trial.investigator, pid).enrolled_at is None


def test_enrolment_at_v0_and_confirmation_at_v4_in_the_web(
    login_as: Callable[[str], TestClient], engine: Engine
) -> None:
    inv = login_as("investigator")
    pid = _new_candidate(inv, engine)
    trial = trial_of(engine)
    token = csrf_of(inv.get(f"/participants/{pid}/screening").text)
    referred = date.today() - timedelta(days=REFERRED_DAYS_AGO)
    sv.record_referral(engine, trial.investigator, pid, referral_date=referred, source="GP")
    phone = _target(engine, pid, "PHONE")
    sv.record_phone_screen(
        engine,
        trial.investigator,
        pid,
        outcome="pass",
        screened_at=datetime(phone.year, phone.month, phone.day, 10, tzinfo=UTC),
    )
    sv.record_assessment(
        engine,
        trial.investigator,
        pid,
        "SCR",
        "cssrs",
        fill("cssrs", "baseline"),
        version="baseline",
        assessed_at=_to_screening_visit(engine, pid),
    )
    done = inv.post(f"/participants/{pid}/screening/eligibility", data=_checklist(token, ELIGIBLE))
    assert "Before enrolment: all 12 criteria met" in done.text
    assert "At the confirmation of enrolment: madrs_entry missing" in done.text  # V3 MADRS
    assert 'id="enrol-form"' in done.text
    v0 = _local(_target(engine, pid, "V0"))
    done = inv.post(f"/participants/{pid}/screening/enrol", data={"csrf_token": token, "at": v0})
    assert done.status_code == 200, done.text
    assert f"by {ROLE_USER['investigator']}" in done.text
    assert 'id="confirm-form"' in done.text
    before = stored(engine)
    refused = inv.post(
        f"/participants/{pid}/screening/confirm", data={"csrf_token": token, "at": v0}
    )
    assert refused.status_code == 422
    assert "have not taken place" in refused.text
    assert stored(engine) == before
    for code in ("V1", "V2", "V3"):
        sv.record_visit(engine, trial.investigator, pid, code, _target(engine, pid, code))
    sv.record_assessment(engine, trial.rater, pid, "V3", "madrs", madrs(3, 1))
    v4 = _target(engine, pid, "V4")
    done = inv.post(
        f"/participants/{pid}/screening/confirm", data={"csrf_token": token, "at": _local(v4)}
    )
    assert done.status_code == 200, done.text
    assert "Enrolment confirmed at V4: " in done.text
    assert "not confirmed" not in done.text
    person = sv.get_participant(engine, trial.investigator, pid)
    assert person.baseline_date == v4


def test_a_rater_sees_the_page_without_the_forms(login_as: Callable[[str], TestClient]) -> None:
    rater = login_as("independent_rater")
    page = rater.get("/participants/OSL-002/screening")
    assert page.status_code == 200
    assert "eligibility-form" not in page.text
    assert "failure-form" not in page.text


def test_the_api_walks_screening_and_refuses_the_type_5_candidate(
    api_as: Callable[[str], TestClient], engine: Engine
) -> None:
    trial = trial_of(engine)
    inv = api_as("investigator")
    pid = sv.screen_participant(
        engine, trial.investigator, sex="female", birth_year=1985
    ).participant_id
    version = trial.protocol.consent.versions[-1]
    sv.record_consent(
        engine,
        trial.investigator,
        pid,
        version=version.version,
        components=list(version.components),
        consented_at=datetime.now(UTC) - timedelta(days=REFERRED_DAYS_AGO + 1),
    )
    base = f"/api/v1/participants/{pid}"
    referred = date.today() - timedelta(days=REFERRED_DAYS_AGO)
    made = inv.post(
        f"{base}/referral", json={"referral_date": referred.isoformat(), "source": "self"}
    )
    assert made.status_code == 201, made.text
    assert made.json()["referral_source"] == "self"
    phone = _target(engine, pid, "PHONE")
    phoned = inv.post(
        f"{base}/phone-screen",
        json={
            "outcome": "pass",
            "screened_at": datetime(phone.year, phone.month, phone.day, 10, tzinfo=UTC).isoformat(),
        },
    )
    assert phoned.status_code == 201, phoned.text
    sv.record_assessment(
        engine,
        trial.investigator,
        pid,
        "SCR",
        "cssrs",
        TYPE_5,
        version="baseline",
        assessed_at=_to_screening_visit(engine, pid),
    )
    shown = inv.get(f"{base}/screening").json()
    by_id = {c["id"]: c for c in shown["criteria"]}
    assert (by_id["suicide_risk"]["status"], by_id["suicide_risk"]["value"]) == ("unmet", 5)
    decided = inv.post(f"{base}/eligibility", json={"answers": dict(ELIGIBLE)})
    assert decided.status_code == 201, decided.text
    assert decided.json()["eligible"] is False
    rater = api_as("independent_rater")  # logging in stores login rows: before counting
    before = stored(engine)
    refused = inv.post(f"{base}/enrolment", json={})
    assert refused.status_code == 422
    assert "not eligible" in refused.text
    refused = inv.post(f"{base}/enrolment/confirmation", json={})
    assert refused.status_code == 422
    assert stored(engine) == before
    assert rater.post(f"{base}/screen-failure", json={"code": "declined"}).status_code == 403
    assert stored(engine) == before
