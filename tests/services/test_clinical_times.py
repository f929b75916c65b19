"""Clinical times and visit gating: a form or visit is refused for a visit not reached, for a
participant whose status does not allow it, and outside its window without a reason (the
reason records one deviation); the period limit of V13 (13 ± 3 weeks after V4) is checked."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from tests.support.forms import at, fill, madrs
from tests.support.trial import OsloTrial, Participant, add_participant, enrolled, visit_date

from remit import services as sv
from remit.errors import InputError
from remit.protocol.status import DeviationCategory
from remit.store.tables import ProtocolDeviation

Rows = Callable[[], dict[str, int]]


def _deviations(engine: Engine) -> list[ProtocolDeviation]:
    from sqlalchemy.orm import Session

    with Session(engine) as s:
        return list(s.scalars(select(ProtocolDeviation).order_by(ProtocolDeviation.id)))


def test_form_for_a_visit_whose_anchor_has_not_happened_is_refused(
    oslo: OsloTrial, rows: Rows
) -> None:
    pid = enrolled(oslo, through="V4")
    before = rows()
    # V13 hangs on V9, which has not happened: V13 is not reached
    with pytest.raises(InputError, match=r"visit V13 of .* is not reached: .*V9 has not happened"):
        sv.record_assessment(oslo.engine, oslo.rater, pid, "V13", "madrs", madrs())
    assert rows() == before


def test_form_dated_before_the_window_of_a_visit_not_yet_recorded_is_refused(
    oslo: OsloTrial, rows: Rows
) -> None:
    pid = enrolled(oslo, through="V4")
    v5 = {v.visit_code: v for v in sv.list_visits(oslo.engine, oslo.investigator, pid)}["V5"]
    assert v5.window_start_date is not None
    early = at(v5.window_start_date - timedelta(days=1), 10)
    before = rows()
    with pytest.raises(InputError, match=r"visit V5 of .* is not reached on .*: its window opens"):
        sv.record_assessment(
            oslo.engine, oslo.investigator, pid, "V5", "cssrs",
            fill("cssrs", "since_last_visit"), version="since_last_visit", assessed_at=early,
        )  # fmt: skip
    assert rows() == before


def test_form_outside_the_window_needs_a_reason_and_records_one_deviation(
    oslo: OsloTrial, rows: Rows
) -> None:
    pid = enrolled(oslo, through="V4")
    v5 = {v.visit_code: v for v in sv.list_visits(oslo.engine, oslo.investigator, pid)}["V5"]
    assert v5.window_end_date is not None
    late = at(v5.window_end_date + timedelta(days=2), 10)
    answers = fill("cssrs", "since_last_visit")
    before = rows()
    with pytest.raises(InputError, match=r"after it closed \(window .*\)") as refused:
        sv.record_assessment(
            oslo.engine, oslo.investigator, pid, "V5", "cssrs", answers,
            version="since_last_visit", assessed_at=late,
        )  # fmt: skip
    assert "give the reason" in (refused.value.hint or "")
    assert rows() == before
    sv.record_assessment(
        oslo.engine, oslo.investigator, pid, "V5", "cssrs", answers,
        version="since_last_visit", assessed_at=late, window_reason="participant ill that week",
    )  # fmt: skip
    after = rows()
    assert after["assessment"] == before["assessment"] + 1
    assert after["protocol_deviation"] == before["protocol_deviation"] + 1
    (found,) = [d for d in _deviations(oslo.engine) if "V5" in d.description]
    assert found.category == DeviationCategory.VISIT_OUT_OF_WINDOW.value
    assert "reason: participant ill that week" in found.description


def test_visit_outside_the_window_needs_a_reason(oslo: OsloTrial, rows: Rows) -> None:
    pid = enrolled(oslo, through="V4")
    v5 = {v.visit_code: v for v in sv.list_visits(oslo.engine, oslo.investigator, pid)}["V5"]
    assert v5.window_end_date is not None
    late = v5.window_end_date + timedelta(days=3)
    before = rows()
    with pytest.raises(InputError, match=r"visit V5 of .* is out of window: 3 days after"):
        sv.record_visit(oslo.engine, oslo.investigator, pid, "V5", late)
    assert rows() == before
    done = sv.record_visit(
        oslo.engine, oslo.investigator, pid, "V5", late, window_reason="snowstorm"
    )
    assert done.window_status == "late"
    after = rows()
    assert after["protocol_deviation"] == before["protocol_deviation"] + 1
    assert _deviations(oslo.engine)[-1].description.endswith("reason: snowstorm")
    # the forms of that visit on its own date need no second reason and no second deviation
    sv.record_assessment(
        oslo.engine, oslo.investigator, pid, "V5", "cssrs",
        fill("cssrs", "since_last_visit"), version="since_last_visit", assessed_at=at(late, 9),
    )  # fmt: skip
    assert rows()["protocol_deviation"] == after["protocol_deviation"]


def test_visit_in_the_future_and_visit_not_reached_are_refused(oslo: OsloTrial, rows: Rows) -> None:
    pid = enrolled(oslo, through="V4")
    v4 = visit_date(oslo, pid, "V4")
    before = rows()
    tomorrow = datetime.now(UTC).date() + timedelta(days=2)
    with pytest.raises(InputError, match=r"is after today"):
        sv.record_visit(oslo.engine, oslo.investigator, pid, "V5", tomorrow, window_reason="x")
    with pytest.raises(InputError, match=r"visit V9 of .* is not reached"):
        sv.record_visit(oslo.engine, oslo.investigator, pid, "V9", v4)
    assert rows() == before


def test_v13_119_days_after_baseline_needs_a_reason(oslo: OsloTrial, rows: Rows) -> None:
    e, inv = oslo.engine, oslo.investigator
    pid = enrolled(oslo, through="V4")
    v4 = visit_date(oslo, pid, "V4")
    sv.record_visit(e, inv, pid, "V5", v4 + timedelta(days=14))  # last day of V5's window
    sv.record_visit(e, inv, pid, "V9", v4 + timedelta(days=56))  # last day of V9's window
    v13 = {v.visit_code: v for v in sv.list_visits(e, inv, pid)}["V13"]
    # the chained window would reach day 119; the period limit (91 ± 21) ends it at day 112
    assert v13.window_end_date == v4 + timedelta(days=112)
    before = rows()
    with pytest.raises(InputError, match=r"period limit: 91 ± 21 days after V4"):
        sv.record_visit(e, inv, pid, "V13", v4 + timedelta(days=119))
    with pytest.raises(InputError, match=r"after it closed"):
        sv.record_assessment(
            e, oslo.rater, pid, "V13", "madrs", madrs(), assessed_at=at(v4 + timedelta(119), 10)
        )
    assert rows() == before
    sv.record_visit(e, inv, pid, "V13", v4 + timedelta(days=119), window_reason="rater away")
    assert rows()["protocol_deviation"] == before["protocol_deviation"] + 1
    assert "period limit: 91 ± 21 days after V4" in _deviations(e)[-1].description


def test_status_gates_the_visits_a_participant_may_have_data_for(
    oslo: OsloTrial, rows: Rows
) -> None:
    e = oslo.engine
    pid = add_participant(oslo, Participant(through=None, enrol=False))  # in screening
    before = rows()
    with pytest.raises(InputError, match=r"is screening: a madrs form at V3 \(a baseline visit\)"):
        sv.record_assessment(e, oslo.rater, pid, "V3", "madrs", madrs())
    with pytest.raises(InputError, match=r"is screening: vital signs at V5"):
        sv.record_vitals(
            e, oslo.therapist, pid, "V5", measured_at=datetime.now(UTC), values={"heart_rate": 70},
        )  # fmt: skip
    assert rows() == before


def test_forms_of_one_visit_outside_its_window_share_one_deviation(
    oslo: OsloTrial, rows: Rows
) -> None:
    e = oslo.engine
    pid = enrolled(oslo, through="V4")
    v3 = {v.visit_code: v for v in sv.list_visits(e, oslo.investigator, pid)}["V3"]
    assert v3.actual_date is not None
    assert v3.window_end_date is not None
    # V3 took place; its forms dated after its window closed are outside it
    late = at(v3.window_end_date + timedelta(days=3), 10)
    before = rows()
    with pytest.raises(InputError, match=r"a madrs form at V3 .* is dated .*after it closed"):
        sv.record_assessment(e, oslo.rater, pid, "V3", "madrs", madrs(), assessed_at=late)
    assert rows() == before
    why = "rating postponed: participant ill"
    sv.record_assessment(
        e, oslo.rater, pid, "V3", "madrs", madrs(), assessed_at=late, window_reason=why
    )
    sv.record_assessment(
        e, oslo.therapist, pid, "V3", "sds", fill("sds"), assessed_at=late, window_reason=why
    )
    after = rows()
    assert after["assessment"] == before["assessment"] + 2
    assert after["protocol_deviation"] == before["protocol_deviation"] + 1
