"""ADaM datasets ADSL and ADQS, built from :mod:`remit.analysis` (the numbers the report uses).

The values come unchanged from :func:`remit.analysis.build_adsl` and
:func:`remit.analysis.build_adqs`; this module renames and types them as ADaM says: 8-character
names, ``PARAMCD`` ≤ 8 characters (:mod:`remit.interop.codes`), numeric SAS dates for ``*DT``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd

from remit.analysis import TrialData, build_adqs, build_adsl
from remit.interop.codes import code_for, scale_prefix
from remit.interop.dataset import Dataset, Variable, is_missing, make_dataset
from remit.interop.sdtm import iso_datetime
from remit.interop.sdtm.events import DISPOSITION
from remit.interop.sdtm.special import not_collected
from remit.protocol import Protocol
from remit.protocol.demographics import Characteristic
from remit.protocol.status import FINAL_STATUSES, ParticipantStatus
from remit.services.blinding import BLINDED

_SAS_EPOCH = date(1960, 1, 1)
_SEX = {"female": "F", "male": "M"}
_PARTS = {"TOTAL": "total", "SUBSCALE": "subscales", "DERIVED": "derived", "ITEM": "items"}


def sas_date(value: Any) -> int | None:
    """Days since 1960-01-01 (a SAS date) of a date or timestamp; None when missing."""
    if is_missing(value):
        return None
    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC")
    return (ts.date() - _SAS_EPOCH).days


def end_of_study_status(status: str) -> str:
    """ADSL ``EOSSTT`` of a participant status: COMPLETED, DISCONTINUED or ONGOING.

    >>> end_of_study_status("ineligible"), end_of_study_status("on_study")
    ('DISCONTINUED', 'ONGOING')
    """
    if status == ParticipantStatus.COMPLETED:
        return "COMPLETED"
    if status in FINAL_STATUSES:
        return "DISCONTINUED"
    return "ONGOING"


def _v(name: str, label: str, type_: Any = "text", origin: str = "Derived") -> Variable:
    return Variable(name, label, type_, origin)


def build_adam_adsl(data: TrialData, protocol: Protocol) -> Dataset:
    """ADSL: one record per participant screened."""
    adsl = build_adsl(data, protocol)
    given = data.doses[data.doses["status"] == "given"]
    last_dose = given.groupby("participant_id")["given_at"].max().to_dict()
    arms = {a.code: a.label for a in protocol.arms}
    arms[BLINDED] = BLINDED  # a blinded reader's data: the arm masked, the structure kept
    base_cols = [c for c in adsl.columns if c.endswith("_total_baseline")]
    collects_race = protocol.demographics.collects(Characteristic.RACE)
    races = (
        {
            r.participant_id: None if is_missing(r.race) else str(r.race)
            for r in data.participants.itertuples()
        }
        if collects_race and "race" in data.participants.columns
        else {}
    )
    rows = []
    for r in adsl.to_dict("records"):
        pid = r["participant_id"]
        arm = None if is_missing(r["arm"]) else str(r["arm"])
        row = {
            "STUDYID": r["STUDYID"],
            "USUBJID": r["USUBJID"],
            "SUBJID": pid,
            "SITEID": r["SITEID"],
            "ARM": arms.get(arm) if arm else None,
            "TRT01P": arm,
            "TRT01A": arm if r["SAFFL"] == "Y" else None,
            "AGE": r["AGE"],
            "AGEU": None if is_missing(r["AGE"]) else "YEARS",
            "AGEGR1": r["AGEGR1"],
            "SEX": _SEX.get(str(r["SEX"]).lower(), "U") if not is_missing(r["SEX"]) else "U",
            "RACE": races.get(pid),
            "SCRNFL": r["SCRNFL"],
            "ENRLFL": r["ENRLFL"],
            "FASFL": r["FASFL"],
            "SAFFL": r["SAFFL"],
            "COMPPFL": r["COMPPFL"],
            "COMPFUFL": r["COMPFUFL"],
            "EOSSTT": end_of_study_status(str(r["status"])),
            "DCSREAS": DISPOSITION[str(r["status"])][0]
            if str(r["status"]) in DISPOSITION and str(r["status"]) != "completed"
            else None,
            "DCSREASP": None if is_missing(r["withdrawn_reason"]) else r["withdrawn_reason"],
            "RANDDT": sas_date(r["enrolled_date"]),
            "TRTSDT": sas_date(r["first_dose_at"]),
            "TRTSDTC": iso_datetime(r["first_dose_at"]),
            "TRTEDT": sas_date(last_dose.get(pid)),
            "NDOSES": r["n_doses_given"],
            "SIMFL": "Y" if bool(r["simulated"]) else "N",
        }
        for col in base_cols:
            row[f"{scale_prefix(col.removesuffix('_total_baseline'))}BL"] = r[col]
        rows.append(row)
    variables = [
        _v("STUDYID", "Study Identifier", origin="Predecessor"),
        _v("USUBJID", "Unique Subject Identifier", origin="Predecessor"),
        _v("SUBJID", "Subject Identifier for the Study", origin="Predecessor"),
        _v("SITEID", "Study Site Identifier", origin="Predecessor"),
        _v("ARM", "Description of Planned Arm", origin="Predecessor"),
        _v("TRT01P", "Planned Treatment for Period 01"),
        _v("TRT01A", "Actual Treatment for Period 01"),
        _v("AGE", "Age", "integer", "Predecessor"),
        _v("AGEU", "Age Units", origin="Predecessor"),
        _v("AGEGR1", "Pooled Age Group 1"),
        _v("SEX", "Sex", origin="Predecessor"),
        Variable(
            "RACE",
            "Race",
            origin="Predecessor",
            comment="" if collects_race else not_collected("race"),
        ),
        _v("SCRNFL", "Screened Population Flag"),
        _v("ENRLFL", "Enrolled Population Flag"),
        _v("FASFL", "Full Analysis Set Population Flag"),
        _v("SAFFL", "Safety Population Flag"),
        _v("COMPPFL", "Completed Primary Endpoint Visit Flag"),
        _v("COMPFUFL", "Completed Follow-up Visit Flag"),
        _v("EOSSTT", "End of Study Status"),
        _v("DCSREAS", "Reason for Discontinuation from Study"),
        _v("DCSREASP", "Reason Spec for Discont from Study"),
        _v("RANDDT", "Date of Enrolment", "date"),
        _v("TRTSDT", "Date of First Exposure to Treatment", "date"),
        _v("TRTSDTC", "Datetime of First Exposure (UTC, ISO)", "datetime"),
        _v("TRTEDT", "Date of Last Exposure to Treatment", "date"),
        _v("NDOSES", "Number of Doses Given", "integer"),
        _v("SIMFL", "Simulated Data Flag"),
    ]
    for col in base_cols:
        scale = col.removesuffix("_total_baseline")
        variables.append(
            _v(f"{scale_prefix(scale)}BL", f"Baseline {scale.upper()} Total"[:40], "float")
        )
    return make_dataset(
        "ADSL",
        "Subject-Level Analysis Dataset",
        "ADaM",
        variables,
        rows,
        structure="One record per subject",
    )


def build_adam_adqs(data: TrialData, protocol: Protocol) -> Dataset:
    """ADQS: one record per participant × visit (× time point) × parameter."""
    adqs = build_adqs(data, protocol)
    crit = sorted(
        {c for c in adqs.columns if c.startswith("CRIT") and not c.endswith("FL")},
        key=lambda c: int(c[4:]),
    )
    rows = []
    for r in adqs.to_dict("records"):
        part = _PARTS[str(r["PARCAT1"])]
        key = "total" if part == "total" else str(r["param"]).removeprefix(f"{r['scale']}_")
        code = code_for(str(r["scale"]), part, key)
        row = {
            "STUDYID": protocol.study.id,
            "USUBJID": r["USUBJID"],
            "SUBJID": r["participant_id"],
            "TRT01P": r["arm"],
            "PARAMCD": code.code,
            "PARAM": r["PARAM"],
            "PARCAT1": r["PARCAT1"],
            "PARCAT2": str(r["scale"]).upper(),
            "QSSCAT": None
            if is_missing(r["version"]) or r["version"] == "default"
            else r["version"],
            "AVISIT": r["AVISIT"],
            "AVISITN": r["AVISITN"],
            "ATPT": r["ATPT"],
            "ADT": sas_date(r["assessed_at"]),
            "ADY": r["ADY"],
            "AVAL": r["AVAL"],
            "BASE": r["BASE"],
            "CHG": r["CHG"],
            "PCHG": r["PCHG"],
            "ABLFL": r["ABLFL"],
            "ANL01FL": r["ANL01FL"],
            "BASEVIS": r["BASEVIS"],
            "PRORATFL": "Y" if bool(r["prorated"]) else None,
        }
        for c in crit:
            row[c] = r[c]
            row[f"{c}FL"] = r[f"{c}FL"]
        rows.append(row)
    variables = [
        _v("STUDYID", "Study Identifier", origin="Predecessor"),
        _v("USUBJID", "Unique Subject Identifier", origin="Predecessor"),
        _v("SUBJID", "Subject Identifier for the Study", origin="Predecessor"),
        _v("TRT01P", "Planned Treatment for Period 01", origin="Predecessor"),
        _v("PARAMCD", "Parameter Code"),
        _v("PARAM", "Parameter"),
        _v("PARCAT1", "Parameter Category 1"),
        _v("PARCAT2", "Parameter Category 2 (Scale)"),
        _v("QSSCAT", "Subcategory (Scale Version)", origin="Predecessor"),
        _v("AVISIT", "Analysis Visit"),
        _v("AVISITN", "Analysis Visit (N)", "float"),
        _v("ATPT", "Analysis Timepoint"),
        _v("ADT", "Analysis Date", "date"),
        _v("ADY", "Analysis Relative Day", "integer"),
        _v("AVAL", "Analysis Value", "float"),
        _v("BASE", "Baseline Value", "float"),
        _v("CHG", "Change from Baseline", "float"),
        _v("PCHG", "Percent Change from Baseline", "float"),
        _v("ABLFL", "Baseline Record Flag"),
        _v("ANL01FL", "Analysis Flag 01"),
        _v("BASEVIS", "Baseline Visit of the Scale"),
        _v("PRORATFL", "Prorated Total Flag"),
    ]
    for c in crit:
        n = c[4:]
        variables += [
            _v(c, f"Analysis Criterion {n}"),
            _v(f"{c}FL", f"Criterion {n} Evaluation Result Flag"),
        ]
    return make_dataset(
        "ADQS",
        "Questionnaire Analysis Dataset",
        "ADaM",
        variables,
        rows,
        structure="One record per subject per parameter per visit per time point",
    )


def build_adam(data: TrialData, protocol: Protocol) -> dict[str, Dataset]:
    """ADSL and ADQS, by name."""
    return {"ADSL": build_adam_adsl(data, protocol), "ADQS": build_adam_adqs(data, protocol)}
