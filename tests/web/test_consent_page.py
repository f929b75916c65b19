"""The consent page: where consent stands and its history; an investigator withdraws an
optional component, then consent fully; a rater sees the page without the forms."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from tests.support.web import csrf_of

PAGE = "/participants/OSL-001/consent"


def test_consent_page_shows_and_withdraws(login_as: Callable[[str], TestClient]) -> None:
    rater = login_as("independent_rater")
    seen = rater.get(PAGE)
    assert seen.status_code == 200, seen.text
    assert "Study procedures may be recorded (agreed: main, future_contact)" in seen.text
    assert "withdraw-form" not in seen.text
    assert "consent-form" not in seen.text

    inv = login_as("investigator")
    page = inv.get(PAGE).text
    assert 'id="withdraw-form"' in page
    assert 'name="component:future_contact"' in page
    when = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")
    token = csrf_of(page)
    partly = {"csrf_token": token, "scope": "partial", "component:future_contact": "yes",
              "withdrawn_at": when, "reason": "no calls about other studies"}  # fmt: skip
    done = inv.post(f"{PAGE}/withdraw", data=partly)
    assert done.status_code == 200, done.text
    assert "partial (future_contact)" in done.text
    assert "agreed: main)" in done.text
    full = {"csrf_token": token, "scope": "full", "withdrawn_at": when, "reason": "moved"}
    done = inv.post(f"{PAGE}/withdraw", data=full)
    assert done.status_code == 200, done.text
    assert "withdrew consent on" in done.text
    assert "withdraw-form" not in done.text
    casebook = inv.get("/participants/OSL-001").text
    assert f'href="{PAGE}"' in casebook
