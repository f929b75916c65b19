"""Medications the protocol prohibits before dosing, and how long each must be washed out:
``[medications]`` with ``[[medications.prohibited]]`` rows.

A row names an ATC class by its code prefix (``N06AB``: selective serotonin reuptake
inhibitors; ``N06AX16``: one substance), optionally with sub-classes it does not cover
(``except = ["N05AN"]``: lithium is not an antipsychotic here), and the days that must pass
between the medication's stop date and a dose. A medication with no stop date, or stopped
after the day of the dose, is ongoing and blocks the dose whatever its washout.

Examples
--------
>>> meds = Medications.model_validate({"prohibited": [
...     {"atc": "N06AB", "label": "SSRIs", "washout_days": 14},
...     {"atc": "N05A", "except": ["N05AN"], "label": "antipsychotics", "washout_days": 7},
... ]})
>>> meds.prohibited_class("N06AB06").label
'SSRIs'
>>> meds.prohibited_class("N05AN01") is None
True
>>> from datetime import date
>>> block = meds.washout("sertraline", "N06AB06", date(2024, 1, 1), date(2024, 1, 10))
>>> block.earliest
datetime.date(2024, 1, 15)
>>> print(block.describe())  # doctest: +NORMALIZE_WHITESPACE
sertraline (N06AB06, SSRIs) stopped 2024-01-01: washout of 14 days;
earliest dose 2024-01-15
>>> meds.washout("sertraline", "N06AB06", date(2024, 1, 1), date(2024, 1, 15)) is None
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from pydantic import Field, field_validator, model_validator

from remit.protocol._base import _Model

#: The shape of an ATC code at any of its five levels (N, N06, N06A, N06AB, N06AB06).
ATC_PATTERN = re.compile(r"[A-Z]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?")

#: How many characters the chemical subgroup (level 4, the "class" of a substance) has.
ATC_CLASS_LENGTH = 5


def atc_problem(code: str, *, substance: bool = False) -> str | None:
    """What is wrong with ``code`` as an ATC code (``None`` when nothing is).

    With ``substance``, only a full 7-character code (level 5) or a class of at least 5
    characters (level 4) is accepted, as a medication record needs.

    >>> atc_problem("N06AB06") is None
    True
    >>> print(atc_problem("n06ab6"))  # doctest: +NORMALIZE_WHITESPACE
    ATC code 'n06ab6' is not of the shape letter, 2 digits, 2 letters, 2 digits
    (e.g. N06AB06 for sertraline, N06AB for the SSRI class)
    >>> print(atc_problem("N06", substance=True))  # doctest: +NORMALIZE_WHITESPACE
    ATC code 'N06' is too general for a medication: give the substance (e.g. N06AB06)
    or at least its class of 5 characters (e.g. N06AB)
    """
    if not ATC_PATTERN.fullmatch(code):
        return (
            f"ATC code {code!r} is not of the shape letter, 2 digits, 2 letters, 2 digits "
            "(e.g. N06AB06 for sertraline, N06AB for the SSRI class)"
        )
    if substance and len(code) < ATC_CLASS_LENGTH:
        return (
            f"ATC code {code!r} is too general for a medication: give the substance "
            "(e.g. N06AB06) or at least its class of 5 characters (e.g. N06AB)"
        )
    return None


def atc_class(code: str) -> str:
    """The ATC class (chemical subgroup, the first 5 characters) of a substance's code.

    >>> atc_class("N06AB06")
    'N06AB'
    """
    return code[:ATC_CLASS_LENGTH]


class ProhibitedClass(_Model):
    """An ATC class (or substance) not allowed at a dose, and the days between its stop date
    and the earliest dose."""

    atc: str
    label: str = Field(min_length=1)
    washout_days: int = Field(ge=0, le=3650)
    except_: tuple[str, ...] = Field(default=(), alias="except")
    assumption: str | None = None

    @field_validator("atc")
    @classmethod
    def _atc_shape(cls, code: str) -> str:
        if (problem := atc_problem(code)) is not None:
            raise ValueError(problem)
        return code

    @field_validator("except_")
    @classmethod
    def _except_shape(cls, codes: tuple[str, ...]) -> tuple[str, ...]:
        for code in codes:
            if (problem := atc_problem(code)) is not None:
                raise ValueError(problem)
        return codes

    @model_validator(mode="after")
    def _exceptions_inside(self) -> ProhibitedClass:
        outside = [c for c in self.except_ if not c.startswith(self.atc) or c == self.atc]
        if outside:
            raise ValueError(
                f"except {outside} of prohibited class {self.atc!r} must be narrower codes "
                f"starting with {self.atc!r}"
            )
        return self

    def covers(self, code: str) -> bool:
        """Whether a medication with ATC ``code`` belongs to this class (and not an exception).

        >>> ProhibitedClass(atc="N05A", label="x", washout_days=7,
        ...                 **{"except": ["N05AN"]}).covers("N05AN01")
        False
        """
        return code.startswith(self.atc) and not any(code.startswith(e) for e in self.except_)


@dataclass(frozen=True)
class WashoutBlock:
    """A medication that stops a dose on ``on``: ongoing, or stopped with its washout not over.

    ``earliest`` is the first day a dose is allowed (``None`` while the medication has no stop
    date).
    """

    name: str
    atc_code: str
    label: str
    washout_days: int
    stop_date: date | None
    earliest: date | None
    on: date

    @property
    def ongoing(self) -> bool:
        """Whether the medication is still taken on the day of the dose."""
        return self.stop_date is None or self.stop_date > self.on

    def describe(self) -> str:
        """One line naming the medication, its class, its stop date and the earliest dose."""
        head = f"{self.name} ({self.atc_code}, {self.label})"
        if self.stop_date is None:
            return (
                f"{head} is ongoing (no stop date): stop it; washout of "
                f"{self.washout_days} days after the stop date"
            )
        verb = "is taken until" if self.ongoing else "stopped"
        return (
            f"{head} {verb} {self.stop_date}: washout of {self.washout_days} days; "
            f"earliest dose {self.earliest}"
        )


class Medications(_Model):
    """The protocol's medication rules (``[medications]``)."""

    prohibited: tuple[ProhibitedClass, ...] = ()
    assumption: str | None = None

    @model_validator(mode="after")
    def _each_class_once(self) -> Medications:
        codes = [p.atc for p in self.prohibited]
        twice = sorted({c for c in codes if codes.count(c) > 1})
        if twice:
            raise ValueError(f"prohibited classes {twice} are listed more than once")
        return self

    def prohibited_class(self, code: str | None) -> ProhibitedClass | None:
        """The most specific prohibited class covering ATC ``code`` (``None``: allowed)."""
        if not code:
            return None
        found = [p for p in self.prohibited if p.covers(code)]
        return max(found, key=lambda p: len(p.atc), default=None)

    def washout(
        self,
        name: str,
        code: str | None,
        stop_date: date | None,
        on: date,
        *,
        start_date: date | None = None,
    ) -> WashoutBlock | None:
        """Whether a medication (``name``, ATC ``code``, stopped ``stop_date``) stops a dose on
        day ``on``: ``None`` when it does not (not prohibited, started after ``on``, or its
        washout ended on or before ``on``)."""
        cls = self.prohibited_class(code)
        if cls is None or code is None:
            return None
        if start_date is not None and start_date > on:
            return None
        earliest = None if stop_date is None else stop_date + timedelta(days=cls.washout_days)
        if earliest is not None and earliest <= on:
            return None
        return WashoutBlock(name, code, cls.label, cls.washout_days, stop_date, earliest, on)
