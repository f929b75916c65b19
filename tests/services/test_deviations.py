"""The deviation log: logged entries are checked (nothing stored from a refused one), listed
with Remit's automatic ones and filtered; a site-bound user sees its site only (SQLite and
PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from tests.services.two_sites import two_site_trial
from tests.support.db import count_all
from tests.support.trial import OsloTrial, enrolled, visit_date

from remit import services as sv
from remit.errors import InputError, NotFoundError, PermissionDeniedError, RemitError
from remit.protocol.deviation import (
    AUTOMATIC_CATEGORIES,
    CATEGORY_LABELS,
    LOGGED_CATEGORIES,
    source_of,
)
from remit.protocol.status import DeviationCategory


def test_every_category_has_words_and_the_two_sets_do_not_overlap() -> None:
    assert set(CATEGORY_LABELS) == {*AUTOMATIC_CATEGORIES, *LOGGED_CATEGORIES}
    assert not set(AUTOMATIC_CATEGORIES) & set(LOGGED_CATEGORIES)
    assert all(source_of(c) == "automatic" for c in DeviationCategory)
    assert all(source_of(c) == "manual" for c in LOGGED_CATEGORIES)


def _late_visit(oslo: OsloTrial) -> tuple[str, date]:
    """A participant whose V1 took place 20 days late (window +14): Remit records that deviation."""
    pid = enrolled(oslo, "V0")
    late = visit_date(oslo, pid, "V1") + timedelta(days=20)
    sv.record_visit(oslo.engine, oslo.investigator, pid, "V1", late, window_reason="ill")
    return pid, late


def test_a_logged_deviation_is_listed_with_the_automatic_one(oslo: OsloTrial) -> None:
    e, inv = oslo.engine, oslo.investigator
    pid, late = _late_visit(oslo)
    logged = sv.record_deviation(
        e,
        oslo.data_manager,
        pid,
        category="procedure",
        description="MADRS at V1 rated by the therapist",
        severity="major",
        occurred_date=late,
        visit_code="V1",
        idempotency_key="dev-1",
    )
    assert (logged.category, logged.severity, logged.major, logged.source, logged.site) == (
        "procedure",
        "major",
        True,
        "manual",
        "OST",
    )
    before = count_all(e)
    again = sv.record_deviation(
        e,
        oslo.data_manager,
        pid,
        category="procedure",
        description="MADRS at V1 rated by the therapist",
        severity="major",
        occurred_date=late,
        visit_code="V1",
        idempotency_key="dev-1",
    )
    assert again == logged
    assert count_all(e)["protocol_deviation"] == before["protocol_deviation"]

    listed = sv.list_deviations(e, oslo.monitor)
    assert [(d.category, d.source, d.visit_code) for d in listed] == [
        ("procedure", "manual", "V1"),
        ("visit_out_of_window", "automatic", "V1"),
    ]
    automatic = listed[1]
    assert automatic.severity == "minor"
    assert automatic.occurred_date == late

    def categories(**filters: Any) -> list[str]:
        return [d.category for d in sv.list_deviations(e, inv, **filters)]

    assert categories(source="automatic") == ["visit_out_of_window"]
    assert categories(source="manual") == ["procedure"]
    assert categories(severity="major") == ["procedure"]
    assert categories(severity="minor") == ["visit_out_of_window"]
    assert categories(category="visit_out_of_window") == ["visit_out_of_window"]
    assert categories(participant=pid, site="OST") == ["procedure", "visit_out_of_window"]
    assert categories(date_from=late, date_to=late) == ["procedure", "visit_out_of_window"]
    assert categories(date_from=late + timedelta(days=1)) == []
    assert categories(date_to=late - timedelta(days=1)) == []


def test_each_bad_entry_is_refused_and_nothing_is_stored(oslo: OsloTrial) -> None:
    e, inv = oslo.engine, oslo.investigator
    pid = enrolled(oslo, "V0")
    today = date.today()

    def log(actor: Any = inv, participant: str | None = pid, **given: Any) -> Callable[[], Any]:
        body = {
            "category": "procedure",
            "description": "form missed",
            "occurred_date": today,
        } | given
        return lambda: sv.record_deviation(e, actor, participant, **body)

    cases: list[tuple[str, Callable[[], Any], type[RemitError], str]] = [
        ("no category", log(category=""), InputError, "category is empty"),
        ("unknown category", log(category="paperwork"), InputError, "'paperwork' is unknown"),
        ("automatic category", log(category="dose_above_cap"), InputError, "Remit itself"),
        ("no description", log(description="  "), InputError, "description is empty"),
        ("unknown severity", log(severity="critical"), InputError, "severity 'critical'"),
        ("no date", log(occurred_date=None), InputError, "date of the deviation is missing"),
        ("future date", log(occurred_date=today + timedelta(days=2)), InputError, "future"),
        ("unknown visit", log(visit_code="V99"), NotFoundError, "V99"),
        ("study-wide at a visit", log(participant=None, visit_code="V1"), InputError, "needs"),
        ("a monitor logs", log(actor=oslo.monitor), PermissionDeniedError, "may not"),
        (
            "study-wide by a site-bound user",
            log(participant=None),
            PermissionDeniedError,
            "one site",
        ),
        ("unknown participant", log(participant="OSL-999"), NotFoundError, "OSL-999"),
    ]
    for name, call, error, words in cases:
        before = count_all(e)
        with pytest.raises(error, match=words):
            call()
        after = count_all(e)
        assert after["protocol_deviation"] == before["protocol_deviation"] == 0, name
        assert after["audit_event"] == before["audit_event"], name


def test_list_filters_are_checked(oslo: OsloTrial) -> None:
    e, mon = oslo.engine, oslo.monitor
    with pytest.raises(InputError, match="severity 'grave'"):
        sv.list_deviations(e, mon, severity="grave")
    with pytest.raises(InputError, match="source 'robot'"):
        sv.list_deviations(e, mon, source="robot")
    with pytest.raises(InputError, match="before the first date"):
        sv.list_deviations(e, mon, date_from=date(2024, 2, 1), date_to=date(2024, 1, 1))
    with pytest.raises(NotFoundError, match="site 'XYZ'"):
        sv.list_deviations(e, mon, site="XYZ")
    with pytest.raises(PermissionDeniedError, match="may not"):
        sv.list_deviations(e, oslo.therapist)


def test_a_site_bound_user_sees_and_logs_only_its_site(
    engine: Engine, fast_password_hashing: None
) -> None:
    trial = two_site_trial(engine, forms=False)
    kari = trial.investigator  # study-wide
    day = date(2024, 2, 1)
    for study_id in ("OSL-001", "OSL-002"):
        sv.record_deviation(
            engine, kari, study_id, category="other", description=study_id, occurred_date=day
        )
    sv.record_deviation(
        engine, kari, None, category="other", description="study-wide", occurred_date=day
    )
    stine = trial.ous_statistician
    assert [d.description for d in sv.list_deviations(engine, stine)] == ["OSL-002"]
    assert [d.site for d in sv.list_deviations(engine, trial.statistician)] == [
        None,
        "OUS",
        "OST",
    ]
    assert [d.description for d in sv.list_deviations(engine, kari, site="OST")] == ["OSL-001"]
    with pytest.raises(PermissionDeniedError, match="OSL-001"):
        sv.list_deviations(engine, stine, participant="OSL-001")
