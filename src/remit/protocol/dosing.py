"""A dosing session of a protocol: doses per arm, the supplemental-dose window, vital signs."""

from __future__ import annotations

from pydantic import Field, model_validator

from remit.protocol._base import _Model
from remit.protocol.vital_signs import VITAL_SIGN_CODES, VitalSign

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
    assumption: str | None = None

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
