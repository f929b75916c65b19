"""Structured clinical results the protocol declares (``[[results.tests]]``): laboratory tests,
ECG measures and screening tests (urine drug screen, pregnancy test), each with its unit and
normal range, or the answer expected of a screen, and the visits at which it is taken.

A numeric test has ``low`` and/or ``high`` (the normal range, in ``unit``); a categorical test
has ``values`` (the answers it may take) and ``expected`` (the normal answer). A result outside
the normal range, or a screen that is not the expected answer, is flagged and raises an alert
of the test's ``level`` (``review`` unless the protocol says otherwise).

Examples
--------
>>> qtc = ResultTest(code="qtc", label="QTc", kind="ecg", unit="ms", high=450, visits=("SCR",))
>>> qtc.interpret(430), qtc.interpret(471)
('normal', 'high')
>>> uds = ResultTest(code="uds", label="Urine drug screen", kind="screen", expected="negative")
>>> uds.interpret("negative"), uds.interpret("positive")
('negative', 'positive')
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, model_validator

from remit.errors import NotFoundError
from remit.protocol._base import _Model
from remit.protocol.vocab import Level


class ResultKind(StrEnum):
    """What sort of test a result comes from."""

    LAB = "lab"
    ECG = "ecg"
    SCREEN = "screen"


class Interpretation(StrEnum):
    """How a result stands against its test's normal range or expected answer.

    ``normal`` and ``negative`` pass; ``low``, ``high``, ``abnormal`` and ``positive`` are
    flagged (:data:`FLAGGED`) and raise an alert.
    """

    NORMAL = "normal"
    LOW = "low"
    HIGH = "high"
    ABNORMAL = "abnormal"
    POSITIVE = "positive"
    NEGATIVE = "negative"


#: Interpretations that flag a result (an alert is raised).
FLAGGED: frozenset[str] = frozenset(
    {Interpretation.LOW, Interpretation.HIGH, Interpretation.ABNORMAL, Interpretation.POSITIVE}
)


class ResultTest(_Model):
    """One test whose results are recorded: code, label, kind, unit, normal range or expected
    answer, the visits where it is taken, the sexes it applies to (every sex when empty) and the
    alert level a flagged result raises."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str = Field(min_length=1)
    kind: ResultKind
    unit: str | None = None
    low: float | None = None
    high: float | None = None
    values: tuple[str, ...] = ()
    expected: str | None = None
    visits: tuple[str, ...] = ()
    sexes: tuple[str, ...] = ()
    level: Level = "review"
    assumption: str | None = None

    @model_validator(mode="after")
    def _range_or_expected(self) -> ResultTest:
        numeric = self.low is not None or self.high is not None
        if numeric and self.expected is not None:
            raise ValueError(
                f"result test {self.code!r}: give a normal range (low/high) or an expected "
                "answer, not both"
            )
        if not numeric and self.expected is None:
            raise ValueError(
                f"result test {self.code!r}: give a normal range (low and/or high) for a "
                "numeric test or expected = '...' (e.g. 'negative') for a categorical one"
            )
        if self.low is not None and self.high is not None and self.low >= self.high:
            raise ValueError(
                f"result test {self.code!r}: low {self.low:g} is not below high {self.high:g}"
            )
        if self.expected is not None and self.values and self.expected not in self.values:
            raise ValueError(
                f"result test {self.code!r}: expected {self.expected!r} is not one of its "
                f"values {list(self.values)}"
            )
        return self

    @property
    def numeric(self) -> bool:
        """Whether results are numbers (a normal range) rather than answers."""
        return self.expected is None

    def answers(self) -> tuple[str, ...]:
        """The answers a categorical test takes (its ``values``, or the expected answer and its
        opposite).

        >>> ResultTest(code="p", label="P", kind="screen", expected="negative").answers()
        ('negative', 'positive')
        """
        if self.values:
            return self.values
        opposite = {"negative": "positive", "normal": "abnormal"}.get(str(self.expected), "other")
        return (str(self.expected), opposite)

    def normal_range(self) -> str:
        """The normal range or expected answer as text.

        >>> potassium = ResultTest(code="k", label="K", kind="lab", unit="mmol/L", low=3.5, high=5)
        >>> potassium.normal_range()
        '3.5–5 mmol/L'
        """
        if not self.numeric:
            return f"expected {self.expected}"
        unit = f" {self.unit}" if self.unit else ""
        if self.low is not None and self.high is not None:
            return f"{self.low:g}–{self.high:g}{unit}"
        if self.low is not None:
            return f"≥ {self.low:g}{unit}"
        return f"≤ {self.high:g}{unit}"

    def interpret(self, value: float | str) -> str:
        """The :class:`Interpretation` of ``value`` (a number for a numeric test, one of
        :meth:`answers` for a categorical one; the caller checks the type). A value exactly at
        a limit is within the range."""
        if self.numeric:
            number = float(value)
            if self.low is not None and number < self.low:
                return Interpretation.LOW.value
            if self.high is not None and number > self.high:
                return Interpretation.HIGH.value
            return Interpretation.NORMAL.value
        negative = self.expected == Interpretation.NEGATIVE
        if value == self.expected:
            return (Interpretation.NEGATIVE if negative else Interpretation.NORMAL).value
        return (Interpretation.POSITIVE if negative else Interpretation.ABNORMAL).value

    def applies_to(self, sex: str | None) -> bool:
        """Whether the test applies to a participant of ``sex`` (an unknown sex: it applies).
        Sexes compare by their first letter, case aside (``F`` is ``female``).

        >>> t = ResultTest(code="hcg", label="hCG", kind="screen", expected="negative",
        ...                sexes=("F",))
        >>> t.applies_to("male"), t.applies_to("female"), t.applies_to(None)
        (False, True, True)
        """
        if not self.sexes or sex is None or not sex.strip():
            return True
        return sex.strip()[0].lower() in {s.strip()[:1].lower() for s in self.sexes}


class Results(_Model):
    """The protocol's ``[results]``: the tests whose results are recorded."""

    tests: tuple[ResultTest, ...] = ()
    assumption: str | None = None

    def test(self, code: str) -> ResultTest:
        """The test called ``code``; :class:`~remit.errors.NotFoundError` if there is none."""
        for t in self.tests:
            if t.code == code:
                return t
        raise NotFoundError(
            f"the protocol declares no result test {code!r}",
            hint="declared: " + (", ".join(t.code for t in self.tests) or "(none)"),
        )


# --------------------------------------------------------------------------- pre-dose checklist


class ChecklistKind(StrEnum):
    """What a pre-dose checklist item checks.

    ``result``: a result of test ``test`` collected at most ``within_days`` before the dose is
    normal or negative. ``vitals``: the session's pre-dose vital signs, read at most
    ``within_min`` minutes before, are within the protocol's limits. ``cssrs``: a C-SSRS
    recorded at the session's visit or at most ``within_days`` before, without an urgent or
    immediate finding, and no such C-SSRS alert open. ``no_prohibited_medication``: no
    prohibited medication ongoing or within its washout. ``consent_current``: the participant's
    consent allows the dose. ``confirm``: a person ticks it.
    """

    RESULT = "result"
    VITALS = "vitals"
    CSSRS = "cssrs"
    NO_PROHIBITED_MEDICATION = "no_prohibited_medication"
    CONSENT_CURRENT = "consent_current"
    CONFIRM = "confirm"


#: Item kinds that protect the participant's safety: never overridable.
SAFETY_KINDS: frozenset[str] = frozenset({ChecklistKind.VITALS, ChecklistKind.CSSRS})


class ChecklistItem(_Model):
    """One item of a pre-dose checklist.

    ``overridable``: an investigator may give the initial dose with the item failing, with a
    reason (a protocol deviation); never for ``vitals`` and ``cssrs`` items.
    ``may_be_not_applicable``: the person completing the checklist may mark the item not
    applicable with a reason (a pregnancy test for a participant not of child-bearing
    potential).
    """

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: ChecklistKind
    text: str = Field(min_length=1)
    test: str | None = None
    within_days: int | None = Field(default=None, ge=0)
    within_min: int | None = Field(default=None, gt=0)
    overridable: bool = False
    may_be_not_applicable: bool = False
    assumption: str | None = None


class Checklist(_Model):
    """The pre-dose checklist of a dosing session (``[dosing.checklist]``): the initial dose is
    refused until every item passes."""

    items: tuple[ChecklistItem, ...] = Field(min_length=1)
    assumption: str | None = None

    def item(self, item_id: str) -> ChecklistItem:
        """The item ``item_id``; :class:`~remit.errors.NotFoundError` if there is none."""
        for i in self.items:
            if i.id == item_id:
                return i
        raise NotFoundError(
            f"the pre-dose checklist has no item {item_id!r}",
            hint="items: " + ", ".join(i.id for i in self.items),
        )


#: Checklist item kinds as words (for messages).
CHECKLIST_KINDS: tuple[str, ...] = tuple(k.value for k in ChecklistKind)


class ItemStatus(StrEnum):
    """How a checklist item stands: ``pass``, ``fail`` (the data say no), ``not_yet`` (nothing
    recorded to judge), ``not_applicable`` (marked so, with a reason) or ``overridden`` (failing,
    given over by an investigator with a reason). Only ``pass``, ``not_applicable`` and
    ``overridden`` let the initial dose be given."""

    PASS = "pass"
    FAIL = "fail"
    NOT_YET = "not_yet"
    NOT_APPLICABLE = "not_applicable"
    OVERRIDDEN = "overridden"


#: Item statuses that let the initial dose be given.
CLEARED: frozenset[str] = frozenset(
    {ItemStatus.PASS, ItemStatus.NOT_APPLICABLE, ItemStatus.OVERRIDDEN}
)
