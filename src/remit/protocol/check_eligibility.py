"""Whole-protocol checks of eligibility criteria read from recorded forms and of the two-step
enrolment: a criterion ``source`` must name a visit of the protocol, a scale given at that
visit and a value the scoring engine reports for the form given there (P034); ``[enrolment]``
must name visits in order, and criteria deferred to confirmation need a confirmation (P035).
"""

from __future__ import annotations

from remit.errors import RemitError
from remit.protocol._checker import Check, Checker
from remit.scales import field_range


def _reported(c: Checker, scale: str, version: str | None, value: str) -> bool:
    """Whether the scored form of ``scale`` (``version``) reports ``value``: the total, a
    subscale, a derived value or an item."""
    definition = c.scales.get(scale)
    if definition is None:
        return False
    try:
        if field_range(definition, value, version) is not None:
            return True
        v = definition.check_version(version)
        if value == "total":
            return definition.total is not None
        names = {s.code for s in definition.subscales_for(v)}
        names |= {d.name for d in definition.derived_for(v)}
        if value in names:
            return True
        definition.item(value, v)
    except RemitError:
        return False
    return True


def _check_sources(c: Checker) -> None:
    for i, criterion in enumerate(c.p.eligibility.criteria):
        src = criterion.source
        if src is None:
            continue
        where = ("eligibility", "criteria", i, "source")
        head = f"eligibility criterion {criterion.id} reads {src.scale} {src.value} at {src.visit}"
        visit = c.visits.get(src.visit)
        if visit is None:
            c.add(
                "P034",
                where,
                f"{head}, but {src.visit!r} is not a visit of the protocol",
                "use one of the visit codes: " + ", ".join(c.visit_codes),
            )
            continue
        given = [a for a in visit.assessments if a.scale == src.scale]
        if not given:
            scales = sorted({a.scale for a in visit.assessments})
            c.add(
                "P034",
                where,
                f"{head}, but {src.visit} gives no {src.scale} form",
                "name a scale given at the visit ("
                + (", ".join(scales) or "none")
                + ") or add the form to the visit's assessments",
            )
            continue
        if not all(_reported(c, src.scale, a.version, src.value) for a in given):
            c.add(
                "P034",
                where,
                f"{head}, but the {src.scale} form given there reports no {src.value!r}",
                "name its total, a subscale, a derived value or an item of that version",
            )


def _check_enrolment(c: Checker) -> None:
    e = c.p.enrolment
    deferred = [k.id for k in c.p.eligibility.criteria if k.stage == "confirmation"]
    if e is None or e.confirm_at is None:
        if deferred:
            c.add(
                "P035",
                ("eligibility", "criteria"),
                "criteria " + ", ".join(deferred) + " are checked at the confirmation of "
                "enrolment, but [enrolment] declares no confirm_at visit",
                'add [enrolment] with enrol_at and confirm_at (e.g. confirm_at = "V4")',
            )
        if e is None:
            return
    for key in ("enrol_at", "confirm_at"):
        code = getattr(e, key)
        if code is not None and code not in c.visits:
            c.add(
                "P035",
                ("enrolment", key),
                f"[enrolment] {key} = {code!r} is not a visit of the protocol",
                "use one of the visit codes: " + ", ".join(c.visit_codes),
            )
            return
    if e.confirm_at is not None and c.visit_codes.index(e.confirm_at) <= c.visit_codes.index(
        e.enrol_at
    ):
        c.add(
            "P035",
            ("enrolment", "confirm_at"),
            f"[enrolment] confirms enrolment at {e.confirm_at}, not after enrolment at "
            f"{e.enrol_at}",
            "confirm at a visit that follows the enrolment visit",
        )


#: The checks of this module, in the order they report.
ELIGIBILITY_CHECKS: tuple[Check, ...] = (_check_sources, _check_enrolment)
