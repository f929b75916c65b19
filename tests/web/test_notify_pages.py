"""The web side of alert delivery: users' e-mail addresses on the admin page, and the
dashboard banner for alerts that could not be delivered."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.support.smtp import closed_port
from tests.support.trial import ROLE_USER
from tests.support.web import csrf_of

from remit import services as sv
from remit.protocol.notify import UNDELIVERABLE_RULE


def test_admin_adds_a_user_with_an_address_and_a_bad_one_is_refused(
    login_as: Callable[[str], TestClient],
) -> None:
    admin = login_as("admin")
    page = admin.get("/admin/users")
    assert 'name="email"' in page.text
    added = admin.post(
        "/admin/users",
        data={"csrf_token": csrf_of(page.text), "username": "nora", "email": "nora@ost.example.no",
              "password": "a long new passphrase", "role": "investigator", "site": "OST"},
    )  # fmt: skip
    assert added.status_code == 200
    assert "nora@ost.example.no" in added.text
    refused = admin.post(
        "/admin/users",
        data={"csrf_token": csrf_of(page.text), "username": "nils", "email": "nils at ost",
              "password": "a long new passphrase", "role": "investigator", "site": "OST"},
    )  # fmt: skip
    assert refused.status_code == 422
    assert "nils at ost" in refused.text
    assert "is not usable" in refused.text
    assert "nils" not in admin.get("/admin/users").text


def test_an_undeliverable_alert_is_a_banner_on_the_dashboard(
    app: FastAPI, login_as: Callable[[str], TestClient]
) -> None:
    engine = app.state.remit.engine
    investigator = sv.actor_for(engine, ROLE_USER["investigator"])
    assert "could not be delivered" not in login_as("investigator").get("/").text
    ae = sv.record_adverse_event(
        engine,
        investigator,
        "OSL-001",
        term="hospitalised",
        onset_date=date.today(),
        severity="severe",
        relatedness="possible",
        serious=True,
        seriousness_criteria=["hospitalisation"],
    )
    (alert,) = ae.alerts
    # nobody of the seeded staff has an address: the first pass finds the alert undeliverable
    sender = sv.sender_from_url(
        f"smtp://127.0.0.1:{closed_port()}", sender_address="remit@trial.example.no"
    )
    (raised,) = sv.deliver_due(engine, sender, now=alert.raised_at).undeliverable
    page = login_as("investigator").get("/")
    assert 'id="undeliverable"' in page.text
    assert "1 alert(s) could not be delivered" in page.text
    assert f'href="/alerts#alert-{raised}"' in page.text
    assert f"alert {alert.id} ({alert.rule_id}" in page.text
    stored = [a for a in sv.list_alerts(engine, investigator) if a.rule_id == UNDELIVERABLE_RULE]
    assert [a.id for a in stored] == [raised]
    inbox = login_as("investigator").get("/alerts").text
    assert "step 1 reached nobody" in inbox
    assert f"{ROLE_USER['investigator']} has no email address" in inbox
