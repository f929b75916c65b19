"""Baseline is a protocol fact: the ``[baseline]`` table names the baseline visit of each scale.

One rule, used by the safety rules (``compare_to = "baseline"``), the services that look the
baseline form up, the analysis datasets (``BASE``) and the endpoints:

1. the scale's own entry (``cssrs = "SCR"``), else
2. ``default``, when the protocol assesses the scale at that visit, else
3. the ``baseline_visit`` named for the scale by the first endpoint or analysis naming one
   (protocols written before ``[baseline]`` existed keep their meaning), else
4. the last visit up to and including the reference visit (study day 0) that assesses it.

An endpoint or analysis may still name its own ``baseline_visit``; the protocol check flags one
that differs from the scale's baseline (``P026``) unless it says ``own_baseline = true``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Protocol as TypingProtocol

from pydantic import ConfigDict, model_validator

from remit.errors import NotFoundError
from remit.protocol._base import _Model
from remit.tomlpos import PathPart

if TYPE_CHECKING:
    from remit.protocol.model import Protocol
    from remit.protocol.sap import Analysis, Endpoint


class Baseline(_Model):
    """The ``[baseline]`` table: a default baseline visit and one entry per scale that differs.

    Every key other than ``default`` and ``assumption`` is a scale code whose value is that
    scale's baseline visit.

    Examples
    --------
    >>> b = Baseline.model_validate({"default": "V3", "cssrs": "SCR"})
    >>> b.default, b.scales
    ('V3', {'cssrs': 'SCR'})
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    default: str | None = None
    assumption: str | None = None

    @model_validator(mode="after")
    def _visits_are_codes(self) -> Baseline:
        for scale, visit in (self.model_extra or {}).items():
            if not isinstance(visit, str):
                raise ValueError(
                    f'baseline of {scale!r} is {visit!r}; give a visit code such as "V3"'
                )
        return self

    @property
    def scales(self) -> dict[str, str]:
        """Scale code → its own baseline visit, as declared."""
        return {str(k): str(v) for k, v in (self.model_extra or {}).items()}


def _named_by_plan(protocol: Protocol, scale: str) -> str | None:
    """The ``baseline_visit`` of the first endpoint or analysis that names one for ``scale``."""
    for item in (*protocol.endpoints, *protocol.analysis.analyses):
        base = getattr(item, "baseline_visit", None)
        if base is not None and scale in item.scale_refs():
            return str(base)
    return None


def resolve_baseline(protocol: Protocol, scale: str) -> str | None:
    """The baseline visit of ``scale`` by the rule of this module, or ``None`` when it has none.

    Examples
    --------
    >>> from remit.protocol import load_protocol
    >>> oslo = load_protocol("oslo-mdma-mdd")
    >>> resolve_baseline(oslo, "madrs"), resolve_baseline(oslo, "cssrs")
    ('V3', 'SCR')
    >>> resolve_baseline(oslo, "se_vas") is None  # rated at the dosing sessions only
    True
    """
    rule = protocol.baseline
    own = rule.scales.get(scale)
    if own is not None:
        return own
    at = {v.code: v.scales() for v in protocol.visits}
    if rule.default is not None and scale in at.get(rule.default, ()):
        return rule.default
    named = _named_by_plan(protocol, scale)
    if named is not None:
        return named
    codes = protocol.visit_codes
    ref = protocol.study.reference_visit
    last = codes.index(ref) if ref in codes else len(codes) - 1
    found = [code for code in codes[: last + 1] if scale in at[code]]
    return found[-1] if found else None


def baseline_visit(protocol: Protocol, scale: str) -> str:
    """The baseline visit of ``scale``; :class:`NotFoundError` when the scale has none.

    Examples
    --------
    >>> from remit.protocol import load_protocol
    >>> baseline_visit(load_protocol("oslo-mdma-mdd"), "sds")
    'V3'
    """
    found = resolve_baseline(protocol, scale)
    if found is None:
        raise NotFoundError(
            f"scale {scale!r} has no baseline visit in protocol {protocol.study.id}: it is not "
            "assessed up to the reference visit and [baseline] names no visit for it",
            expected="a scale assessed at or before the reference visit",
            hint=f'declare it in the protocol file: [baseline] {scale} = "<visit>"',
        )
    return found


# --------------------------------------------------------------------------- checks


class _Checker(TypingProtocol):
    p: Protocol

    def add(self, code: str, path: Sequence[PathPart], what: str, todo: str) -> None: ...

    def visit_ref(self, code: str, path: Sequence[PathPart], what: str) -> bool: ...

    def scale_ref(self, code: str, path: Sequence[PathPart]) -> object: ...

    def assessed(self, scale: str, visit: str, path: Sequence[PathPart], what: str) -> None: ...


def check_baseline(c: _Checker) -> None:
    """The ``[baseline]`` table names known visits and scales assessed there (``P005``,
    ``P014``, ``P020``); an endpoint or analysis baseline differs from it only when allowed, and
    a compare-to-baseline safety rule has a baseline to compare with (``P026``)."""
    p = c.p
    if p.baseline.default is not None:
        c.visit_ref(p.baseline.default, ("baseline", "default"), "the default baseline")
    for scale, visit in p.baseline.scales.items():
        where = ("baseline", scale)
        if c.scale_ref(scale, where) is not None and c.visit_ref(
            visit, where, f"the baseline of {scale}"
        ):
            c.assessed(scale, visit, where, f"the baseline of {scale}")
    items: list[tuple[str, int, Endpoint | Analysis]] = [
        ("endpoints", i, e) for i, e in enumerate(p.endpoints)
    ]
    items += [("analysis.analyses", i, a) for i, a in enumerate(p.analysis.analyses)]
    for key, i, item in items:
        own = getattr(item, "baseline_visit", None)
        if own is None or item.own_baseline:
            continue
        for scale in item.scale_refs():
            declared = resolve_baseline(p, scale)
            if declared is not None and declared != own:
                c.add(
                    "P026",
                    (*key.split("."), i, "baseline_visit"),
                    f"{item.id} takes {own} as the baseline of {scale}, but the protocol's "
                    f"baseline of {scale} is {declared}",
                    f'use baseline_visit = "{declared}", change [baseline], or say '
                    "own_baseline = true if the difference is intended",
                )
    for i, rule in enumerate(p.safety.rules):
        if rule.compare_to == "baseline" and resolve_baseline(p, rule.scale) is None:
            c.add(
                "P026",
                ("safety", "rules", i, "compare_to"),
                f"safety rule {rule.id} compares with the baseline of {rule.scale}, which has no "
                "baseline visit (not assessed up to the reference visit)",
                f'declare one: [baseline] {rule.scale} = "<visit>"',
            )
