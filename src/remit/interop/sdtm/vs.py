"""SDTM VS (vital signs), with time points relative to the session's initial dose."""

from __future__ import annotations

import pandas as pd

from remit.interop.dataset import Dataset, frame_rows, is_missing, make_dataset
from remit.interop.sdtm.base import (
    ID_VARIABLES,
    VISIT_VARIABLES,
    Context,
    duration,
    iso_datetime,
    result_values,
    sequenced,
    var,
)
from remit.protocol import VITAL_SIGNS


def build_vs(ctx: Context) -> Dataset:
    """VS: vital signs, with time points relative to the session's initial dose."""
    rows = []
    for r in frame_rows(ctx.data.vitals):
        minutes = r.minutes_after_dose
        has_tpt = not is_missing(minutes)
        dose_time = None
        if has_tpt:
            dose_time = pd.Timestamp(r.measured_at) - pd.Timedelta(minutes=float(minutes))
        for sign in VITAL_SIGNS.values():  # VSTESTCD, VSTEST and units from the vocabulary
            value = getattr(r, sign.code)
            if is_missing(value):
                continue
            orres, stresc, stresn = result_values(value)
            if has_tpt:
                tpt = "PRE-DOSE" if minutes <= 0 else f"{int(minutes)} MIN POST-DOSE"
            rows.append(
                {
                    "STUDYID": ctx.study,
                    "DOMAIN": "VS",
                    "USUBJID": ctx.usubjid(r.participant_id),
                    "VSTESTCD": sign.testcd,
                    "VSTEST": sign.test,
                    "VSORRES": orres,
                    "VSORRESU": sign.sdtm_unit,
                    "VSSTRESC": stresc,
                    "VSSTRESN": stresn,
                    "VSSTRESU": sign.sdtm_unit,
                    **ctx.visit(r.visit_code),
                    "VSDTC": iso_datetime(r.measured_at),
                    "VSDY": ctx.day(r.participant_id, r.measured_at),
                    "VSTPT": tpt if has_tpt else None,
                    "VSTPTNUM": float(minutes) if has_tpt else None,
                    "VSELTM": duration(float(minutes)) if has_tpt else None,
                    "VSTPTREF": "INITIAL DOSE" if has_tpt else None,
                    "VSRFTDTC": iso_datetime(dose_time) if has_tpt else None,
                }
            )
    rows = sequenced(rows, "VSSEQ", ("USUBJID", "VSDTC", "VSTESTCD"))
    variables = [
        *ID_VARIABLES,
        var("VSSEQ", "Sequence Number", "integer", "Derived", key=3),
        var("VSTESTCD", "Vital Signs Test Short Name", origin="Assigned"),
        var("VSTEST", "Vital Signs Test Name", origin="Assigned"),
        var("VSORRES", "Result or Finding in Original Units"),
        var("VSORRESU", "Original Units", origin="Assigned"),
        var("VSSTRESC", "Character Result/Finding in Std Format", origin="Derived"),
        var("VSSTRESN", "Numeric Result/Finding in Standard Units", "float", "Derived"),
        var("VSSTRESU", "Standard Units", origin="Assigned"),
        *VISIT_VARIABLES,
        var("VSDTC", "Date/Time of Measurements", "datetime"),
        var("VSDY", "Study Day of Vital Signs", "integer", "Derived"),
        var("VSTPT", "Planned Time Point Name", origin="Protocol"),
        var("VSTPTNUM", "Planned Time Point Number", "float", "Protocol"),
        var("VSELTM", "Planned Elapsed Time from Time Point Ref", origin="Protocol"),
        var("VSTPTREF", "Time Point Reference", origin="Protocol"),
        var("VSRFTDTC", "Date/Time of Reference Time Point", "datetime", "Derived"),
    ]
    return make_dataset(
        "VS", "Vital Signs", "SDTM", variables, rows, structure="One record per measurement"
    )
