"""Clinical times on the pages are entered and shown in the site's time zone (Europe/Oslo for
OST), stored in UTC; a time the clocks skipped is refused, a repeated one needs a choice; a
form outside its visit's window needs a reason (rows counted before and after)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.support.db import count_all
from tests.support.web import csrf_of

from remit import services as sv
from remit.web.forms import form_fields

DOSING = "/participants/OSL-001/dosing/V5"
MADRS = "/participants/OSL-001/visits/V3/forms/madrs"


def _last_sunday(year: int, month: int) -> date:
    day = date(year, month + 1, 1) - timedelta(days=1)
    return day - timedelta(days=(day.weekday() + 1) % 7)


def _rows(app: FastAPI) -> dict[str, int]:
    """Rows per table, the access log aside (every page read writes a row there)."""
    found = count_all(app.state.remit.engine)
    found.pop("identity_access_log")
    return found


def _start(client: TestClient, when: str, **extra: str) -> str:
    token = csrf_of(client.get(DOSING).text)
    data = {"csrf_token": token, "started_at": when, **extra}
    response = client.post(f"{DOSING}/start", data=data)
    return f"{response.status_code} {response.text}"


@pytest.mark.dosing_day  # OSL-001 confirmed at V4: a dosing session may start
def test_dosing_page_enters_and_shows_times_in_oslo(
    app: FastAPI, login_as: Callable[[str], TestClient]
) -> None:
    client = login_as("investigator")
    page = client.get(DOSING).text
    assert "Times in Europe/Oslo (the site" in page
    assert '<label for="started_at">Start time (Europe/Oslo)</label>' in page
    day = date(datetime.now(UTC).year, 1, 15)  # winter time (CET, UTC+1)
    shown = _start(client, f"{day}T08:30")
    assert shown.startswith("200"), shown
    assert f"started {day} 08:30 (Europe/Oslo)" in shown
    engine, actor = app.state.remit.engine, sv.actor_for(app.state.remit.engine, "kari")
    (session,) = sv.list_dosing_sessions(engine, actor, "OSL-001")
    assert session.started_at == datetime(day.year, day.month, day.day, 7, 30, tzinfo=UTC)


@pytest.mark.dosing_day  # OSL-001 confirmed at V4: a dosing session may start
def test_a_time_the_clocks_skipped_is_refused_and_nothing_is_stored(
    app: FastAPI, login_as: Callable[[str], TestClient]
) -> None:
    client = login_as("investigator")
    spring = _last_sunday(datetime.now(UTC).year - 1, 3)
    before = _rows(app)
    refused = _start(client, f"{spring}T02:30")
    assert refused.startswith("4"), refused[:200]
    assert "does not exist in Europe/Oslo: the clocks went from 02:00 to 03:00" in refused
    assert _rows(app) == before


@pytest.mark.dosing_day  # OSL-001 confirmed at V4: a dosing session may start
def test_a_time_the_clocks_repeated_needs_a_choice(
    app: FastAPI, login_as: Callable[[str], TestClient]
) -> None:
    client = login_as("investigator")
    today = datetime.now(UTC).date()
    autumn = _last_sunday(today.year, 10)  # the latest night the clocks went back
    if autumn >= today:
        autumn = _last_sunday(today.year - 1, 10)
    before = _rows(app)
    refused = _start(client, f"{autumn}T02:30")
    assert refused.startswith("4"), refused[:200]
    assert "happened twice in Europe/Oslo" in refused
    assert _rows(app) == before
    chosen = _start(client, f"{autumn}T02:30", fold="1")  # the second: standard time, UTC+1
    assert chosen.startswith("200"), chosen[:300]
    assert f"started {autumn} 02:30 (Europe/Oslo)" in chosen
    engine, actor = app.state.remit.engine, sv.actor_for(app.state.remit.engine, "kari")
    (session,) = sv.list_dosing_sessions(engine, actor, "OSL-001")
    assert session.started_at == datetime(autumn.year, autumn.month, autumn.day, 1, 30, tzinfo=UTC)


def _madrs(token: str, when: str, **extra: str) -> dict[str, str]:
    answers = {f.name: "3" for f in form_fields("madrs")}
    return {"csrf_token": token, "assessed_at": when, **answers, **extra}


def test_form_page_asks_when_shows_the_window_and_needs_a_reason_outside_it(
    app: FastAPI, login_as: Callable[[str], TestClient]
) -> None:
    client = login_as("independent_rater")
    today = datetime.now(UTC).date()  # OSL-001's V3 falls due today (see conftest)
    page = client.get(MADRS).text
    assert '<label for="assessed_at">Assessed at (Europe/Oslo)</label>' in page
    assert re.search(r'name="assessed_at" type="datetime-local" value="\d{4}-', page)
    assert 'id="visit-window">Visit V3 window: ' in page
    engine = app.state.remit.engine
    sv.record_visit(engine, sv.actor_for(engine, "kari"), "OSL-001", "V3", today)
    early = f"{today - timedelta(days=7)}T10:00"  # V3's window opens 6 days before today
    before = _rows(app)
    refused = client.post(MADRS, data=_madrs(csrf_of(page), early))
    assert refused.status_code == 422
    assert "before the window opened" in refused.text
    assert "a reason for the date outside it" in refused.text
    assert _rows(app) == before
    # the time is required to complete the form
    blank = client.post(MADRS, data=_madrs(csrf_of(page), ""))
    assert blank.status_code == 422
    assert "Say when the form was done" in blank.text
    assert _rows(app) == before
    saved = client.post(MADRS, data=_madrs(csrf_of(page), early, window_reason="rated early"))
    assert saved.status_code == 200, saved.text[:500]
    assert f"assessed {today - timedelta(days=7)} 10:00 (Europe/Oslo)" in saved.text
    after = _rows(app)
    assert after["assessment"] == before["assessment"] + 1
    assert after["protocol_deviation"] == before["protocol_deviation"] + 1
