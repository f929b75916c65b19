"""The pages for people, through the test client: forms, edits, conflicts, dosing day,
alerts, adverse events, queries, signatures, audit, identity, report, exports, users."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from tests.support.predose import ready_over_api
from tests.support.trial import PASSWORD
from tests.support.web import csrf_of

from remit.web.forms import form_fields

MADRS = "/participants/OSL-001/visits/V3/forms/madrs"
CSSRS = "/participants/OSL-001/visits/V3/forms/cssrs"
DOSING = "/participants/OSL-001/dosing/V5"


#: When the V3 forms were done: a minute ago at the site (V3 falls due today, see conftest).
V3_AT = (
    (datetime.now(UTC) - timedelta(minutes=1))
    .astimezone(ZoneInfo("Europe/Oslo"))
    .strftime("%Y-%m-%dT%H:%M")
)


def madrs_form(token: str, each: str = "3") -> dict[str, str]:
    return {
        "csrf_token": token,
        "assessed_at": V3_AT,
        **{f.name: each for f in form_fields("madrs")},
    }


def cssrs_form(token: str, wish: str = "no") -> dict[str, str]:
    data = {"csrf_token": token, "assessed_at": V3_AT}
    for f in form_fields("cssrs", "since_last_visit"):
        if f.kind == "boolean":
            data[f.name] = "no"
    data["wish_to_be_dead"] = wish
    return data


def score_of(html: str) -> str:
    found = re.search(r'id="score-total">([^<]*)<', html)
    assert found, "no score on the page"
    return found.group(1).strip()


def test_form_page_has_a_label_range_and_anchor_for_every_field(
    login_as: Callable[[str], TestClient],
) -> None:
    client = login_as("independent_rater")
    page = client.get(MADRS)
    assert page.status_code == 200
    for f in form_fields("madrs"):
        assert f'<label for="f-{f.name}">' in page.text
        assert f'id="f-{f.name}-allowed"' in page.text
    assert 'min="0" max="6"' in page.text
    assert "a whole number from 0 to 6" in page.text.lower()


def test_bad_values_are_shown_next_to_each_field_and_nothing_is_stored(
    login_as: Callable[[str], TestClient],
) -> None:
    client = login_as("independent_rater")
    data = madrs_form(csrf_of(client.get(MADRS).text))
    data["apparent_sadness"] = "9"
    data["reported_sadness"] = "two"
    response = client.post(MADRS, data=data)
    assert response.status_code == 422
    assert 'id="f-apparent_sadness-error"' in response.text
    assert 'id="f-reported_sadness-error"' in response.text
    assert 'id="f-inner_tension-error"' not in response.text
    assert 'value="two"' in response.text  # what was typed is kept
    api = client.get("/participants/OSL-001")
    assert "not entered" in api.text


def test_rater_enters_madrs_sees_score_and_a_retry_does_not_duplicate(
    login_as: Callable[[str], TestClient],
) -> None:
    client = login_as("independent_rater")
    page = client.get(MADRS)
    data = madrs_form(csrf_of(page.text))
    data["idempotency_key"] = page.text.split('name="idempotency_key" value="')[1].split('"')[0]
    saved = client.post(MADRS, data=data)
    assert saved.status_code == 200
    assert score_of(saved.text) == "30"
    again = client.post(MADRS, data=data)  # a double click / resend
    assert again.url == saved.url
    assert client.get(MADRS).url == saved.url.copy_with(query=None)


def test_wrong_rater_role_is_refused(login_as: Callable[[str], TestClient]) -> None:
    client = login_as("therapist")
    response = client.post(MADRS, data=madrs_form(csrf_of(client.get(MADRS).text)))
    assert response.status_code == 403
    assert "independent" in response.text.lower()


def test_edit_needs_a_reason_and_the_audit_history_shows_old_and_new(
    login_as: Callable[[str], TestClient],
) -> None:
    client = login_as("investigator")
    saved = client.post(CSSRS, data=cssrs_form(csrf_of(client.get(CSSRS).text)))
    assert saved.status_code == 200
    action = re.search(r'action="(/assessments/\d+/edit)"', saved.text)
    assert action
    form = cssrs_form(csrf_of(saved.text), wish="yes")
    form["expected_version"] = re.search(r'name="expected_version" value="(\d+)"', saved.text)[1]
    no_reason = client.post(action[1], data=form)
    assert no_reason.status_code == 422
    assert 'id="reason-error"' in no_reason.text
    form["reason"] = "participant corrected the answer"
    edited = client.post(action[1], data=form)
    assert edited.status_code == 200
    record = action[1].split("/")[2]
    history = client.get(f"/audit/assessment/{record}")
    assert history.status_code == 200
    assert "participant corrected the answer" in history.text
    assert "wish_to_be_dead" in history.text
    assert (
        '<td>answers.wish_to_be_dead</td><td class="old">false</td><td class="new">true</td>'
        "<td>participant corrected the answer</td>"
    ) in history.text


def test_a_stale_save_shows_the_conflict_page(login_as: Callable[[str], TestClient]) -> None:
    first = login_as("investigator")
    saved = first.post(CSSRS, data=cssrs_form(csrf_of(first.get(CSSRS).text)))
    edit = re.search(r'action="(/assessments/\d+/edit)"', saved.text)[1]
    stale_version = re.search(r'name="expected_version" value="(\d+)"', saved.text)[1]
    form = cssrs_form(csrf_of(saved.text), wish="yes")
    form |= {"expected_version": stale_version, "reason": "first edit"}
    assert first.post(edit, data=form).status_code == 200
    form["reason"] = "second edit from an old page"
    form["non_specific_active_thoughts"] = "yes"
    conflict = first.post(edit, data=form)
    assert conflict.status_code == 409
    assert "Someone else saved this form first" in conflict.text
    assert "not</strong> saved" in conflict.text


@pytest.mark.dosing_day
def test_dosing_day_vitals_beyond_threshold_raise_an_alert_the_investigator_acknowledges(
    login_as: Callable[[str], TestClient],
    api_as: Callable[[str], TestClient],
) -> None:
    therapist = login_as("therapist")
    token = csrf_of(therapist.get(DOSING).text)
    started = therapist.post(
        f"{DOSING}/start", data={"csrf_token": token, "started_at": "2026-03-02T08:00"}
    )
    assert started.status_code == 200
    ready_over_api(
        api_as("investigator"), api_as("therapist"), "OSL-001", "V5", "2026-03-02T08:55:00+01:00"
    )
    steps = [
        ("dose", {"kind": "initial", "dose_mg": "80", "status": "given", "at": "2026-03-02T09:00"}),
        ("vitals", {"measured_at": "2026-03-02T09:30", "systolic_bp": "172", "diastolic_bp": "94",
                    "heart_rate": "88", "temperature": "37.1"}),
    ]  # fmt: skip
    for step, data in steps:
        response = therapist.post(f"{DOSING}/{step}", data={"csrf_token": token, **data})
        assert response.status_code == 200, response.text
    page = therapist.get(DOSING)
    assert '<td class="beyond">172 <strong>beyond threshold</strong></td>' in page.text
    assert "<td>94</td>" in page.text  # within its limits: not marked
    assert "Supplemental offer window" in page.text
    assert 'id="offer-window"' in page.text
    vas = {"csrf_token": token, "timepoint": "initial_dose", "assessed_at": "2026-03-02T09:05"}
    vas |= {f.name: "10" for f in form_fields("se_vas")}
    assert therapist.post(f"{DOSING}/vas", data=vas).status_code == 200
    investigator = login_as("investigator")
    inbox = investigator.get("/alerts")
    alert = re.search(r'action="/alerts/(\d+)/acknowledge"', inbox.text)
    assert alert, "no alert to acknowledge"
    ack = investigator.post(
        f"/alerts/{alert[1]}/acknowledge",
        data={"csrf_token": csrf_of(inbox.text), "note": "physician at the bedside"},
    )
    assert ack.status_code == 200
    assert "physician at the bedside" in ack.text
    assert "acknowledged" in ack.text
    closed = investigator.post(
        f"/alerts/{alert[1]}/close",
        data={"csrf_token": csrf_of(ack.text), "note": "back to 140/85 after 30 min"},
    )
    assert "back to 140/85" in closed.text
    refused = therapist.post(
        f"/alerts/{alert[1]}/acknowledge", data={"csrf_token": token, "note": "x"}
    )
    assert refused.status_code == 403


def test_adverse_event_query_and_signature(login_as: Callable[[str], TestClient]) -> None:
    therapist = login_as("therapist")
    page = therapist.get("/participants/OSL-001/ae/new")
    assert page.status_code == 200
    ae = therapist.post(
        "/participants/OSL-001/ae",
        data={"csrf_token": csrf_of(page.text), "term": "headache", "onset_date": "2026-03-02",
              "severity": "mild", "relatedness": "possible", "outcome": "recovered",
              "end_date": "2026-03-03"},
    )  # fmt: skip
    assert ae.status_code == 200
    assert "headache" in ae.text
    investigator = login_as("investigator")
    saved = investigator.post(CSSRS, data=cssrs_form(csrf_of(investigator.get(CSSRS).text)))
    record = re.search(r"/assessments/(\d+)/edit", saved.text)[1]
    monitor = login_as("monitor")
    form_page = monitor.get(f"/assessments/{record}")
    opened = monitor.post(
        "/queries",
        data={"csrf_token": csrf_of(form_page.text), "record_table": "assessment",
              "record_id": record, "field": "answers.wish_to_be_dead", "text": "source says yes?"},
    )  # fmt: skip
    assert "source says yes?" in opened.text
    query = re.search(r'action="/queries/(\d+)/close"', opened.text)[1]
    listing = investigator.get("/queries")
    answered = investigator.post(
        f"/queries/{query}/answer",
        data={"csrf_token": csrf_of(listing.text), "message": "checked: no"},
    )
    assert "checked: no" in answered.text
    sign_page = investigator.get(f"/sign/assessment/{record}")
    wrong = investigator.post(
        f"/sign/assessment/{record}",
        data={"csrf_token": csrf_of(sign_page.text), "password": "wrong password!",
              "meaning": "approved"},
    )  # fmt: skip
    assert wrong.status_code == 401
    signed = investigator.post(
        f"/sign/assessment/{record}",
        data={"csrf_token": csrf_of(sign_page.text), "password": PASSWORD,
              "meaning": "approved"},
    )  # fmt: skip
    assert signed.status_code == 200
    assert "<strong>signed</strong>" in signed.text


def test_identity_is_for_investigators_and_every_read_is_logged(
    login_as: Callable[[str], TestClient],
) -> None:
    rater = login_as("independent_rater")
    assert rater.get("/participants/OSL-001/identity").status_code == 403
    investigator = login_as("investigator")
    page = investigator.get("/participants/OSL-001/identity")
    shown = investigator.post(
        "/participants/OSL-001/identity",
        data={"csrf_token": csrf_of(page.text), "purpose": "call about the next visit"},
    )
    assert "Kari Nordmann" in shown.text
    assert "Kari Nordmann" not in investigator.get("/participants/OSL-001").text


def test_statistician_exports_and_builds_the_report(
    login_as: Callable[[str], TestClient],
) -> None:
    rater = login_as("independent_rater")
    assert rater.get("/exports").status_code == 403
    assert rater.get("/report").status_code == 403
    statistician = login_as("statistician")
    page = statistician.get("/exports")
    done = statistician.post("/exports", data={"csrf_token": csrf_of(page.text), "format_csv": "1"})
    assert done.status_code == 200
    name = re.search(r'href="/exports/(export-[^"]+\.zip)"', done.text)[1]
    download = statistician.get(f"/exports/{name}")
    assert download.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        names = archive.namelist()
    assert any(n.endswith("participants.csv") or "participant" in n for n in names), names
    assert statistician.get("/exports/..%2F..%2Fetc%2Fpasswd").status_code == 404


def test_admin_adds_a_user_who_can_log_in(login_as: Callable[[str], TestClient]) -> None:
    admin = login_as("admin")
    page = admin.get("/admin/users")
    assert "kari" in page.text
    added = admin.post(
        "/admin/users",
        data={"csrf_token": csrf_of(page.text), "username": "nora",
              "password": "a long new passphrase", "role": "therapist", "site": "OST"},
    )  # fmt: skip
    assert added.status_code == 200
    assert "nora" in added.text
    short = admin.post(
        "/admin/users",
        data={"csrf_token": csrf_of(page.text), "username": "ola", "password": "short",
              "role": "therapist", "site": "OST"},
    )  # fmt: skip
    assert short.status_code == 422
    assert "characters" in short.text


def test_dashboard_counts(login_as: Callable[[str], TestClient]) -> None:
    page = login_as("investigator").get("/")
    assert page.status_code == 200
    assert re.search(r'class="big">1 <span>of 12 target', page.text)
    assert "Overdue visits" in page.text
    assert "Visits due this week" in page.text


def test_report_without_data_says_what_is_missing(login_as: Callable[[str], TestClient]) -> None:
    statistician = login_as("statistician")
    page = statistician.get("/report")
    assert "has not been built yet" in page.text
    assert statistician.get("/report/view").status_code == 404
    refused = statistician.post("/report", data={"csrf_token": csrf_of(page.text)})
    assert refused.status_code == 422
    assert "no scale total is recorded" in refused.text


def test_report_is_built_from_the_current_data_and_shown(
    login_as: Callable[[str], TestClient], api_as: Callable[[str], TestClient]
) -> None:
    madrs = {"participant_id": "OSL-001", "visit_code": "V3", "scale": "madrs",
             "answers": {str(i): 3 for i in range(1, 11)}}  # fmt: skip
    assert api_as("independent_rater").post("/api/v1/assessments", json=madrs).status_code == 201
    statistician = login_as("statistician")
    built = statistician.post(
        "/report", data={"csrf_token": csrf_of(statistician.get("/report").text)}
    )
    assert built.status_code == 200
    assert 'id="report-link"' in built.text
    view = statistician.get("/report/view")
    assert view.status_code == 200
    assert "OSL-001" in view.text or "madrs" in view.text.lower()
    assert "unsafe-inline" in view.headers["content-security-policy"].split("style-src")[1]
    assert "<script" not in view.text.lower()


def test_a_refused_field_of_a_fixed_form_is_named(login_as: Callable[[str], TestClient]) -> None:
    therapist = login_as("therapist")
    page = therapist.get("/participants/OSL-001/ae/new")
    refused = therapist.post(
        "/participants/OSL-001/ae",
        data={"csrf_token": csrf_of(page.text), "term": "nausea", "onset_date": "yesterday",
              "severity": "mild", "relatedness": "sometimes"},
    )  # fmt: skip
    assert refused.status_code == 422
    assert "onset date &#39;yesterday&#39;" in refused.text
    assert "relatedness &#39;sometimes&#39;" in refused.text
    assert "nausea" not in therapist.get("/participants/OSL-001").text


@pytest.mark.dosing_day
def test_blank_optional_fields_are_fine_and_overlong_ones_refused(
    login_as: Callable[[str], TestClient],
    api_as: Callable[[str], TestClient],
) -> None:
    therapist = login_as("therapist")
    token = csrf_of(therapist.get(DOSING).text)
    started = therapist.post(
        f"{DOSING}/start", data={"csrf_token": token, "started_at": "2026-03-02T08:00"}
    )
    assert started.status_code == 200
    ready_over_api(
        api_as("investigator"), api_as("therapist"), "OSL-001", "V5", "2026-03-02T08:55:00+01:00"
    )
    dose = {"csrf_token": token, "kind": "initial", "dose_mg": "80", "status": "given",
            "at": "2026-03-02T09:00", "withheld_reason": "", "override_reason": ""}  # fmt: skip
    assert therapist.post(f"{DOSING}/dose", data=dose).status_code == 200
    ended = therapist.post(
        f"{DOSING}/end",
        data={"csrf_token": token, "ended_at": "2026-03-02T17:00", "notes": "x" * 3000},
    )
    assert ended.status_code == 422
    assert "at most 2000 characters" in ended.text
    assert "x" * 100 not in ended.text
