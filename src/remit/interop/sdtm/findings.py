"""SDTM findings about scales: QS (questionnaires) or RS (clinical classifications)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from remit.errors import InputError, NotFoundError, ScaleError
from remit.interop.dataset import Dataset, frame_rows, is_missing, make_dataset
from remit.interop.qrs import clinical_classifications, qrs_category, qrs_test
from remit.interop.sdtm.base import (
    ID_VARIABLES,
    VISIT_VARIABLES,
    ClinicianDomain,
    Context,
    iso_datetime,
    result_values,
    sequenced,
    var,
)
from remit.scales import load_scale, skipped_items


def clinician_scales(scales: Iterable[str]) -> set[str]:
    """The scales among ``scales`` that go to RS with ``clinician_domain="RS"``: those CDISC
    lists as clinical classifications (MADRS) and clinician-rated scales CDISC has no category
    for; never one CDISC lists as a questionnaire (C-SSRS stays in QS)
    (:func:`remit.interop.qrs.clinical_classifications`)."""
    return clinical_classifications(scales)


def _timepoint_number(ctx: Context, visit: Any, timepoint: Any) -> float | None:
    """``--TPTNUM``: the time point's place (from 1) in the visit's dosing-session time
    points of the protocol (None without a time point; the dosing service refuses a time point
    the protocol does not list)."""
    if is_missing(timepoint):
        return None
    for d in ctx.protocol.dosing:
        if d.visit == visit and str(timepoint) in d.vas_timepoints:
            return float(d.vas_timepoints.index(str(timepoint)) + 1)
    return None


#: ``--REASND`` of an item the form's own skip logic did not ask, of one left blank, and of a
#: score the answers do not allow.
NOT_ASKED = "NOT ASKED (SKIP LOGIC OF THE FORM)"
LEFT_BLANK = "LEFT BLANK ON THE FORM"
NOT_DERIVABLE = "NOT DERIVABLE FROM THE ANSWERS GIVEN"


def _reason_not_done(derived: bool, key: str, skipped: frozenset[str]) -> str:
    if derived:
        return NOT_DERIVABLE
    return NOT_ASKED if key in skipped else LEFT_BLANK


def _skipped(scale: str, version: Any, answers: dict[str, Any]) -> frozenset[str]:
    """The items of the form that its skip logic did not ask (none for an unknown scale)."""
    try:
        definition = load_scale(scale)
        v = None if is_missing(version) else str(version)
        return skipped_items(definition, definition.items_for(v), answers)
    except (ScaleError, InputError, NotFoundError, OSError):  # unknown scale/version: no skips
        return frozenset()


def findings_about_scales(ctx: Context, domain: ClinicianDomain, scales: set[str]) -> Dataset:
    """:func:`build_findings_about_scales`, built once per context (SDTM and ADaM share it)."""
    return ctx.shared(
        ("findings", domain, frozenset(scales)),
        lambda: build_findings_about_scales(ctx, domain, scales),
    )


def build_findings_about_scales(ctx: Context, domain: ClinicianDomain, scales: set[str]) -> Dataset:
    """QS (questionnaires) or RS (clinical classifications): one record per item and score."""
    p = domain
    rows = []
    tests: dict[tuple[str, str | None, str, str], Any] = {}  # qrs_test per build
    for r in frame_rows(ctx.data.scores):
        if r.scale not in scales:
            continue
        timepoint = getattr(r, "timepoint", None)
        parts: list[tuple[str, str, Any, bool]] = [
            ("items", str(k), v, False) for k, v in sorted(r.items.items())
        ]
        skipped = _skipped(str(r.scale), r.version, dict(r.items))
        if not is_missing(r.total):
            parts.append(("total", "total", r.total, True))
        parts += [("subscales", str(k), v, True) for k, v in sorted(r.subscales.items())]
        parts += [("derived", str(k), v, True) for k, v in sorted(r.derived.items())]
        scale = str(r.scale)
        version = None if is_missing(r.version) else str(r.version)
        cat = qrs_category(scale, version)
        # what every record of the form shares
        form = {
            "STUDYID": ctx.study,
            "DOMAIN": domain,
            "USUBJID": ctx.usubjid(r.participant_id),
            f"{p}CAT": cat.value,
            f"{p}SCAT": None
            if is_missing(r.version) or r.version == "default"
            else str(r.version).upper(),
            **ctx.visit(r.visit_code),
            f"{p}DTC": iso_datetime(r.assessed_at),
            f"{p}DY": ctx.day(r.participant_id, r.assessed_at),
            f"{p}TPT": None if is_missing(timepoint) else str(timepoint).replace("_", " ").upper(),
            f"{p}TPTNUM": _timepoint_number(ctx, r.visit_code, timepoint),
        }
        for part, key, value, derived in parts:
            orres, stresc, stresn = result_values(value)
            code = tests.get((scale, version, part, key))
            if code is None:
                code = tests[(scale, version, part, key)] = qrs_test(scale, version, part, key)
            rows.append(
                {
                    **form,
                    f"{p}TESTCD": code.code,
                    f"{p}TEST": code.name,
                    f"{p}ORRES": None if derived else orres,
                    f"{p}STRESC": stresc,
                    f"{p}STRESN": stresn,
                    f"{p}STAT": "NOT DONE" if orres is None else None,
                    f"{p}REASND": None
                    if orres is not None
                    else _reason_not_done(derived, key, skipped),
                    f"{p}DRVFL": "Y" if derived else None,
                }
            )
    rows = sequenced(rows, f"{p}SEQ", ("USUBJID", f"{p}CAT", f"{p}DTC", f"{p}TPT", f"{p}TESTCD"))
    variables = [
        *ID_VARIABLES,
        var(f"{p}SEQ", "Sequence Number", "integer", "Derived", key=3),
        var(
            f"{p}TESTCD",
            "Question Short Name" if p == "QS" else "Assessment Short Name",
            origin="Assigned",
        ),
        var(f"{p}TEST", "Question Name" if p == "QS" else "Assessment Name", origin="Assigned"),
        var(
            f"{p}CAT",
            "Category of Question" if p == "QS" else "Category for Assessment",
            origin="Assigned",
        ),
        var(
            f"{p}SCAT",
            "Subcategory for Question" if p == "QS" else "Subcategory for Assessment",
            origin="Assigned",
        ),
        var(
            f"{p}ORRES",
            "Finding in Original Units" if p == "QS" else "Result or Finding in Original Units",
        ),
        var(f"{p}STRESC", "Character Result/Finding in Std Format", origin="Derived"),
        var(f"{p}STRESN", "Numeric Finding in Standard Units", "float", "Derived"),
        var(f"{p}STAT", "Completion Status", origin="Derived"),
        var(f"{p}REASND", "Reason Not Performed", origin="Derived"),
        var(f"{p}DRVFL", "Derived Flag", origin="Derived"),
        *VISIT_VARIABLES,
        var(f"{p}DTC", "Date/Time of Finding", "datetime"),
        var(f"{p}DY", "Study Day of Finding", "integer", "Derived"),
        var(f"{p}TPT", "Planned Time Point Name", origin="Protocol"),
        var(f"{p}TPTNUM", "Planned Time Point Number", "float", "Protocol"),
    ]
    label = "Questionnaires" if p == "QS" else "Disease Response and Clin Classification"
    return make_dataset(
        domain, label, "SDTM", variables, rows, structure="One record per item per form"
    )
