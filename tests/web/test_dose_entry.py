"""A dose entered with one time (the API body and the page form): given then, or offered then."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from remit.errors import InputError
from remit.protocol.status import DoseKind, DoseStatus
from remit.store import Actor
from remit.web import core
from remit.web.page_forms import DoseForm, parse_form
from remit.web.schemas import DoseIn

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "given_at", "offered_at"),
    [(DoseStatus.GIVEN, AT, None), (DoseStatus.OFFERED, None, AT), (DoseStatus.WITHHELD, None, AT)],
)
def test_the_one_time_is_the_given_or_the_offered_time(
    monkeypatch: pytest.MonkeyPatch,
    status: DoseStatus,
    given_at: datetime | None,
    offered_at: datetime | None,
) -> None:
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    monkeypatch.setattr(core, "record_dose", lambda *a, **k: calls.append((a, k)))
    actor = Actor(user_id=1, username="t", role="therapist")
    page = DoseForm(kind=DoseKind.SUPPLEMENTAL, dose_mg=40, status=status, at=AT)
    api = DoseIn(kind=DoseKind.SUPPLEMENTAL, dose_mg=40, status=status, at=AT.isoformat())
    for body in (page, api):
        core.record_entered_dose(None, actor, "OSL-001", "V5", body, AT, "k")  # type: ignore[arg-type]
    for args, kwargs in calls:
        assert args == (None, actor, "OSL-001", "V5")
        assert (kwargs["given_at"], kwargs["offered_at"]) == (given_at, offered_at)
        assert (kwargs["kind"], kwargs["dose_mg"], kwargs["status"]) == ("supplemental", 40, status)
        assert kwargs["idempotency_key"] == "k"
    assert len(calls) == 2


def test_the_page_form_never_assumes_given() -> None:
    # the status starts unselected on the page; a form posted without one is refused
    entered = {"kind": "supplemental", "dose_mg": "40", "at": "2026-03-02T09:00"}
    for blank in ({}, {"status": ""}):
        with pytest.raises(InputError, match="status"):
            parse_form(DoseForm, {**entered, **blank})
    assert parse_form(DoseForm, {**entered, "status": "withheld"}).status == DoseStatus.WITHHELD
