"""The safety table of a protocol: scale rules, the vital-sign rule, the SAE clock."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from remit.protocol._base import _Model
from remit.protocol.notify import Notify
from remit.protocol.vocab import CompareOp, Level

# --------------------------------------------------------------------------- safety


class SafetyRule(_Model):
    """One row of the safety table: when a scale answer or score calls for a response.

    Exactly one of ``item`` (item number or code) and ``field`` (a scored value of the scale,
    e.g. ``total`` or ``ideation_type``) is given. With ``compare_to = "baseline"`` the
    comparison is made on the difference from the participant's baseline value.
    """

    id: str
    scale: str
    item: int | str | None = None
    field: str | None = None
    versions: tuple[str, ...] = ()
    op: CompareOp
    value: float | bool
    compare_to: Literal["baseline"] | None = None
    level: Level
    text: str
    assumption: str | None = None

    @model_validator(mode="after")
    def _item_or_field(self) -> SafetyRule:
        if (self.item is None) == (self.field is None):
            raise ValueError("give exactly one of 'item' and 'field'")
        return self


class VitalsRule(_Model):
    """The alert raised when a vital sign crosses its dosing session's threshold."""

    level: Level
    text: str
    assumption: str | None = None


class SAEClock(_Model):
    """How soon a serious adverse event must be reported, and to whom."""

    report_within_h: float = Field(gt=0)
    report_to: str
    level: Level = "immediate"
    text: str
    assumption: str | None = None


class Safety(_Model):
    """The safety table: scale rules, the vital-sign rule, the SAE clock; who is told."""

    rules: tuple[SafetyRule, ...] = ()
    vitals: VitalsRule | None = None
    sae: SAEClock | None = None
    notify: Notify | None = None
