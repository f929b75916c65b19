"""Concomitant medications in the web app and the JSON API (issue 12, part 4): a therapist adds
an SSRI with its ATC code and a dated taper on the participant's medication page; the dosing page
shows it as a blocking item and refuses the dose; after it is stopped (and the washout is over)
the dose goes through. Over the API: add, list, edit with a reason, stop; a bad ATC code is
refused and nothing is stored."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select
from tests.support.predose import ready_over_api
from tests.support.web import csrf_of

from remit.store.tables import ConcomitantMedication

MEDS = "/participants/OSL-001/conmeds"
DOSING = "/participants/OSL-001/dosing/V5"
NORMAL = {"systolic_bp": "124", "diastolic_bp": "80", "heart_rate": "72", "temperature": "36.8"}
API = "/api/v1/participants/OSL-001/conmeds"


def _count(trial_db: Path) -> int:
    engine = create_engine(f"sqlite:///{trial_db}")
    try:
        with engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(ConcomitantMedication)) or 0)
    finally:
        engine.dispose()


@pytest.mark.dosing_day
def test_medication_page_blocks_the_dose_until_stopped(
    login_as: Callable[[str], TestClient], api_as: Callable[[str], TestClient], trial_db: Path
) -> None:
    therapist = login_as("therapist")
    casebook = therapist.get("/participants/OSL-001").text
    assert f'href="{MEDS}"' in casebook
    page = therapist.get(MEDS).text
    assert "SSRIs (N06AB): washout 14 days" in page
    assert "antipsychotics (N05A, not N05AN): washout 14 days" in page
    token = csrf_of(page)
    before = _count(trial_db)
    bad = therapist.post(MEDS, data={"csrf_token": token, "name": "sertraline", "atc_code": "SSRI"})
    assert bad.status_code == 422
    assert "not of the shape" in bad.text
    assert _count(trial_db) == before
    page = therapist.post(
        MEDS,
        data={
            "csrf_token": token, "name": "sertraline", "atc_code": "N06AB06", "dose": "100 mg",
            "route": "oral", "indication": "depression", "start_date": "2022-01-01",
            "taper": "2026-01-15 50 mg\n2026-02-01 25 mg",
        },
    ).text  # fmt: skip
    assert _count(trial_db) == before + 1
    row = re.search(r'<tr id="conmed-(\d+)" class="flag">(.*?)</tr>', page, re.S)
    assert row
    med_id = row[1]
    assert "prohibited: SSRIs" in row[2]
    assert "no stop date: no dose while ongoing" in row[2]
    assert "<li>2026-01-15: 50 mg</li><li>2026-02-01: 25 mg</li>" in row[2]

    page = therapist.get(DOSING).text
    block = re.search(r'<div class="blocked" id="washout">(.*?)</div>', page, re.S)
    assert block
    assert "sertraline (N06AB06, SSRIs) is ongoing (no stop date)" in block[1]
    assert "An investigator must override" in block[1]
    dtoken = csrf_of(page)
    for step, data in [
        ("start", {"started_at": "2026-03-02T08:00"}),
        ("vitals", {"measured_at": "2026-03-02T08:45", **NORMAL}),
    ]:
        assert therapist.post(f"{DOSING}/{step}", data={"csrf_token": dtoken, **data}).is_success
    dose = {"csrf_token": dtoken, "kind": "initial", "dose_mg": "80", "status": "given",
            "at": "2026-03-02T09:00"}  # fmt: skip
    refused = therapist.post(f"{DOSING}/dose", data=dose)
    assert refused.status_code == 422
    assert "prohibited medication: sertraline" in refused.text

    stopped = therapist.post(
        f"{MEDS}/{med_id}/stop", data={"csrf_token": token, "stop_date": "2026-02-17"}
    )
    assert stopped.status_code == 200, stopped.text
    assert "earliest dose 2026-03-03" in stopped.text
    refused = therapist.post(f"{DOSING}/dose", data=dose)
    assert refused.status_code == 422  # one day of the washout left on 2026-03-02
    assert "sertraline (N06AB06, SSRIs) stopped 2026-02-17" in refused.text
    investigator = login_as("investigator")
    itoken = csrf_of(investigator.get(f"{MEDS}/{med_id}/edit").text)
    no_reason = investigator.post(
        f"{MEDS}/{med_id}/edit",
        data={"csrf_token": itoken, "name": "sertraline", "atc_code": "N06AB06",
              "stop_date": "2026-02-16"},
    )  # fmt: skip
    assert no_reason.status_code == 422
    assert "reason for the change is empty" in no_reason.text
    edited = investigator.post(
        f"{MEDS}/{med_id}/edit",
        data={"csrf_token": itoken, "name": "sertraline", "atc_code": "N06AB06",
              "dose": "100 mg", "route": "oral", "start_date": "2022-01-01",
              "stop_date": "2026-02-16", "taper": "2026-01-15 50 mg\n2026-02-01 25 mg",
              "reason": "stopped on the day after the last taper step, per the chart"},
    )  # fmt: skip
    assert edited.status_code == 200, edited.text
    assert "earliest dose 2026-03-02" in edited.text
    # (api_as: the checklist's results and ticks over the API)
    ready_over_api(
        api_as("investigator"), api_as("therapist"), "OSL-001", "V5", "2026-03-02T08:55:00+01:00"
    )
    given = therapist.post(f"{DOSING}/dose", data=dose)
    assert given.status_code == 200, given.text
    assert 'id="washout"' not in given.text


def test_medications_over_the_api(api_as: Callable[[str], TestClient], trial_db: Path) -> None:
    therapist, investigator, rater = (
        api_as("therapist"),
        api_as("investigator"),
        api_as("independent_rater"),
    )
    before = _count(trial_db)
    bad = therapist.post(API, json={"name": "sertraline", "atc_code": "N06"})
    assert bad.status_code == 422
    assert "too general" in bad.json()["message"]
    assert _count(trial_db) == before
    body = {
        "name": "fluoxetine", "atc_code": "N06AB03", "dose": "20 mg", "start_date": "2023-05-01",
        "taper_steps": [{"date": "2026-01-01", "dose": "10 mg"}],
    }  # fmt: skip
    made = therapist.post(API, json=body, headers={"Idempotency-Key": "fluox-1"})
    assert made.status_code == 201, made.text
    again = therapist.post(API, json=body, headers={"Idempotency-Key": "fluox-1"})
    assert again.json() == made.json()
    assert _count(trial_db) == before + 1
    med = made.json()
    assert (med["atc_class"], med["prohibited"], med["washout_days"]) == ("N06AB", "fluoxetine", 35)
    assert med["taper_steps"] == [{"date": "2026-01-01", "dose": "10 mg"}]
    path = f"/api/v1/conmeds/{med['id']}"
    assert investigator.patch(path, json={"reason": "", "dose": "10 mg"}).status_code == 422
    edited = investigator.patch(path, json={"reason": "dose was halved", "dose": "10 mg"})
    assert edited.status_code == 200, edited.text
    assert edited.json()["dose"] == "10 mg"
    assert rater.post(f"{path}/stop", json={"stop_date": "2026-01-20"}).status_code == 403
    stopped = therapist.post(f"{path}/stop", json={"stop_date": "2026-01-20"})
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["earliest_dose"] == "2026-02-24"
    listed = rater.get(API)
    assert listed.status_code == 200
    assert [m["stop_date"] for m in listed.json()] == ["2026-01-20"]
