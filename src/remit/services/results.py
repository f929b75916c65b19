"""Structured clinical results: laboratory tests, ECG measures and screening tests (urine drug
screen, pregnancy test) recorded as values against the protocol's ``[[results.tests]]``.

A result is a number (a test with a normal range) or one of the test's answers (a screen); it
is stored with the unit and normal range copied from the protocol, its interpretation
(:class:`~remit.protocol.results.Interpretation`) and the clinical time it was collected. A
result outside the normal range, or a screen that is not the expected answer, is flagged and
raises an alert of the test's level (``review`` by default) in the same transaction: an
abnormal result never passes silently. A stored result is corrected with a reason
(:func:`edit_result`); the interpretation and the alert follow the new value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from remit.errors import InputError
from remit.protocol import Protocol
from remit.protocol.results import FLAGGED, ResultKind, ResultTest
from remit.safety import Alert as SafetyAlert
from remit.services._common import (
    alerts_of,
    aware,
    check_unlocked,
    now_utc,
    protocol_in_force,
    store_alerts,
    text_given,
    visit_at,
    visit_code_of,
)
from remit.services.blinding import SafetyBlind
from remit.services.records import AlertRecord, _Record
from remit.services.unit import owner_of, reading, writing
from remit.store import Actor, UnitOfWork
from remit.store.results import ClinicalResult
from remit.store.tables import Participant

#: How far in the future a collection time may lie (clock drift between devices).
FUTURE_SLACK = timedelta(minutes=5)


@dataclass(frozen=True)
class ResultRecord(_Record):
    """A stored clinical result: the value (``value_number`` or ``value_text``), the unit and
    normal range it was judged against, its interpretation, whether it is flagged, and the
    alerts it raised."""

    id: int
    participant_id: str
    visit_code: str | None
    test_code: str
    label: str
    kind: str
    value_number: float | None
    value_text: str | None
    unit: str | None
    normal_low: float | None
    normal_high: float | None
    expected: str | None
    interpretation: str
    flagged: bool
    collected_at: datetime
    recorded_by: int | None
    entered_at: datetime
    comment: str | None
    alerts: tuple[AlertRecord, ...] = ()

    @property
    def value(self) -> float | str | None:
        """The value as entered (a number or an answer)."""
        return self.value_number if self.value_number is not None else self.value_text


def _record(
    session: Session, protocol: Protocol, p: Participant, row: ClinicalResult
) -> ResultRecord:
    known = {t.code: t for t in protocol.results.tests}
    test = known.get(row.test_code)
    return ResultRecord.from_row(
        row,
        participant_id=p.study_id,
        visit_code=visit_code_of(session, row.visit_id),
        label=test.label if test is not None else row.test_code,
        flagged=row.interpretation in FLAGGED,
        alerts=alerts_of(session, p, "clinical_result", row.id),
    )


def clean_value(test: ResultTest, value: object) -> float | str:
    """``value`` as the test takes it: a finite number for a test with a normal range, one of
    the test's answers (case aside) for a categorical one; :class:`InputError` otherwise."""
    if test.numeric:
        number: float | None = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value.strip().replace(",", "."))
            except ValueError:
                number = None
        if number is None or not math.isfinite(number):
            raise InputError(
                f"{test.label} result {value!r} is not a number",
                expected=f"a number in {test.unit or 'the test unit'} (normal range "
                f"{test.normal_range()})",
            )
        return number
    answer = str(value).strip().lower() if isinstance(value, str) else None
    if answer not in test.answers():
        raise InputError(
            f"{test.label} result {value!r} is not one of its answers",
            expected=" or ".join(test.answers()),
        )
    return answer


def _alert(test: ResultTest, value: float | str, interpretation: str) -> SafetyAlert:
    shown = (
        f"{value:g}{' ' + test.unit if test.unit else ''}" if isinstance(value, float) else value
    )
    return SafetyAlert(
        rule_id=f"result:{test.code}:{interpretation}",
        level=test.level,
        message=f"{test.label} {interpretation}: {shown} (normal {test.normal_range()})",
        subject=test.code,
        value=value if isinstance(value, float) else None,
        threshold=None,
    )


def _judge(uow: UnitOfWork, p: Participant, test: ResultTest, row: ClinicalResult) -> None:
    value: float | str = row.value_number if row.value_number is not None else str(row.value_text)
    row.interpretation = test.interpret(value)
    uow.flush()
    if row.interpretation in FLAGGED:
        store_alerts(uow, p, [_alert(test, value, row.interpretation)], "clinical_result", row.id)


def _when(collected_at: datetime) -> datetime:
    when = aware(collected_at, "collected_at")
    if when is None:
        raise InputError("collected_at is required", expected="when the sample was taken")
    if when > now_utc() + FUTURE_SLACK:
        raise InputError(
            f"collected_at {when.isoformat()} is in the future",
            expected="the time the sample or tracing was taken",
        )
    return when


def record_result(
    engine: Engine,
    actor: Actor,
    participant: int | str,
    visit_code: str,
    test: str,
    value: float | str,
    *,
    collected_at: datetime,
    comment: str | None = None,
    idempotency_key: str | None = None,
) -> ResultRecord:
    """Record the result of the protocol's test ``test`` taken at ``visit_code``.

    Refused: a test the protocol does not declare, a visit not among the test's ``visits``, a
    test that does not apply to the participant's sex, a value that is not a number (for a test
    with a normal range) or not one of the test's answers, a collection time in the future.
    A flagged result (low, high, abnormal, positive) raises an alert of the test's level.

    Examples
    --------
    ::

        record_result(engine, investigator, "OSL-001", "V5", "urine_drug_screen", "negative",
                      collected_at=at)
        # -> ResultRecord(interpretation="negative", flagged=False, ...)
        record_result(engine, investigator, "OSL-001", "SCR", "ecg_qtc", 472, collected_at=at)
        # -> ResultRecord(interpretation="high", flagged=True, alerts=(AlertRecord(...),))
    """
    when = _when(collected_at)
    body = {
        "participant": participant,
        "visit": visit_code,
        "test": test,
        "value": value,
        "collected_at": when,
        "comment": comment,
    }
    with writing(
        engine,
        actor,
        "record_result",
        participant=participant,
        at=when,
        request=body,
        idempotency_key=idempotency_key,
        record_table="clinical_result",
        detail=test,
    ) as w:
        session, p, protocol = w.session, w.p, w.protocol
        if (done := w.stored(ClinicalResult)) is not None:
            return _record(session, protocol, p, done)
        declared = protocol.results.test(test)
        if declared.visits and visit_code not in declared.visits:
            raise InputError(
                f"{declared.label} is not taken at {visit_code} in protocol {protocol.study.id}",
                expected="one of " + ", ".join(declared.visits),
            )
        if not declared.applies_to(p.sex):
            raise InputError(
                f"{declared.label} does not apply to {p.study_id} (sex {p.sex})",
                expected="a participant of sex " + " or ".join(declared.sexes),
            )
        clean = clean_value(declared, value)
        visit = visit_at(session, p, visit_code)
        row = ClinicalResult(
            participant_id=p.id,
            visit_id=visit.id,
            test_code=declared.code,
            kind=declared.kind.value,
            value_number=clean if isinstance(clean, float) else None,
            value_text=clean if isinstance(clean, str) else None,
            unit=declared.unit,
            normal_low=declared.low,
            normal_high=declared.high,
            expected=declared.expected,
            interpretation=declared.interpret(clean),
            collected_at=when,
            recorded_by=actor.user_id,
            comment=(comment or "").strip() or None,
            idempotency_key=idempotency_key,
        )
        w.create(row)
        _judge(w.uow, p, declared, row)
        return _record(session, protocol, p, row)


def edit_result(
    engine: Engine,
    actor: Actor,
    result_id: int,
    *,
    reason: str,
    value: float | str | None = None,
    collected_at: datetime | None = None,
    comment: str | None = None,
) -> ResultRecord:
    """Correct a stored result (its value, collection time or comment) with a reason for the
    audit trail. The interpretation is judged again against the normal range stored with the
    result; a value that becomes flagged raises its alert.

    Examples
    --------
    ::

        edit_result(engine, investigator, 7, reason="transcription error", value=4.1)
    """
    reason = text_given(reason, "reason for the change")
    if value is None and collected_at is None and comment is None:
        raise InputError("nothing to change", expected="a new value, collected_at or comment")
    when = None if collected_at is None else _when(collected_at)
    with writing(
        engine,
        actor,
        "edit_result",
        participant=owner_of(ClinicalResult, result_id, "clinical result"),
        reason=reason,
    ) as w:
        session, p, protocol = w.session, w.p, w.protocol
        row = session.get_one(ClinicalResult, result_id)
        check_unlocked(session, p.id, "clinical_result", row.id)
        # judged against what was stored with the result, not a later protocol's range
        stored = ResultTest(
            code=row.test_code,
            label=protocol.results.test(row.test_code).label
            if row.test_code in {t.code for t in protocol.results.tests}
            else row.test_code,
            kind=ResultKind(row.kind),
            unit=row.unit,
            low=row.normal_low,
            high=row.normal_high,
            expected=row.expected,
            level=next(
                (t.level for t in protocol.results.tests if t.code == row.test_code), "review"
            ),
        )
        if value is not None:
            clean = clean_value(stored, value)
            row.value_number = clean if isinstance(clean, float) else None
            row.value_text = clean if isinstance(clean, str) else None
        if when is not None:
            row.collected_at = when
        if comment is not None:
            row.comment = comment.strip() or None
        _judge(w.uow, p, stored, row)
        return _record(session, protocol, p, row)


def list_results(
    engine: Engine,
    actor: Actor,
    participant: int | str,
    *,
    visit_code: str | None = None,
    test: str | None = None,
) -> list[ResultRecord]:
    """A participant's results, oldest collection first; only those of ``visit_code`` and/or
    ``test`` when given."""
    with reading(engine, actor, "view_participants", "list_results", participant=participant) as r:
        session, p = r.session, r.p
        SafetyBlind.in_force(session, actor).check(r, "clinical_result")
        query = select(ClinicalResult).where(ClinicalResult.participant_id == p.id)
        if test is not None:
            query = query.where(ClinicalResult.test_code == test)
        if visit_code is not None:
            visit = visit_at(session, p, visit_code)
            query = query.where(ClinicalResult.visit_id == visit.id)
        rows = session.scalars(query.order_by(ClinicalResult.collected_at, ClinicalResult.id))
        protocol = protocol_in_force(session)[0]
        return r.returning([_record(session, protocol, p, row) for row in rows])
