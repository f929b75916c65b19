"""ADaM datasets ADSL and ADQS, built from :mod:`remit.analysis` (the numbers the report uses).

The values come unchanged from :func:`remit.analysis.build_adsl` and
:func:`remit.analysis.build_adqs`; this module renames and types them as ADaM says: 8-character
names, ``PARAMCD`` ≤ 8 characters (:mod:`remit.interop.codes`), numeric SAS dates for ``*DT``.

What ties ADaM to SDTM (ADaMIG 3.1, 3.3):

- Study days: ``ADY`` (and any ``ASTDY``/``AENDY``) is counted exactly like SDTM ``--DY``:
  from ADSL ``TRTSDT``, the date of the first dose given, which is the date of DM ``RFSTDTC``;
  day 1 is that date and there is no day 0 (``ADT - TRTSDT + 1`` on or after it,
  ``ADT - TRTSDT`` before it). So ``ADY`` equals the ``QSDY``/``RSDY`` of the source record.
- Traceability: every ADQS record copies one QS (or RS) record, so it names it in
  ``SRCDOM``/``SRCVAR``/``SRCSEQ`` (the domain, the result variable, its ``--SEQ``). Totals,
  subscales and derived values are scored by Remit's scoring engine and are themselves SDTM
  records (``--DRVFL = Y``); ADaM derives no records of its own (no LOCF, no averages), so no
  record carries ``DTYPE``.
- ADSL's arm variables (``ARMCD``, ``ARM``, ``ACTARMCD``, ``ACTARM``, ``ARMNRS``) are copies of
  DM's; ``TRT01P``/``TRT01A`` are the planned and actual arm codes (``TRT01A`` empty for a
  subject never dosed, whose ``ARMNRS`` says why). A blinded reader's data have the arm masked
  (:data:`remit.services.blinding.BLINDED`) before any of this runs.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from datetime import date
from typing import Any

import pandas as pd

from remit.analysis import TrialData, build_adqs, build_adsl
from remit.errors import InputError
from remit.interop.codes import TestCode, scale_prefix
from remit.interop.dataset import Dataset, Variable, frame_records, is_missing, make_dataset
from remit.interop.qrs import qrs_test
from remit.interop.sdtm import ClinicianDomain, SdtmSettings, iso_datetime
from remit.interop.sdtm.base import Context
from remit.interop.sdtm.events import DISPOSITION
from remit.interop.sdtm.findings import clinician_scales, findings_about_scales
from remit.interop.sdtm.special import build_dm, not_collected
from remit.protocol import Protocol
from remit.protocol.demographics import Characteristic
from remit.protocol.status import FINAL_STATUSES, ParticipantStatus

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


def analysis_day(value: int | None, reference: int | None) -> int | None:
    """``ADY`` of a SAS date from the reference ``TRTSDT``, as SDTM counts ``--DY``: day 1 on
    the reference date, no day 0.

    >>> analysis_day(100, 100), analysis_day(101, 100), analysis_day(99, 100)
    (1, 2, -1)
    """
    if value is None or reference is None:
        return None
    days = value - reference
    return days + 1 if days >= 0 else days


#: DM's arm variables ADSL copies (ADaMIG ADSL: ARM and ACTARM required, the rest permitted).
ARM_COPIED = ("ARMCD", "ARM", "ACTARMCD", "ACTARM", "ARMNRS")


def _text_or_none(value: Any) -> str | None:
    return None if is_missing(value) else str(value)


def _v(name: str, label: str, type_: Any = "text", origin: str = "Derived") -> Variable:
    return Variable(name, label, type_, origin)


def _other(ctx: Context, data: TrialData | None, protocol: Protocol | None) -> bool:
    """Whether ``data`` or ``protocol`` (when given) are not the context's own."""
    return (data is not None and data is not ctx.data) or (
        protocol is not None and protocol is not ctx.protocol
    )


def analysis_adsl(
    ctx: Context, data: TrialData | None = None, protocol: Protocol | None = None
) -> pd.DataFrame:
    """:func:`remit.analysis.build_adsl` of ``data`` (default: the context's), built once per
    context when they and ``protocol`` are the context's (the CSV export and ADSL then read the same
    frame; neither changes it)."""
    if _other(ctx, data, protocol):
        return build_adsl(data if data is not None else ctx.data, protocol or ctx.protocol)
    return ctx.shared("analysis adsl", lambda: build_adsl(ctx.data, ctx.protocol))


def analysis_adqs(
    ctx: Context, data: TrialData | None = None, protocol: Protocol | None = None
) -> pd.DataFrame:
    """:func:`remit.analysis.build_adqs` of ``data`` (default: the context's), built once per
    context when they and ``protocol`` are the context's."""
    if _other(ctx, data, protocol):
        return build_adqs(data if data is not None else ctx.data, protocol or ctx.protocol)
    return ctx.shared("analysis adqs", lambda: build_adqs(ctx.data, ctx.protocol))


def build_adam_adsl(data: TrialData, protocol: Protocol, ctx: Context | None = None) -> Dataset:
    """ADSL: one record per participant screened (arm variables copied from DM); ``ctx``, if
    given, is a context of the same data and protocol."""
    ctx = ctx or Context(data, protocol)
    adsl = analysis_adsl(ctx, data, protocol)
    given = data.doses[data.doses["status"] == "given"]
    last_dose = given.groupby("participant_id")["given_at"].max().to_dict()
    dm = build_dm(ctx).frame.set_index("USUBJID")
    base_cols = [c for c in adsl.columns if c.endswith("_total_baseline")]
    collects_race = protocol.demographics.collects(Characteristic.RACE)
    rows = []
    for r in frame_records(adsl):
        pid = r["participant_id"]
        copied = {c: _text_or_none(dm.at[r["USUBJID"], c]) for c in ARM_COPIED}
        row = {
            "STUDYID": r["STUDYID"],
            "USUBJID": r["USUBJID"],
            "SUBJID": pid,
            "SITEID": r["SITEID"],
            **copied,
            "TRT01P": copied["ARMCD"],
            "TRT01A": copied["ACTARMCD"] if r["SAFFL"] == "Y" else None,
            "AGE": r["AGE"],
            "AGEU": None if is_missing(r["AGE"]) else "YEARS",
            "AGEGR1": r["AGEGR1"],
            "SEX": _SEX.get(str(r["SEX"]).lower(), "U") if not is_missing(r["SEX"]) else "U",
            "RACE": _text_or_none(dm.at[r["USUBJID"], "RACE"]),
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
        _v("ARMCD", "Planned Arm Code", origin="Predecessor"),
        _v("ARM", "Description of Planned Arm", origin="Predecessor"),
        _v("ACTARMCD", "Actual Arm Code", origin="Predecessor"),
        _v("ACTARM", "Description of Actual Arm", origin="Predecessor"),
        _v("ARMNRS", "Reason Arm and/or Actual Arm is Null", origin="Predecessor"),
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


class _Sources:
    """The QS/RS records ADQS records copy, found by subject, date/time and test code (the
    test code names the scale: :mod:`remit.interop.codes` serves both sides) and then by the
    value; each source record is used once. The category and time point are not re-derived
    here, so the SDTM side may word them as it likes."""

    def __init__(self, ctx: Context, settings: SdtmSettings) -> None:
        scales = set(ctx.data.scores["scale"].astype(str))
        clinician = clinician_scales(scales) if settings.clinician_domain == "RS" else set()
        self.domain_of = dict.fromkeys(scales - clinician, "QS") | dict.fromkeys(clinician, "RS")
        self.records: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        parts: tuple[tuple[ClinicianDomain, set[str]], ...] = (
            ("QS", scales - clinician),
            ("RS", clinician),
        )
        for domain, wanted in parts:
            if not wanted:
                continue
            ds = findings_about_scales(ctx, domain, wanted)
            p = domain
            for rec in frame_records(ds.frame):
                key = (rec["USUBJID"], rec[f"{p}DTC"], rec[f"{p}TESTCD"])
                self.records.setdefault(key, []).append(
                    {
                        "domain": domain,
                        "seq": int(rec[f"{p}SEQ"]),
                        "stresn": rec[f"{p}STRESN"],
                        "stresc": _text_or_none(rec[f"{p}STRESC"]),
                    }
                )
        self.used: set[tuple[str, str, int]] = set()

    def find(self, usubjid: str, scale: str, at: Any, testcd: str, aval: float) -> dict[str, Any]:
        """``SRCDOM``, ``SRCVAR``, ``SRCSEQ`` of the record holding ``aval``; refuses a value
        with no source record (the export would lose its trace)."""
        domain = self.domain_of.get(scale, "QS")
        key = (usubjid, iso_datetime(at), testcd)
        for rec in self.records.get(key, []):
            mark = (rec["domain"], usubjid, rec["seq"])
            if mark in self.used:
                continue
            if not is_missing(rec["stresn"]) and float(rec["stresn"]) == aval:
                variable = f"{domain}STRESN"
            elif rec["stresc"] in ("Y", "N") and float(rec["stresc"] == "Y") == aval:
                variable = f"{domain}STRESC"
            else:
                continue
            self.used.add(mark)
            return {"SRCDOM": domain, "SRCVAR": variable, "SRCSEQ": rec["seq"]}
        raise InputError(
            f"ADQS: no {domain} record of {usubjid} {testcd} at {key[1]} holds {aval}",
            expected="every analysis value copied from one SDTM record",
            hint="the scores changed between the SDTM and ADaM builds; export again",
        )


def _param(scale: str, label: str, part: str) -> str:
    """``PARAM`` of a scored part: the scale and the part's test name (unique within the scale,
    so one ``PARAM`` per ``PARAMCD``)."""
    return label if part == "total" else f"{scale.upper()} {label}"


def _coded(
    r: Mapping[Hashable, Any], tests: dict[tuple[str, str | None, str, str], Any]
) -> tuple[TestCode, str]:
    """The test code and ``PARAM`` of an analysis record (``tests``: the QS/RS tests found so
    far, by scale, version, part and key)."""
    part = _PARTS[str(r["PARCAT1"])]
    key = "total" if part == "total" else str(r["param"]).removeprefix(f"{r['scale']}_")
    version = None if is_missing(r["version"]) else str(r["version"])
    found = (str(r["scale"]), version, part, key)
    test = tests.get(found)
    if test is None:  # the QS/RS test code it copies
        test = tests[found] = qrs_test(*found)
    code = TestCode(test.code, test.name, part, key)
    return code, _param(str(r["scale"]), code.label, part)


def _base_only_from_a_baseline_record(rows: list[dict[str, Any]]) -> None:
    """Clear BASE/CHG/PCHG where the subject has no ``ABLFL = Y`` record of the same PARAMCD.

    A parameter copies one QS test; a scale whose versions carry different CDISC tests (the
    C-SSRS lifetime/recent form at screening, the since-last-visit form later) gives the later
    records a PARAMCD of their own, and the analysis baseline of the other version is not theirs
    (ADaMIG: BASE comes from the parameter's baseline record)."""
    flagged = {(r["USUBJID"], r["PARAMCD"]) for r in rows if r["ABLFL"] == "Y"}
    for r in rows:
        if (r["USUBJID"], r["PARAMCD"]) not in flagged:
            r["BASE"] = r["CHG"] = r["PCHG"] = None


def _one_param_per_code(coded: list[tuple[TestCode, str]]) -> None:
    """Refuse a PARAMCD that would name two parameters (or a PARAM under two codes)."""
    params: dict[str, str] = {}
    codes: dict[str, str] = {}
    for code, param in coded:
        if params.setdefault(code.code, param) != param:
            raise InputError(
                f"ADQS: PARAMCD {code.code} names both {params[code.code]!r} and {param!r}",
                expected="one PARAM for each PARAMCD",
                hint="two scales share the first four letters of their names, or parts of a "
                "scale Remit does not ship have codes that coincide when cut to 8 characters; "
                "rename the scale or the parts",
            )
        if codes.setdefault(param, code.code) != code.code:
            raise InputError(
                f"ADQS: PARAM {param!r} has both PARAMCD {codes[param]} and {code.code}",
                expected="one PARAMCD for each PARAM",
                hint="two parts of the scale have the same label; give them distinct labels",
            )


def build_adam_adqs(
    data: TrialData,
    protocol: Protocol,
    ctx: Context | None = None,
    settings: SdtmSettings | None = None,
    trtsdt: dict[str, int | None] | None = None,
) -> Dataset:
    """ADQS: one record per participant × visit (× time point) × parameter.

    ``ADY`` counts from ``trtsdt`` (ADSL ``TRTSDT`` by ``USUBJID``; from the first dose when
    not given), and each record names its QS/RS source record (``settings`` says which scales
    went to RS). ``ctx``, if given, is a context of the same data and protocol.
    """
    ctx = ctx or Context(data, protocol)
    sources = _Sources(ctx, settings or SdtmSettings())
    if trtsdt is None:
        trtsdt = {ctx.usubjid(pid): sas_date(at) for pid, at in ctx.first_dose.items()}
    adqs = analysis_adqs(ctx, data, protocol)
    crit = sorted(
        {c for c in adqs.columns if c.startswith("CRIT") and not c.endswith("FL")},
        key=lambda c: int(c[4:]),
    )
    records = frame_records(adqs)
    tests: dict[tuple[str, str | None, str, str], Any] = {}  # qrs_test per build
    coded = [_coded(r, tests) for r in records]
    _one_param_per_code(coded)
    rows = []
    for r, (code, param) in zip(records, coded, strict=True):
        adt = sas_date(r["assessed_at"])
        row = {
            "STUDYID": protocol.study.id,
            "USUBJID": r["USUBJID"],
            "SUBJID": r["participant_id"],
            "TRT01P": r["arm"],
            "PARAMCD": code.code,
            "PARAM": param,
            "PARCAT1": r["PARCAT1"],
            "PARCAT2": str(r["scale"]).upper(),
            "QSSCAT": None
            if is_missing(r["version"]) or r["version"] == "default"
            else r["version"],
            "AVISIT": r["AVISIT"],
            "AVISITN": r["AVISITN"],
            "ATPT": r["ATPT"],
            "ADT": adt,
            "ADY": analysis_day(adt, trtsdt.get(str(r["USUBJID"]))),
            "AVAL": r["AVAL"],
            "BASE": r["BASE"],
            "CHG": r["CHG"],
            "PCHG": r["PCHG"],
            "ABLFL": r["ABLFL"],
            "ANL01FL": r["ANL01FL"],
            "BASEVIS": r["BASEVIS"],
            "PRORATFL": "Y" if bool(r["prorated"]) else None,
            **sources.find(
                str(r["USUBJID"]),
                str(r["scale"]),
                r["assessed_at"],
                code.code,
                float(r["AVAL"]),
            ),
        }
        for c in crit:
            row[c] = r[c]
            row[f"{c}FL"] = r[f"{c}FL"]
        rows.append(row)
    _base_only_from_a_baseline_record(rows)
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
        _v("SRCDOM", "Source Data"),
        _v("SRCVAR", "Source Variable"),
        _v("SRCSEQ", "Source Sequence Number", "integer"),
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


def build_adam(
    data: TrialData,
    protocol: Protocol,
    settings: SdtmSettings | None = None,
    ctx: Context | None = None,
) -> dict[str, Dataset]:
    """ADSL and ADQS, by name. ``settings`` are those of the SDTM export the ADQS records trace
    back to (which scales went to RS); ``ctx``, the context of that SDTM build when there is
    one (its QS/RS records are then not built again)."""
    ctx = ctx or Context(data, protocol)
    adsl = build_adam_adsl(data, protocol, ctx)
    trtsdt = {
        str(u): None if is_missing(d) else int(d)
        for u, d in zip(adsl.frame["USUBJID"], adsl.frame["TRTSDT"], strict=True)
    }
    adqs = build_adam_adqs(data, protocol, ctx, settings, trtsdt)
    return {"ADSL": adsl, "ADQS": adqs}
