"""A dosing session of a protocol: doses per arm, the supplemental-dose window, vital signs,
the dose-stop limits, the discharge criteria and the next-day follow-up call."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import Field, model_validator

from remit.protocol._base import _Model
from remit.protocol.results import Checklist
from remit.protocol.vital_signs import VITAL_SIGN_CODES, VITAL_SIGNS, Side, VitalSign

# --------------------------------------------------------------------------- dosing


class ArmDose(_Model):
    """What one arm receives at a dosing session (placebo: ``initial_mg = 0``)."""

    substance: str
    initial_mg: float = Field(ge=0)
    supplemental_mg: float = Field(ge=0)
    description: str = ""


class VitalThreshold(_Model):
    """Limits for one vital sign: a reading above ``high`` or below ``low`` raises an alert.

    The unit is the sign's (:data:`~remit.protocol.vital_signs.VITAL_SIGNS`); ``unit`` may be
    written in the protocol file for the reader, and must then be that unit.
    """

    high: float | None = None
    low: float | None = None
    unit: str | None = None
    assumption: str | None = None

    @model_validator(mode="after")
    def _one_limit(self) -> VitalThreshold:
        if self.high is None and self.low is None:
            raise ValueError("give a high limit, a low limit or both")
        return self

    def breached(self, value: float) -> bool:
        """Whether ``value`` lies beyond a limit (strictly above high or below low).

        Examples
        --------
        >>> limit = VitalThreshold(high=160)
        >>> limit.breached(160), limit.breached(161)
        (False, True)
        """
        return (self.high is not None and value > self.high) or (
            self.low is not None and value < self.low
        )


class Vitals(_Model):
    """When vital signs are taken during a dosing session, and which.

    Readings are taken before the dose (when ``pre_dose``) and every ``every_min`` minutes
    after the initial dose up to ``until_min``. ``signs`` are the signs read each time (every
    known sign when left out). The alert limits are the protocol's ``[safety.vitals]``, which
    apply to readings at any visit.
    """

    pre_dose: bool = True
    every_min: int = Field(gt=0)
    until_min: int = Field(gt=0)
    signs: tuple[VitalSign, ...] = ()

    def recorded_signs(self) -> tuple[VitalSign, ...]:
        """The signs read at each timepoint, in the order of the vital-sign vocabulary.

        Examples
        --------
        >>> Vitals(every_min=60, until_min=240, signs=("heart_rate",)).recorded_signs()
        ('heart_rate',)
        >>> len(Vitals(every_min=60, until_min=240).recorded_signs())
        6
        """
        chosen = set(self.signs) or set(VITAL_SIGN_CODES)
        return tuple(s for s in VITAL_SIGN_CODES if s in chosen)

    def timepoints_min(self) -> tuple[int, ...]:
        """Minutes after the initial dose at which readings are due (pre-dose not included).

        Examples
        --------
        >>> Vitals(every_min=60, until_min=240).timepoints_min()
        (60, 120, 180, 240)
        """
        return tuple(range(self.every_min, self.until_min + 1, self.every_min))


def check_limits(limits: Mapping[VitalSign, VitalThreshold], what: str) -> None:
    """Refuse limits written in another unit than the sign's or outside its plausible range.

    A limit outside the plausible range can never be reached (a temperature limit of 100.4 in
    a °C field) or is always beyond (a heart-rate low limit of 10 /min).

    Examples
    --------
    >>> check_limits({"temperature": VitalThreshold(high=38.5)}, "dose_stop")
    >>> check_limits({"temperature": VitalThreshold(high=100.4)}, "dose_stop")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: dose_stop: temperature high limit 100.4 °C is above the plausible range ...
    """
    for sign, limit in limits.items():
        d = VITAL_SIGNS[sign]
        sides: tuple[tuple[Side, float | None], ...] = (("low", limit.low), ("high", limit.high))
        for side, value in sides:
            problem = None if value is None else d.limit_problem(value, side, limit.unit)
            if problem is not None:
                raise ValueError(f"{what}: {problem}")
        if limit.low is not None and limit.high is not None and limit.low >= limit.high:
            raise ValueError(
                f"{what}: {sign} low limit {limit.low:g} is not below its high limit {limit.high:g}"
            )


@dataclass(frozen=True)
class SignCheck:
    """How one limited sign stands: its latest value (``None``: no recent reading), its limits
    and whether it is beyond them."""

    sign: VitalSign
    value: float | None
    limit: VitalThreshold
    beyond: bool

    @property
    def name(self) -> str:
        """The sign's label as in running text (``systolic BP``)."""
        label = VITAL_SIGNS[self.sign].label
        return label[0].lower() + label[1:]

    @property
    def ok(self) -> bool:
        """A recent value within the limits."""
        return self.value is not None and not self.beyond

    def describe(self) -> str:
        """One line for a person: the value against the limit, or that it is missing.

        Examples
        --------
        >>> SignCheck("systolic_bp", 200, VitalThreshold(high=180), True).describe()
        'systolic BP 200 mmHg above the limit of 180'
        >>> SignCheck("heart_rate", None, VitalThreshold(high=120), False).describe()
        'no recent heart rate reading'
        """
        if self.value is None:
            return f"no recent {self.name} reading"
        text = f"{self.name} {self.value:g} {VITAL_SIGNS[self.sign].unit}"
        if self.limit.high is not None and self.value > self.limit.high:
            return f"{text} above the limit of {self.limit.high:g}"
        if self.limit.low is not None and self.value < self.limit.low:
            return f"{text} below the limit of {self.limit.low:g}"
        return f"{text} within the limits"


class SignLimits(_Model):
    """Vital-sign limits with how recent the reading they judge must be.

    ``limits`` maps a sign to its high and/or low limit (in the sign's unit); a sign counts only
    when its latest reading is at most ``reading_within_min`` minutes old.
    """

    limits: dict[VitalSign, VitalThreshold]
    reading_within_min: int = Field(gt=0)
    assumption: str | None = None

    def judge(self, latest: Mapping[str, float | None]) -> tuple[SignCheck, ...]:
        """Each limited sign against its limit; ``latest`` holds the recent value of each sign
        (``None`` or absent: no reading recent enough).

        Examples
        --------
        >>> stop = SignLimits(limits={"systolic_bp": {"high": 180}}, reading_within_min=30)
        >>> [c.beyond for c in stop.judge({"systolic_bp": 181})]
        [True]
        >>> [c.ok for c in stop.judge({"systolic_bp": 180})], [c.ok for c in stop.judge({})]
        ([True], [False])
        """
        checks = []
        for sign, limit in self.limits.items():
            value = latest.get(sign)
            beyond = value is not None and limit.breached(value)
            checks.append(SignCheck(sign, value, limit, beyond))
        return tuple(checks)


class DoseStop(SignLimits):
    """Hard stops of the supplemental dose: refused while the latest vital signs are beyond
    ``limits`` or older than ``reading_within_min`` minutes, or while an immediate alert of the
    session is open, unless an investigator overrides with a reason (a protocol deviation)."""

    @model_validator(mode="after")
    def _valid_limits(self) -> DoseStop:
        if not self.limits:
            raise ValueError("dose_stop: give at least one sign's limits")
        check_limits(self.limits, "dose_stop")
        return self


class Discharge(SignLimits):
    """What must hold before a dosing session may end: the latest vital signs within
    ``limits`` (the discharge's own limits, not the dose-stop ones) and at most
    ``reading_within_min`` minutes old, no ongoing severe adverse event (when
    ``no_ongoing_severe_ae``) and an investigator's sign-off (when ``investigator_sign_off``)."""

    limits: dict[VitalSign, VitalThreshold] = Field(default_factory=dict)
    reading_within_min: int = Field(default=60, gt=0)
    no_ongoing_severe_ae: bool = True
    investigator_sign_off: bool = True

    @model_validator(mode="after")
    def _valid_limits(self) -> Discharge:
        check_limits(self.limits, "discharge")
        return self


class FollowUpCall(_Model):
    """A telephone follow-up ``day_offset`` days after the dosing day, scheduled when the
    session ends (not a visit of the schedule: the analysis and the exports do not count it)."""

    day_offset: int = Field(ge=1)
    assumption: str | None = None


class DosingSession(_Model):
    """A drug-assisted session: doses, the supplemental-dose window, vitals, VAS timepoints.

    ``substance``, ``initial_mg`` and ``supplemental_mg`` apply to every arm unless
    ``arm_doses`` gives an arm its own (e.g. a placebo arm).
    """

    visit: str
    number: int = Field(ge=1)
    substance: str
    initial_mg: float = Field(ge=0)
    supplemental_mg: float = Field(ge=0)
    supplemental_offer_min: tuple[int, int]
    supplemental_may_be_withheld: bool = True
    max_total_mg: float = Field(gt=0)
    duration_h: float = Field(gt=0)
    vitals: Vitals
    vas_timepoints: tuple[str, ...] = ()
    arm_doses: dict[str, ArmDose] = Field(default_factory=dict)
    dose_stop: DoseStop | None = None
    discharge: Discharge | None = None
    follow_up_call: FollowUpCall | None = None
    checklist: Checklist | None = None
    assumption: str | None = None

    @model_validator(mode="after")
    def _limited_signs_are_read(self) -> DosingSession:
        read = self.vitals.recorded_signs()
        for part in (self.dose_stop, self.discharge):
            if part is None:
                continue
            unread = [s for s in part.limits if s not in read]
            if unread:
                raise ValueError(
                    f"{', '.join(unread)} ha{'s' if len(unread) == 1 else 've'} a dose-stop or "
                    "discharge limit but is not among the signs read: add it to vitals.signs"
                )
        return self

    def dose_for(self, arm: str | None = None) -> ArmDose:
        """The dose ``arm`` receives (the session's own dose when the arm has none of its own).

        Examples
        --------
        >>> from remit.protocol import load_protocol
        >>> load_protocol("oslo-mdma-mdd").dosing_session("V9").dose_for("MDMA").initial_mg
        120.0
        """
        if arm is not None and arm in self.arm_doses:
            return self.arm_doses[arm]
        return ArmDose(
            substance=self.substance,
            initial_mg=self.initial_mg,
            supplemental_mg=self.supplemental_mg,
        )
