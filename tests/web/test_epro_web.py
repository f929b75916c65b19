"""ePRO pages (issue 14): the participant's link page (no account, nb/en, accessible markup,
single use), the staff page that issues links, and the tablet hand-over ended by the staff
member's password."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.support.forms import fill
from tests.support.trial import PASSWORD
from tests.support.web import csrf_of

PID = "OSL-001"


def body_for(scales: list[str], **overrides: dict[str, object]) -> dict[str, str]:
    """Every question of each scale answered, as the page posts it (``scale.item``)."""
    out: dict[str, str] = {}
    for scale in scales:
        answers = {**fill(scale, level=0), **overrides.get(scale, {})}
        for item, value in answers.items():
            text = ("yes" if value else "no") if isinstance(value, bool) else str(value)
            out[f"{scale}.{item}"] = text
    return out


def issue(client: TestClient) -> str:
    page = client.get(f"/participants/{PID}/epro")
    assert page.status_code == 200, page.text
    done = client.post(
        f"/participants/{PID}/epro/links",
        data={"csrf_token": csrf_of(page.text), "visit_code": "V3"},
    )
    assert done.status_code == 200, done.text
    found = re.search(r'id="epro-url">https?://[^<]*(/epro/[A-Za-z0-9_-]+)<', done.text)
    assert found is not None, done.text
    return found.group(1)


def scales_of(html: str) -> list[str]:
    return list(dict.fromkeys(re.findall(r'name="([a-z0-9_]+)\.', html)))


def test_a_participant_answers_once_without_an_account(
    app: FastAPI, login_as: Callable[[str], TestClient]
) -> None:
    path = issue(login_as("therapist"))
    participant = TestClient(app)
    page = participant.get(path)
    assert page.status_code == 200
    assert '<html lang="nb">' in page.text
    assert "Spørreskjemaer" in page.text
    assert "Send inn" in page.text
    assert PID not in page.text  # no study ID on the participant's page
    # English item texts are marked as English on a Norwegian page
    assert 'lang="en"' in page.text
    assert "Tekst på engelsk" in page.text
    assert page.text.count("<fieldset") == page.text.count("<legend>")
    scales = scales_of(page.text)
    assert scales == ["sds", "gad7", "isi", "psqi", "pcl5", "bdi2"]

    # one question left blank: 422, the error linked to its question, nothing stored
    body = body_for(scales, bdi2={"suicidal_thoughts": 2})
    blank = {k: v for k, v in body.items() if k != "gad7.trouble_relaxing"}
    refused = participant.post(path, data=blank)
    assert refused.status_code == 422
    assert 'id="gad7.trouble_relaxing" aria-describedby="gad7.trouble_relaxing-error"' in (
        refused.text
    )
    assert 'href="#gad7.trouble_relaxing"' in refused.text
    assert 'value="2" checked' in refused.text  # the answers given are kept

    done = participant.post(path, data=body)
    assert done.status_code == 200, done.text
    assert "Takk" in done.text
    assert 'id="help"' in done.text
    again = participant.get(path)
    assert again.status_code == 410
    assert 'data-reason="used"' in again.text
    assert participant.post(path, data=body).status_code == 410

    # staff see the forms (entered by the participant) and the alert
    staff = login_as("investigator")
    casebook = staff.get(f"/participants/{PID}/epro")
    assert re.search(r'class="state-used">used<', casebook.text)
    alerts = staff.get("/alerts")
    assert "BDI-II item 9" in alerts.text


def test_english_and_unknown_links(app: FastAPI, login_as: Callable[[str], TestClient]) -> None:
    path = issue(login_as("therapist"))
    participant = TestClient(app)
    english = participant.get(path + "?lang=en")
    assert '<html lang="en">' in english.text
    assert "Submit" in english.text
    assert "Text in English" not in english.text
    unknown = participant.get("/epro/" + "x" * 43)
    assert unknown.status_code == 404
    assert 'data-reason="unknown"' in unknown.text
    assert participant.get("/epro/short").status_code == 422  # not a token at all


def test_language_is_stored_per_participant(
    app: FastAPI, login_as: Callable[[str], TestClient]
) -> None:
    staff = login_as("therapist")
    page = staff.get(f"/participants/{PID}/epro")
    saved = staff.post(
        f"/participants/{PID}/epro/preferences",
        data={"csrf_token": csrf_of(page.text), "language": "en", "email": ""},
    )
    assert saved.status_code == 200  # redirected back to the page
    path = issue(staff)
    assert '<html lang="en">' in TestClient(app).get(path).text


def test_tablet_hand_over_ends_only_with_the_staff_password(
    login_as: Callable[[str], TestClient],
) -> None:
    staff = login_as("therapist")
    page = staff.get(f"/participants/{PID}/epro")
    started = staff.post(
        f"/participants/{PID}/visits/V3/epro/handover",
        data={"csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert started.status_code == 303
    assert started.headers["location"] == "/handover"
    # every staff page leads back to the participant's forms
    for url in ("/participants", f"/participants/{PID}", "/alerts", "/worklist", "/admin/users"):
        moved = staff.get(url, follow_redirects=False)
        assert moved.status_code == 303, url
        assert moved.headers["location"] == "/handover", url
    assert staff.post("/logout", follow_redirects=False).headers["location"] == "/handover"
    forms = staff.get("/handover")
    assert forms.status_code == 200
    assert "Send inn" in forms.text
    csrf = csrf_of(forms.text)
    body = {"csrf_token": csrf} | body_for(scales_of(forms.text))
    done = staff.post("/handover", data=body)
    assert done.status_code == 200
    assert "Takk" in done.text
    assert 'id="handover-end"' in done.text
    wrong = staff.post("/handover/end", data={"csrf_token": csrf, "password": "guess"})
    assert "Passordet er ikke riktig" in wrong.text
    assert staff.get("/participants", follow_redirects=False).status_code == 303
    ended = staff.post(
        "/handover/end", data={"csrf_token": csrf, "password": PASSWORD}, follow_redirects=False
    )
    assert ended.status_code == 303
    assert staff.get("/participants").status_code == 200
