"""How a protocol scores its scales: the ``[scoring.<scale>]`` tables.

A scale file says how its total is scored by default (MADRS: missing when any item is
missing). A protocol may set its own missing-item rule per scale (prorate the MADRS total when
at most one item is missing; score the SDS total from items 2-3 scaled up when item 1 is
skipped) and mark more items as safety items (required for a complete form, never prorated
over). The services pass these settings into :func:`remit.scales.score` for every form of the
trial, so the rule lives in the protocol file, never in code.

Example of a protocol file::

    [scoring.madrs]
    missing = { kind = "prorate", max_missing = 1 }
    assumption = "the SAP allows one missing MADRS item, never item 10"

    [scoring.sds]
    missing = { kind = "none", skipped = "prorate" }
    safety_items = ["1"]

Examples
--------
>>> s = ScaleScoring.model_validate({"missing": {"kind": "prorate", "max_missing": 1}})
>>> s.missing_rule()
MissingRule(kind='prorate', max_missing=1, skipped=None)
>>> ScaleScoring().missing_rule() is None
True
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from remit.errors import RemitError
from remit.protocol._base import _Model
from remit.scales import MissingRule, load_scale


class MissingSetting(_Model):
    """``missing = { kind = …, max_missing = …, skipped = … }``: a scale's missing-item rule.

    ``kind = "none"``: the total is missing when any of its items is missing; ``"prorate"``:
    the mean of the answered items times the number of items, when at most ``max_missing``
    are missing (never over a missing safety item). ``skipped``: what a total does with
    items the form's own logic skips (``exclude`` or ``prorate``; unset keeps the scale's).
    """

    kind: Literal["none", "prorate"] = "none"
    max_missing: int = Field(default=0, ge=0)
    skipped: Literal["exclude", "prorate"] | None = None

    @model_validator(mode="after")
    def _sound(self) -> MissingSetting:
        if self.kind == "none" and self.max_missing:
            raise ValueError(
                f"max_missing = {self.max_missing} makes no sense with kind = 'none'; "
                'give kind = "prorate", or leave max_missing out'
            )
        return self

    def rule(self) -> MissingRule:
        """The scale engine's :class:`~remit.scales.MissingRule` for this setting."""
        return MissingRule(self.kind, self.max_missing, self.skipped)


class ScaleScoring(_Model):
    """One ``[scoring.<scale>]`` table: the protocol's missing-item rule and extra safety items.

    ``safety_items`` are item numbers or codes the protocol treats as safety items on top of
    those the scale file declares: a form without them is incomplete and no total is
    prorated over them.
    """

    missing: MissingSetting | None = None
    safety_items: tuple[str, ...] = ()
    assumption: str | None = None

    def missing_rule(self) -> MissingRule | None:
        """The protocol's missing-item rule, or ``None`` to keep the scale's own."""
        return None if self.missing is None else self.missing.rule()


def _known_scales_and_items(table: dict[str, ScaleScoring]) -> dict[str, ScaleScoring]:
    """Refuse a ``[scoring.<scale>]`` for a scale Remit does not know, or a safety item the
    scale does not have (in any of its versions): a typo would otherwise surface only when a
    form is entered."""
    for code, settings in table.items():
        try:
            definition = load_scale(code)
        except RemitError:
            raise ValueError(
                f"[scoring.{code}]: there is no scale {code!r}; run `remit scales list`"
            ) from None
        every = {
            key
            for v in definition.versions
            for it in definition.items_for(v)
            for key in (it.code, it.ref)
        }
        unknown = [item for item in settings.safety_items if item not in every]
        if unknown:
            raise ValueError(
                f"[scoring.{code}] safety_items {unknown} are not items of {code}; give item "
                f"numbers or codes (`remit scales show {code}`)"
            )
    return table


#: The ``[scoring]`` table of a protocol: scale code → its settings, checked against the scales.
ScoringTable = Annotated[dict[str, ScaleScoring], AfterValidator(_known_scales_and_items)]
