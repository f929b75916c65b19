"""SDTM interventions: EX (exposure) and EC (exposure as collected)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from remit.interop.dataset import Dataset, frame_rows, is_missing, make_dataset
from remit.interop.sdtm.base import (
    ID_VARIABLES,
    VISIT_VARIABLES,
    Context,
    iso_datetime,
    sequenced,
    var,
)
from remit.protocol.status import DECIDED_DOSE_STATUSES, DoseKind, DoseStatus


def _dose_rows(ctx: Context, statuses: Collection[DoseStatus]) -> list[tuple[Any, Any]]:
    d = ctx.data.doses
    out = []
    for r in frame_rows(d):
        if r.status in statuses:
            planned = ctx.protocol.dosing_session(str(r.visit_code))
            substance = planned.substance if planned else "STUDY DRUG"
            out.append((r, substance))
    return out


def build_ex(ctx: Context) -> Dataset:
    """EX: each dose taken (initial and supplemental), with its time."""
    rows = []
    for r, substance in _dose_rows(ctx, (DoseStatus.GIVEN,)):
        rows.append(
            {
                "STUDYID": ctx.study,
                "DOMAIN": "EX",
                "USUBJID": ctx.usubjid(r.participant_id),
                "EXTRT": substance.upper(),
                "EXDOSE": float(r.dose_mg),
                "EXDOSU": "mg",
                "EXDOSFRM": None,  # the protocol does not state the dose form
                "EXROUTE": "ORAL",
                "EXTPT": f"{str(r.kind).upper()} DOSE",
                "EXTPTNUM": 1.0 if r.kind == DoseKind.INITIAL else 2.0,
                "EXSPID": f"SESSION {int(r.session_number)} {str(r.kind).upper()}",
                **ctx.visit(r.visit_code),
                "EXSTDTC": iso_datetime(r.given_at),
                "EXENDTC": iso_datetime(r.given_at),
                "EXSTDY": ctx.day(r.participant_id, r.given_at),
                "EXENDY": ctx.day(r.participant_id, r.given_at),
            }
        )
    rows = sequenced(rows, "EXSEQ", ("USUBJID", "EXSTDTC"))
    variables = [
        *ID_VARIABLES,
        var("EXSEQ", "Sequence Number", "integer", "Derived", key=3),
        var("EXSPID", "Sponsor-Defined Identifier"),
        var("EXTRT", "Name of Treatment", origin="Protocol"),
        var("EXDOSE", "Dose", "float"),
        var("EXDOSU", "Dose Units", origin="Protocol"),
        var(
            "EXDOSFRM",
            "Dose Form",
            origin="Assigned",
        ),
        var("EXROUTE", "Route of Administration", origin="Protocol"),
        var("EXTPT", "Planned Time Point Name", origin="Protocol"),
        var("EXTPTNUM", "Planned Time Point Number", "float", "Protocol"),
        *VISIT_VARIABLES,
        var("EXSTDTC", "Start Date/Time of Treatment", "datetime"),
        var("EXENDTC", "End Date/Time of Treatment", "datetime"),
        var("EXSTDY", "Study Day of Start of Treatment", "integer", "Derived"),
        var("EXENDY", "Study Day of End of Treatment", "integer", "Derived"),
    ]
    return make_dataset("EX", "Exposure", "SDTM", variables, rows, structure="One record per dose")


def build_ec(ctx: Context) -> Dataset:
    """EC: every planned dose as collected; a withheld dose has ``ECOCCUR = "N"``.

    The SDTM IG keeps doses not taken out of EX; they are represented in EC with
    ``ECPRESP = "Y"``, ``ECOCCUR = "N"`` and the reason in ``ECREASOC``.
    """
    rows = []
    for r, substance in _dose_rows(ctx, DECIDED_DOSE_STATUSES):
        given = r.status == DoseStatus.GIVEN
        rows.append(
            {
                "STUDYID": ctx.study,
                "DOMAIN": "EC",
                "USUBJID": ctx.usubjid(r.participant_id),
                "ECTRT": substance.upper(),
                "ECPRESP": "Y",
                "ECOCCUR": "Y" if given else "N",
                "ECREASOC": None
                if given or is_missing(r.withheld_reason)
                else str(r.withheld_reason),
                "ECDOSE": float(r.dose_mg) if not is_missing(r.dose_mg) else None,
                "ECDOSU": "mg",
                "ECTPT": f"{str(r.kind).upper()} DOSE",
                "ECTPTNUM": 1.0 if r.kind == DoseKind.INITIAL else 2.0,
                "ECSPID": f"SESSION {int(r.session_number)} {str(r.kind).upper()}",
                **ctx.visit(r.visit_code),
                "ECSTDTC": iso_datetime(r.given_at),
                "ECSTDY": ctx.day(r.participant_id, r.given_at),
            }
        )
    rows = sequenced(rows, "ECSEQ", ("USUBJID", "VISITNUM", "ECTPTNUM"))
    variables = [
        *ID_VARIABLES,
        var("ECSEQ", "Sequence Number", "integer", "Derived", key=3),
        var("ECSPID", "Sponsor-Defined Identifier"),
        var("ECTRT", "Name of Treatment", origin="Protocol"),
        var("ECPRESP", "Pre-Specified", origin="Assigned"),
        var("ECOCCUR", "Occurrence"),
        var("ECREASOC", "Reason for Occur Value"),
        var("ECDOSE", "Dose", "float"),
        var("ECDOSU", "Dose Units", origin="Protocol"),
        var("ECTPT", "Planned Time Point Name", origin="Protocol"),
        var("ECTPTNUM", "Planned Time Point Number", "float", "Protocol"),
        *VISIT_VARIABLES,
        var("ECSTDTC", "Start Date/Time of Treatment", "datetime"),
        var("ECSTDY", "Study Day of Start of Treatment", "integer", "Derived"),
    ]
    return make_dataset(
        "EC",
        "Exposure as Collected",
        "SDTM",
        variables,
        rows,
        structure="One record per planned dose",
    )
