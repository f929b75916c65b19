"""SDTM domains from the trial data and the protocol: DM, EX, EC, QS/RS, AE, VS, DS, SV, TA, TE, TV.

Names, labels and value conventions follow the SDTM Implementation Guide (3.4): ISO 8601
dates and times (times are UTC, written without a zone), ``--SEQ`` numbering records within a
subject, ``--DY`` counted from ``RFSTDTC`` (the first dose) with no day 0, ``VISITNUM`` from
the protocol (:meth:`remit.protocol.Protocol.visit_number`) and ``EPOCH`` from the visit kind.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from remit.analysis import TrialData
from remit.errors import InputError, ScaleError
from remit.interop.codes import code_for
from remit.interop.dataset import Dataset, Variable, frame_rows, is_missing, make_dataset
from remit.protocol import Protocol
from remit.scales import load_scale

#: EPOCH of each protocol visit kind.
EPOCHS = {
    "screening": "SCREENING",
    "enrolment": "SCREENING",
    "preparatory": "TREATMENT",
    "baseline": "TREATMENT",
    "dosing": "TREATMENT",
    "integration": "TREATMENT",
    "assessment": "TREATMENT",
    "termination": "TREATMENT",
    "follow-up": "FOLLOW-UP",
}

_SEX = {"female": "F", "f": "F", "male": "M", "m": "M"}
_SEVERITY = {"mild": "MILD", "moderate": "MODERATE", "severe": "SEVERE"}
_VITALS = (
    ("systolic_bp", "SYSBP", "Systolic Blood Pressure", "mmHg"),
    ("diastolic_bp", "DIABP", "Diastolic Blood Pressure", "mmHg"),
    ("heart_rate", "PULSE", "Pulse Rate", "beats/min"),
    ("temperature", "TEMP", "Temperature", "C"),
)


@dataclass(frozen=True)
class SdtmSettings:
    """Choices the SDTM IG leaves to the sponsor.

    ``clinician_domain``: where clinician-rated scales (``respondent = "clinician"``, e.g.
    MADRS) go — ``QS`` or ``RS`` (SDTMIG 3.3+ moved clinical classifications to RS).
    """

    clinician_domain: Literal["QS", "RS"] = "QS"


def iso_date(value: Any) -> str | None:
    """``YYYY-MM-DD`` of a date or timestamp (None when missing)."""
    if is_missing(value):
        return None
    return pd.Timestamp(value).strftime("%Y-%m-%d")


def iso_datetime(value: Any) -> str | None:
    """``YYYY-MM-DDThh:mm:ss`` (UTC) of a timestamp (None when missing)."""
    if is_missing(value):
        return None
    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.strftime("%Y-%m-%dT%H:%M:%S")


def study_day(value: Any, reference: Any) -> int | None:
    """SDTM ``--DY``: days from the reference date, day 1 on it, no day 0."""
    if is_missing(value) or is_missing(reference):
        return None
    days = (pd.Timestamp(str(iso_date(value))) - pd.Timestamp(str(iso_date(reference)))).days
    return days + 1 if days >= 0 else days


def duration(minutes: float) -> str:
    """ISO 8601 duration of a signed number of minutes (``-PT15M``, ``PT1H30M``)."""
    sign = "-" if minutes < 0 else ""
    m = abs(round(minutes))
    hours, rest = divmod(m, 60)
    if hours and rest:
        return f"{sign}PT{hours}H{rest}M"
    if hours:
        return f"{sign}PT{hours}H"
    return f"{sign}PT{rest}M"


def _v(
    name: str, label: str, type_: Any = "text", origin: str = "Collected", key: int | None = None
) -> Variable:
    return Variable(name, label, type_, origin, None, key)


_ID = [
    _v("STUDYID", "Study Identifier", origin="Assigned", key=1),
    _v("DOMAIN", "Domain Abbreviation", origin="Assigned"),
    _v("USUBJID", "Unique Subject Identifier", origin="Assigned", key=2),
]
_VISIT = [
    _v("VISITNUM", "Visit Number", "float", "Protocol"),
    _v("VISIT", "Visit Name", origin="Protocol"),
    _v("EPOCH", "Epoch", origin="Protocol"),
]


class _Context:
    def __init__(self, data: TrialData, protocol: Protocol) -> None:
        self.data = data
        self.protocol = protocol
        self.study = protocol.study.id
        self.codes = set(protocol.visit_codes)
        given = data.doses[data.doses["status"] == "given"]
        self.first_dose = given.groupby("participant_id")["given_at"].min().to_dict()
        self.last_dose = given.groupby("participant_id")["given_at"].max().to_dict()
        done = data.visits.dropna(subset=["actual_date"])
        self.last_visit = done.groupby("participant_id")["actual_date"].max().to_dict()

    def usubjid(self, pid: Any) -> str:
        return f"{self.study}-{pid}"

    def visit(self, code: Any) -> dict[str, Any]:
        if is_missing(code) or str(code) not in self.codes:
            return {"VISITNUM": None, "VISIT": None, "EPOCH": None}
        v = self.protocol.visit(str(code))
        return {
            "VISITNUM": self.protocol.visit_number(v.code),
            "VISIT": v.label.upper(),
            "EPOCH": EPOCHS.get(v.kind, "TREATMENT"),
        }

    def day(self, pid: Any, value: Any) -> int | None:
        return study_day(value, self.first_dose.get(pid))


def _sort_key(value: Any) -> tuple[int, float, str]:
    if value is None:
        return (0, 0.0, "")
    if isinstance(value, int | float):
        return (1, float(value), "")
    return (2, 0.0, str(value))


def _sequenced(rows: list[dict[str, Any]], seq: str, order: Iterable[str]) -> list[dict[str, Any]]:
    keys = list(order)
    rows.sort(key=lambda r: tuple(_sort_key(r.get(k)) for k in keys))
    counter: dict[str, int] = {}
    for r in rows:
        counter[r["USUBJID"]] = counter.get(r["USUBJID"], 0) + 1
        r[seq] = counter[r["USUBJID"]]
    return rows


def build_dm(ctx: _Context) -> Dataset:
    """DM: one record per participant screened."""
    p = ctx.data.participants
    site_country: dict[str, str | None] = {s.code: s.country for s in ctx.protocol.study.sites}
    arms = {a.code: a.label for a in ctx.protocol.arms}
    last_visit = ctx.last_visit
    rows = []
    for r in frame_rows(p):
        pid = r.participant_id
        arm = None if is_missing(r.arm) else str(r.arm)
        treated = pid in ctx.first_dose
        rows.append(
            {
                "STUDYID": ctx.study,
                "DOMAIN": "DM",
                "USUBJID": ctx.usubjid(pid),
                "SUBJID": str(pid),
                "RFSTDTC": iso_datetime(ctx.first_dose.get(pid)),
                "RFENDTC": iso_date(last_visit.get(pid)),
                "RFXSTDTC": iso_datetime(ctx.first_dose.get(pid)),
                "RFXENDTC": iso_datetime(ctx.last_dose.get(pid)),
                "RFICDTC": iso_date(r.screened_date),
                "SITEID": None if is_missing(r.site) else str(r.site),
                "AGE": None if is_missing(r.age_years) else float(r.age_years),
                "AGEU": None if is_missing(r.age_years) else "YEARS",
                "SEX": _SEX.get(str(r.sex).lower(), "U") if not is_missing(r.sex) else "U",
                "ARMCD": arm,
                "ARM": arms.get(arm) if arm else None,
                "ACTARMCD": arm if treated else None,
                "ACTARM": arms.get(arm) if (arm and treated) else None,
                "ARMNRS": None
                if arm
                else ("SCREEN FAILURE" if r.status == "ineligible" else "NOT ASSIGNED"),
                "ACTARMUD": None,
                "COUNTRY": None if is_missing(r.site) else site_country.get(str(r.site)),
            }
        )
    rows.sort(key=lambda x: str(x["USUBJID"]))
    variables = [
        *_ID,
        _v("SUBJID", "Subject Identifier for the Study"),
        _v("RFSTDTC", "Subject Reference Start Date/Time", "datetime", "Derived"),
        _v("RFENDTC", "Subject Reference End Date/Time", "datetime", "Derived"),
        _v("RFXSTDTC", "Date/Time of First Study Treatment", "datetime", "Derived"),
        _v("RFXENDTC", "Date/Time of Last Study Treatment", "datetime", "Derived"),
        _v("RFICDTC", "Date/Time of Informed Consent", "datetime"),
        _v("SITEID", "Study Site Identifier"),
        _v("AGE", "Age", "integer"),
        _v("AGEU", "Age Units", origin="Assigned"),
        _v("SEX", "Sex"),
        _v("ARMCD", "Planned Arm Code", origin="Assigned"),
        _v("ARM", "Description of Planned Arm", origin="Assigned"),
        _v("ACTARMCD", "Actual Arm Code", origin="Derived"),
        _v("ACTARM", "Description of Actual Arm", origin="Derived"),
        _v("ARMNRS", "Reason Arm and/or Actual Arm is Null", origin="Derived"),
        _v("ACTARMUD", "Description of Unplanned Actual Arm", origin="Derived"),
        _v("COUNTRY", "Country", origin="Protocol"),
    ]
    return make_dataset(
        "DM", "Demographics", "SDTM", variables, rows, structure="One record per subject"
    )


def _dose_rows(ctx: _Context, statuses: tuple[str, ...]) -> list[tuple[Any, Any]]:
    d = ctx.data.doses
    out = []
    for r in frame_rows(d):
        if r.status in statuses:
            planned = ctx.protocol.dosing_session(str(r.visit_code))
            substance = planned.substance if planned else "STUDY DRUG"
            out.append((r, substance))
    return out


def build_ex(ctx: _Context) -> Dataset:
    """EX: each dose taken (initial and supplemental), with its time."""
    rows = []
    for r, substance in _dose_rows(ctx, ("given",)):
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
                "EXSPID": f"SESSION {int(r.session_number)} {str(r.kind).upper()}",
                **ctx.visit(r.visit_code),
                "EXSTDTC": iso_datetime(r.given_at),
                "EXENDTC": iso_datetime(r.given_at),
                "EXSTDY": ctx.day(r.participant_id, r.given_at),
                "EXENDY": ctx.day(r.participant_id, r.given_at),
            }
        )
    rows = _sequenced(rows, "EXSEQ", ("USUBJID", "EXSTDTC"))
    variables = [
        *_ID,
        _v("EXSEQ", "Sequence Number", "integer", "Derived", key=3),
        _v("EXSPID", "Sponsor-Defined Identifier"),
        _v("EXTRT", "Name of Treatment", origin="Protocol"),
        _v("EXDOSE", "Dose", "float"),
        _v("EXDOSU", "Dose Units", origin="Protocol"),
        _v(
            "EXDOSFRM",
            "Dose Form",
            origin="Assigned",
        ),
        _v("EXROUTE", "Route of Administration", origin="Protocol"),
        _v("EXTPT", "Planned Time Point Name", origin="Protocol"),
        *_VISIT,
        _v("EXSTDTC", "Start Date/Time of Treatment", "datetime"),
        _v("EXENDTC", "End Date/Time of Treatment", "datetime"),
        _v("EXSTDY", "Study Day of Start of Treatment", "integer", "Derived"),
        _v("EXENDY", "Study Day of End of Treatment", "integer", "Derived"),
    ]
    return make_dataset("EX", "Exposure", "SDTM", variables, rows, structure="One record per dose")


def build_ec(ctx: _Context) -> Dataset:
    """EC: every planned dose as collected; a withheld dose has ``ECOCCUR = "N"``.

    The SDTM IG keeps doses not taken out of EX; they are represented in EC with
    ``ECPRESP = "Y"``, ``ECOCCUR = "N"`` and the reason in ``ECREASOC``.
    """
    rows = []
    for r, substance in _dose_rows(ctx, ("given", "withheld")):
        given = r.status == "given"
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
                "ECTPTNUM": 1.0 if r.kind == "initial" else 2.0,
                "ECSPID": f"SESSION {int(r.session_number)} {str(r.kind).upper()}",
                **ctx.visit(r.visit_code),
                "ECSTDTC": iso_datetime(r.given_at),
                "ECSTDY": ctx.day(r.participant_id, r.given_at),
            }
        )
    rows = _sequenced(rows, "ECSEQ", ("USUBJID", "VISITNUM", "ECTPTNUM"))
    variables = [
        *_ID,
        _v("ECSEQ", "Sequence Number", "integer", "Derived", key=3),
        _v("ECSPID", "Sponsor-Defined Identifier"),
        _v("ECTRT", "Name of Treatment", origin="Protocol"),
        _v("ECPRESP", "Pre-Specified", origin="Assigned"),
        _v("ECOCCUR", "Occurrence"),
        _v("ECREASOC", "Reason for Occur Value"),
        _v("ECDOSE", "Dose", "float"),
        _v("ECDOSU", "Dose Units", origin="Protocol"),
        _v("ECTPT", "Planned Time Point Name", origin="Protocol"),
        _v("ECTPTNUM", "Planned Time Point Number", "float", "Protocol"),
        *_VISIT,
        _v("ECSTDTC", "Start Date/Time of Treatment", "datetime"),
        _v("ECSTDY", "Study Day of Start of Treatment", "integer", "Derived"),
    ]
    return make_dataset(
        "EC",
        "Exposure as Collected",
        "SDTM",
        variables,
        rows,
        structure="One record per planned dose",
    )


def _clinician_scales(scales: Iterable[str]) -> set[str]:
    out = set()
    for s in scales:
        try:
            if load_scale(s).respondent == "clinician":
                out.add(s)
        except (ScaleError, InputError, OSError):  # an unknown scale is not clinician-rated
            continue
    return out


def _result(value: Any) -> tuple[str | None, str | None, float | None]:
    """(original result, standard character result, standard numeric result)."""
    if is_missing(value):
        return None, None, None
    if isinstance(value, bool):
        return ("Y" if value else "N"), ("Y" if value else "N"), float(value)
    if isinstance(value, int | float):
        f = float(value)
        if math.isnan(f):
            return None, None, None
        text = str(int(f)) if f.is_integer() else repr(f)
        return text, text, f
    return str(value), str(value), None


def build_findings_about_scales(
    ctx: _Context, domain: Literal["QS", "RS"], scales: set[str]
) -> Dataset:
    """QS (questionnaires) or RS (clinical classifications): one record per item and score."""
    p = domain
    rows = []
    for r in frame_rows(ctx.data.scores):
        if r.scale not in scales:
            continue
        timepoint = getattr(r, "timepoint", None)
        parts: list[tuple[str, str, Any, bool]] = [
            ("items", str(k), v, False) for k, v in sorted(r.items.items())
        ]
        if not is_missing(r.total):
            parts.append(("total", "total", r.total, True))
        parts += [("subscales", str(k), v, True) for k, v in sorted(r.subscales.items())]
        parts += [("derived", str(k), v, True) for k, v in sorted(r.derived.items())]
        for part, key, value, derived in parts:
            orres, stresc, stresn = _result(value)
            code = code_for(str(r.scale), part, key)
            rows.append(
                {
                    "STUDYID": ctx.study,
                    "DOMAIN": domain,
                    "USUBJID": ctx.usubjid(r.participant_id),
                    f"{p}TESTCD": code.code,
                    f"{p}TEST": code.label,
                    f"{p}CAT": str(r.scale).upper(),
                    f"{p}SCAT": None
                    if is_missing(r.version) or r.version == "default"
                    else str(r.version).upper(),
                    f"{p}ORRES": None if derived else orres,
                    f"{p}STRESC": stresc,
                    f"{p}STRESN": stresn,
                    f"{p}STAT": "NOT DONE" if orres is None else None,
                    f"{p}DRVFL": "Y" if derived else None,
                    **ctx.visit(r.visit_code),
                    f"{p}DTC": iso_datetime(r.assessed_at),
                    f"{p}DY": ctx.day(r.participant_id, r.assessed_at),
                    f"{p}TPT": None if is_missing(timepoint) else str(timepoint).upper(),
                }
            )
    rows = _sequenced(rows, f"{p}SEQ", ("USUBJID", f"{p}CAT", f"{p}DTC", f"{p}TPT", f"{p}TESTCD"))
    variables = [
        *_ID,
        _v(f"{p}SEQ", "Sequence Number", "integer", "Derived", key=3),
        _v(
            f"{p}TESTCD",
            "Question Short Name" if p == "QS" else "Assessment Short Name",
            origin="Assigned",
        ),
        _v(f"{p}TEST", "Question Name" if p == "QS" else "Assessment Name", origin="Assigned"),
        _v(
            f"{p}CAT",
            "Category of Question" if p == "QS" else "Category for Assessment",
            origin="Assigned",
        ),
        _v(
            f"{p}SCAT",
            "Subcategory for Question" if p == "QS" else "Subcategory for Assessment",
            origin="Assigned",
        ),
        _v(
            f"{p}ORRES",
            "Finding in Original Units" if p == "QS" else "Result or Finding in Original Units",
        ),
        _v(f"{p}STRESC", "Character Result/Finding in Std Format", origin="Derived"),
        _v(f"{p}STRESN", "Numeric Finding in Standard Units", "float", "Derived"),
        _v(f"{p}STAT", "Completion Status", origin="Derived"),
        _v(f"{p}DRVFL", "Derived Flag", origin="Derived"),
        *_VISIT,
        _v(f"{p}DTC", "Date/Time of Finding", "datetime"),
        _v(f"{p}DY", "Study Day of Finding", "integer", "Derived"),
        _v(f"{p}TPT", "Planned Time Point Name", origin="Protocol"),
    ]
    label = "Questionnaires" if p == "QS" else "Disease Response and Clin Classification"
    return make_dataset(
        domain, label, "SDTM", variables, rows, structure="One record per item per form"
    )


def build_ae(ctx: _Context) -> Dataset:
    """AE: one record per adverse event (terms as reported; not MedDRA-coded)."""
    rows = []
    for r in frame_rows(ctx.data.adverse_events):
        rows.append(
            {
                "STUDYID": ctx.study,
                "DOMAIN": "AE",
                "USUBJID": ctx.usubjid(r.participant_id),
                "AETERM": str(r.term),
                "AEDECOD": str(r.term).upper(),
                "AESEV": _SEVERITY.get(str(r.severity).lower())
                if not is_missing(r.severity)
                else None,
                "AESER": "Y" if bool(r.serious) else "N",
                "AEREL": None if is_missing(r.relatedness) else str(r.relatedness).upper(),
                "AEOUT": None if is_missing(r.outcome) else str(r.outcome).upper(),
                "AESTDTC": iso_date(r.onset_date),
                "AESTDY": ctx.day(r.participant_id, r.onset_date),
            }
        )
    rows = _sequenced(rows, "AESEQ", ("USUBJID", "AESTDTC", "AETERM"))
    variables = [
        *_ID,
        _v("AESEQ", "Sequence Number", "integer", "Derived", key=3),
        _v("AETERM", "Reported Term for the Adverse Event"),
        _v("AEDECOD", "Dictionary-Derived Term", origin="Derived"),
        _v("AESEV", "Severity/Intensity"),
        _v("AESER", "Serious Event"),
        _v("AEREL", "Causality"),
        _v("AEOUT", "Outcome of Adverse Event"),
        _v("AESTDTC", "Start Date/Time of Adverse Event", "datetime"),
        _v("AESTDY", "Study Day of Start of Adverse Event", "integer", "Derived"),
    ]
    return make_dataset(
        "AE", "Adverse Events", "SDTM", variables, rows, structure="One record per event"
    )


def build_vs(ctx: _Context) -> Dataset:
    """VS: vital signs, with time points relative to the session's initial dose."""
    rows = []
    for r in frame_rows(ctx.data.vitals):
        minutes = r.minutes_after_dose
        has_tpt = not is_missing(minutes)
        dose_time = None
        if has_tpt:
            dose_time = pd.Timestamp(r.measured_at) - pd.Timedelta(minutes=float(minutes))
        for col, testcd, test, unit in _VITALS:
            value = getattr(r, col)
            if is_missing(value):
                continue
            orres, stresc, stresn = _result(value)
            if has_tpt:
                tpt = "PRE-DOSE" if minutes <= 0 else f"{int(minutes)} MIN POST-DOSE"
            rows.append(
                {
                    "STUDYID": ctx.study,
                    "DOMAIN": "VS",
                    "USUBJID": ctx.usubjid(r.participant_id),
                    "VSTESTCD": testcd,
                    "VSTEST": test,
                    "VSORRES": orres,
                    "VSORRESU": unit,
                    "VSSTRESC": stresc,
                    "VSSTRESN": stresn,
                    "VSSTRESU": unit,
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
    rows = _sequenced(rows, "VSSEQ", ("USUBJID", "VSDTC", "VSTESTCD"))
    variables = [
        *_ID,
        _v("VSSEQ", "Sequence Number", "integer", "Derived", key=3),
        _v("VSTESTCD", "Vital Signs Test Short Name", origin="Assigned"),
        _v("VSTEST", "Vital Signs Test Name", origin="Assigned"),
        _v("VSORRES", "Result or Finding in Original Units"),
        _v("VSORRESU", "Original Units", origin="Assigned"),
        _v("VSSTRESC", "Character Result/Finding in Std Format", origin="Derived"),
        _v("VSSTRESN", "Numeric Result/Finding in Standard Units", "float", "Derived"),
        _v("VSSTRESU", "Standard Units", origin="Assigned"),
        *_VISIT,
        _v("VSDTC", "Date/Time of Measurements", "datetime"),
        _v("VSDY", "Study Day of Vital Signs", "integer", "Derived"),
        _v("VSTPT", "Planned Time Point Name", origin="Protocol"),
        _v("VSTPTNUM", "Planned Time Point Number", "float", "Protocol"),
        _v("VSELTM", "Planned Elapsed Time from Time Point Ref", origin="Protocol"),
        _v("VSTPTREF", "Time Point Reference", origin="Protocol"),
        _v("VSRFTDTC", "Date/Time of Reference Time Point", "datetime", "Derived"),
    ]
    return make_dataset(
        "VS", "Vital Signs", "SDTM", variables, rows, structure="One record per measurement"
    )


_DISPOSITION = {
    "completed": ("COMPLETED", "COMPLETED"),
    "withdrawn": ("WITHDRAWAL BY SUBJECT", None),
    "lost_to_follow_up": ("LOST TO FOLLOW-UP", "LOST TO FOLLOW-UP"),
    "ineligible": ("SCREEN FAILURE", "SCREEN FAILURE"),
}


def build_ds(ctx: _Context) -> Dataset:
    """DS: informed consent, then the end-of-study disposition where there is one."""
    last_visit = ctx.last_visit
    rows = []
    for r in frame_rows(ctx.data.participants):
        base = {"STUDYID": ctx.study, "DOMAIN": "DS", "USUBJID": ctx.usubjid(r.participant_id)}
        if not is_missing(r.screened_date):
            rows.append(
                {
                    **base,
                    "DSTERM": "INFORMED CONSENT OBTAINED",
                    "DSDECOD": "INFORMED CONSENT OBTAINED",
                    "DSCAT": "PROTOCOL MILESTONE",
                    "EPOCH": "SCREENING",
                    "DSSTDTC": iso_date(r.screened_date),
                    "DSSTDY": ctx.day(r.participant_id, r.screened_date),
                }
            )
        found = _DISPOSITION.get(str(r.status))
        if found is not None:
            decod, term = found
            if term is None:
                term = decod if is_missing(r.withdrawn_reason) else str(r.withdrawn_reason)
            when = last_visit.get(r.participant_id)
            rows.append(
                {
                    **base,
                    "DSTERM": term,
                    "DSDECOD": decod,
                    "DSCAT": "DISPOSITION EVENT",
                    "EPOCH": "SCREENING"
                    if r.status == "ineligible"
                    else (
                        "FOLLOW-UP"
                        if r.status in ("completed", "lost_to_follow_up")
                        else "TREATMENT"
                    ),
                    "DSSTDTC": iso_date(when),
                    "DSSTDY": ctx.day(r.participant_id, when),
                }
            )
    rows = _sequenced(rows, "DSSEQ", ("USUBJID", "DSSTDTC", "DSCAT"))
    variables = [
        *_ID,
        _v("DSSEQ", "Sequence Number", "integer", "Derived", key=3),
        _v("DSTERM", "Reported Term for the Disposition Event"),
        _v("DSDECOD", "Standardized Disposition Term", origin="Assigned"),
        _v("DSCAT", "Category for Disposition Event", origin="Assigned"),
        _v("EPOCH", "Epoch", origin="Protocol"),
        _v("DSSTDTC", "Start Date/Time of Disposition Event", "datetime"),
        _v("DSSTDY", "Study Day of Start of Disposition Event", "integer", "Derived"),
    ]
    return make_dataset(
        "DS", "Disposition", "SDTM", variables, rows, structure="One record per event"
    )


def build_sv(ctx: _Context) -> Dataset:
    """SV: one record per visit that took place."""
    rows = []
    for r in frame_rows(ctx.data.visits):
        if is_missing(r.actual_date):
            continue
        rows.append(
            {
                "STUDYID": ctx.study,
                "DOMAIN": "SV",
                "USUBJID": ctx.usubjid(r.participant_id),
                **ctx.visit(r.visit_code),
                "SVSTDTC": iso_date(r.actual_date),
                "SVENDTC": iso_date(r.actual_date),
                "SVSTDY": ctx.day(r.participant_id, r.actual_date),
                "SVUPDES": None,
            }
        )
    rows.sort(key=lambda x: (x["USUBJID"], x["VISITNUM"] or 0))
    variables = [
        *_ID,
        _v("VISITNUM", "Visit Number", "float", "Protocol", key=3),
        _v("VISIT", "Visit Name", origin="Protocol"),
        _v("EPOCH", "Epoch", origin="Protocol"),
        _v("SVSTDTC", "Start Date/Time of Visit", "datetime"),
        _v("SVENDTC", "End Date/Time of Visit", "datetime"),
        _v("SVSTDY", "Study Day of Start of Visit", "integer", "Derived"),
        _v("SVUPDES", "Description of Unplanned Visit"),
    ]
    return make_dataset(
        "SV", "Subject Visits", "SDTM", variables, rows, structure="One record per visit"
    )


_ELEMENTS = (
    ("SCRN", "Screening", "SCREENING"),
    ("TRT", "Treatment", "TREATMENT"),
    ("FU", "Follow-up", "FOLLOW-UP"),
)


def _epoch_visits(protocol: Protocol, epoch: str) -> list[Any]:
    return [v for v in protocol.visits if EPOCHS.get(v.kind, "TREATMENT") == epoch]


def build_te(protocol: Protocol) -> Dataset:
    """TE: the trial elements (screening, each arm's treatment, follow-up)."""
    rows = []
    present = {e for _, _, e in _ELEMENTS if _epoch_visits(protocol, e)}
    for code, label, epoch in _ELEMENTS:
        if epoch not in present:
            continue
        visits = _epoch_visits(protocol, epoch)
        arms = protocol.arms if code == "TRT" else (None,)
        for arm in arms:
            rows.append(
                {
                    "STUDYID": protocol.study.id,
                    "DOMAIN": "TE",
                    "ETCD": f"{code}{arm.code}"[:8] if arm else code,
                    "ELEMENT": f"{label}: {arm.label}"[:200] if arm else label,
                    "TESTRL": f"{visits[0].label} ({visits[0].code})",
                    "TEENRL": None
                    if epoch == "FOLLOW-UP"
                    else f"before {_next_epoch_start(protocol, epoch)}",
                    "TEDUR": None,
                }
            )
    variables = [
        _v("STUDYID", "Study Identifier", origin="Assigned", key=1),
        _v("DOMAIN", "Domain Abbreviation", origin="Assigned"),
        _v("ETCD", "Element Code", origin="Protocol", key=2),
        _v("ELEMENT", "Description of Element", origin="Protocol"),
        _v("TESTRL", "Rule for Start of Element", origin="Protocol"),
        _v("TEENRL", "Rule for End of Element", origin="Protocol"),
        _v("TEDUR", "Planned Duration of Element", origin="Protocol"),
    ]
    return make_dataset(
        "TE", "Trial Elements", "SDTM", variables, rows, structure="One record per element"
    )


def _next_epoch_start(protocol: Protocol, epoch: str) -> str:
    order = [e for _, _, e in _ELEMENTS]
    for later in order[order.index(epoch) + 1 :]:
        visits = _epoch_visits(protocol, later)
        if visits:
            return f"{visits[0].label} ({visits[0].code})"
    return "end of study"


def build_ta(protocol: Protocol) -> Dataset:
    """TA: each arm's path through the elements, with the epoch of each."""
    rows = []
    for arm in protocol.arms:
        order = 0
        for code, _, epoch in _ELEMENTS:
            if not _epoch_visits(protocol, epoch):
                continue
            order += 1
            rows.append(
                {
                    "STUDYID": protocol.study.id,
                    "DOMAIN": "TA",
                    "ARMCD": arm.code,
                    "ARM": arm.label,
                    "TAETORD": order,
                    "ETCD": f"{code}{arm.code}"[:8] if code == "TRT" else code,
                    "ELEMENT": None,
                    "TABRANCH": "Enrolled in " + arm.label
                    if code == "SCRN" and len(protocol.arms) > 1
                    else None,
                    "TATRANS": None,
                    "EPOCH": epoch,
                }
            )
    te = {r["ETCD"]: r["ELEMENT"] for r in build_te(protocol).frame.to_dict("records")}
    for r in rows:
        r["ELEMENT"] = te[r["ETCD"]]
    variables = [
        _v("STUDYID", "Study Identifier", origin="Assigned", key=1),
        _v("DOMAIN", "Domain Abbreviation", origin="Assigned"),
        _v("ARMCD", "Planned Arm Code", origin="Protocol", key=2),
        _v("ARM", "Description of Planned Arm", origin="Protocol"),
        _v("TAETORD", "Planned Order of Element within Arm", "integer", "Protocol", key=3),
        _v("ETCD", "Element Code", origin="Protocol"),
        _v("ELEMENT", "Description of Element", origin="Protocol"),
        _v("TABRANCH", "Branch", origin="Protocol"),
        _v("TATRANS", "Transition Rule", origin="Protocol"),
        _v("EPOCH", "Epoch", origin="Protocol"),
    ]
    return make_dataset(
        "TA",
        "Trial Arms",
        "SDTM",
        variables,
        rows,
        structure="One record per planned element per arm",
    )


def build_tv(protocol: Protocol) -> Dataset:
    """TV: the planned visits, with their timing rule."""
    rows = []
    all_arms = {a.code for a in protocol.arms}
    for v in protocol.visits:
        arms = (
            [a for a in v.arms if a in all_arms] if v.arms and set(v.arms) != all_arms else [None]
        )
        for arm in arms:
            low, high = v.window
            rows.append(
                {
                    "STUDYID": protocol.study.id,
                    "DOMAIN": "TV",
                    "VISITNUM": protocol.visit_number(v.code),
                    "VISIT": v.label.upper(),
                    "VISITDY": None,
                    "ARMCD": arm,
                    "TVSTRL": (
                        f"{v.target_day} days after {v.anchor} (window {low:+d} to {high:+d} days)"
                    ),
                    "TVENRL": None,
                }
            )
    variables = [
        _v("STUDYID", "Study Identifier", origin="Assigned", key=1),
        _v("DOMAIN", "Domain Abbreviation", origin="Assigned"),
        _v("VISITNUM", "Visit Number", "float", "Protocol", key=2),
        _v("VISIT", "Visit Name", origin="Protocol"),
        _v("VISITDY", "Planned Study Day of Visit", "integer", "Protocol"),
        _v("ARMCD", "Planned Arm Code", origin="Protocol"),
        _v("TVSTRL", "Visit Start Rule", origin="Protocol"),
        _v("TVENRL", "Visit End Rule", origin="Protocol"),
    ]
    return make_dataset(
        "TV",
        "Trial Visits",
        "SDTM",
        variables,
        rows,
        structure="One record per planned visit per arm",
    )


def build_sdtm(
    data: TrialData, protocol: Protocol, settings: SdtmSettings | None = None
) -> dict[str, Dataset]:
    """Every SDTM domain, by name (QS and/or RS, depending on ``settings``).

    ``VISITDY`` in TV is left empty: the protocol times visits from anchors (referral,
    earlier visits), not from a single study day 1.
    """
    settings = settings or SdtmSettings()
    ctx = _Context(data, protocol)
    scales = set(data.scores["scale"].astype(str))
    clinician = _clinician_scales(scales) if settings.clinician_domain == "RS" else set()
    out = {
        "DM": build_dm(ctx),
        "EX": build_ex(ctx),
        "EC": build_ec(ctx),
        "QS": build_findings_about_scales(ctx, "QS", scales - clinician),
    }
    if clinician:
        out["RS"] = build_findings_about_scales(ctx, "RS", clinician)
    out |= {
        "AE": build_ae(ctx),
        "VS": build_vs(ctx),
        "DS": build_ds(ctx),
        "SV": build_sv(ctx),
        "TA": build_ta(protocol),
        "TE": build_te(protocol),
        "TV": build_tv(protocol),
    }
    return out


__all__ = [
    "EPOCHS",
    "SdtmSettings",
    "build_sdtm",
    "duration",
    "iso_date",
    "iso_datetime",
    "study_day",
]
