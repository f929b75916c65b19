"""define.xml 2.1 of an SDTM or ADaM package.

One ``ODM``/``Study``/``MetaDataVersion`` holding: ``def:Standards`` (the IG and the CDISC/NCI
CT version of :mod:`remit.interop.ct`), one ``ItemGroupDef`` per dataset (structure, class,
keys, ``def:leaf`` to its XPT file), one ``ItemDef`` per variable (type, length, label,
``def:Origin``, codelist, method), value-level metadata (``def:ValueListDef`` with
``def:WhereClauseDef``) for the results of QS/RS and VS per test code and for ADQS ``AVAL`` per
parameter, ``CodeList`` elements (CDISC codelists with their C-codes, ISO 3166 as an external
codelist, sponsor codelists from the data), ``MethodDef`` for derived variables and
``def:CommentDef``.

The file validates against the Define-XML 2.1.0 schema (``tests/interop/standards/``) and
renders with the CDISC stylesheet ``define2-1.xsl`` (shipped beside it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal, cast

import pandas as pd
from lxml import etree  # type: ignore[import-untyped]

from remit.interop.ct import COUNTRY, Codelist, Term, codelist_id, terminology
from remit.interop.dataset import Dataset, Variable, is_missing
from remit.interop.qrs import cdisc_terms

ODM_NS = "http://www.cdisc.org/ns/odm/v1.3"
DEF_NS = "http://www.cdisc.org/ns/def/v2.1"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_NSMAP = {None: ODM_NS, "def": DEF_NS, "xlink": XLINK_NS}

Standard = Literal["SDTM", "ADaM"]

#: The implementation guide each package claims.
IG = {"SDTM": ("SDTMIG", "3.4"), "ADaM": ("ADaMIG", "1.3")}

#: def:Class of each dataset.
CLASSES = {
    "DM": "SPECIAL PURPOSE",
    "SV": "SPECIAL PURPOSE",
    "EX": "INTERVENTIONS",
    "EC": "INTERVENTIONS",
    "CM": "INTERVENTIONS",
    "AE": "EVENTS",
    "DS": "EVENTS",
    "DV": "EVENTS",
    "QS": "FINDINGS",
    "RS": "FINDINGS",
    "VS": "FINDINGS",
    "TA": "TRIAL DESIGN",
    "TE": "TRIAL DESIGN",
    "TV": "TRIAL DESIGN",
    "TS": "TRIAL DESIGN",
    "ADSL": "SUBJECT LEVEL ANALYSIS DATASET",
    **{
        f"SUPP{d}": "RELATIONSHIP"
        for d in ("DM", "EX", "EC", "CM", "QS", "RS", "AE", "VS", "DS", "DV", "SV")
    },
    "ADQS": "BASIC DATA STRUCTURE",
}

#: Value-level metadata: (dataset, topic variable, result variables described per topic value).
VALUE_LEVEL = (
    ("QS", "QSTESTCD", ("QSORRES", "QSSTRESC", "QSSTRESN")),
    ("RS", "RSTESTCD", ("RSORRES", "RSSTRESC", "RSSTRESN")),
    ("VS", "VSTESTCD", ("VSORRES", "VSORRESU", "VSSTRESN", "VSSTRESU")),
    ("ADQS", "PARAMCD", ("AVAL", "BASE", "CHG")),
)

#: Text variables whose values are listed as a sponsor codelist in define.xml.
SPONSOR_CODED = re.compile(
    r"^(..TESTCD|..TEST|..CAT|..SCAT|PARAMCD|PARAM|PARCAT\d|ARMCD|ARM|ACTARMCD|ETCD|AEREL|"
    r"DSDECOD|EOSSTT|TRT01[PA]|AGEGR1|..TPT|AVISIT|VISIT|SRCDOM|SRCVAR)$"
)

_SEQ = (
    "Sequential number of the subject's records in the dataset, from 1, in the dataset's "
    "sort order."
)
_DY = (
    "Study day relative to RFSTDTC (first dose): date - RFSTDTC + 1 on or after RFSTDTC, "
    "date - RFSTDTC before it (no day 0)."
)

#: Derivations of derived variables; ``--`` stands for the domain prefix.
METHODS: dict[str, str] = {
    "--SEQ": _SEQ,
    "TSSEQ": "Number of the value within its parameter, from 1.",
    "TSVALNF": "UNK when the protocol file does not state the parameter, NA when it does not "
    "apply, PINF for no upper age limit.",
    "--DY": _DY,
    "--STDY": _DY,
    "--ENDY": _DY,
    "--STRESC": "The original result in standard character form (numbers as written, Y/N as Y/N).",
    "--STRESN": "The standard result as a number when it is numeric; empty otherwise.",
    "--STAT": "NOT DONE when the item was not answered (no original result).",
    "--REASND": "For a NOT DONE item: NOT ASKED (SKIP LOGIC OF THE FORM) when the scale's skip "
    "logic, applied to the form's answers, skips it; LEFT BLANK ON THE FORM otherwise. For a "
    "score: NOT DERIVABLE FROM THE ANSWERS GIVEN.",
    "--DRVFL": "Y on records Remit's scoring engine derived (totals, subscales, derived values).",
    "RFSTDTC": "Date/time of the subject's first study treatment given (EX).",
    "RFXSTDTC": "Date/time of the subject's first study treatment given (EX).",
    "RFXENDTC": "Date/time of the subject's last study treatment given (EX).",
    "RFENDTC": "Date of the last completed visit of a subject who received study treatment; "
    "empty for subjects never dosed (screen failures, enrolled and not treated).",
    "RFPENDTC": "End of participation or last contact: the later of the last visit that took "
    "place and the last dose given (the DS disposition date); for a subject who left the trial "
    "without either (a screen failure at the phone screen), the screening date.",
    "DTHDTC": "End date (else onset date) of the subject's adverse event with outcome FATAL.",
    "DTHFL": "Y when the subject has an adverse event with outcome FATAL; empty otherwise.",
    "EPOCH": "The epoch (TE/TA) of the last protocol visit that took place on or before the "
    "start date (the visit kind's epoch: SCREENING, TREATMENT, FOLLOW-UP); SCREENING before "
    "the first visit.",
    "ACTARMCD": "The planned arm code when the subject received study treatment; empty otherwise.",
    "ACTARM": "The planned arm when the subject received study treatment; empty otherwise.",
    "ARMNRS": "SCREEN FAILURE for subjects not eligible, NOT ASSIGNED for subjects never "
    "allocated an arm, ASSIGNED, NOT TREATED for subjects allocated but never dosed; empty when "
    "both ARMCD and ACTARMCD are filled.",
    "ACTARMUD": "Empty: no unplanned arms are possible in the protocol.",
    "AEDECOD": "The verbatim term in upper case (no dictionary coding).",
    "CMCLASCD": "Code of the medication class from the protocol's medication list.",
    "CMSTRF": "Start relative to the reference period (DM.RFSTDTC - DM.RFENDTC).",
    "CMENRF": "End relative to the reference period (DM.RFSTDTC - DM.RFENDTC).",
    "CMENRTPT": "ONGOING when the medication had no end date at the reference time point.",
    "CMENTPT": "The reference time point of CMENRTPT (the data cut).",
    "VSRFTDTC": "Date/time of the dose the vital-sign time point refers to (EX).",
    "TRT01P": "The arm the subject was allocated to (DM.ARMCD).",
    "TRT01A": "The arm the subject was treated in (DM.ACTARMCD) for subjects in the safety "
    "population; empty for a subject never dosed (DM.ARMNRS says why).",
    "AGEGR1": "Age group of DM.AGE per the protocol's analysis plan.",
    "SCRNFL": "Y for every subject screened.",
    "ENRLFL": "Y when the subject was enrolled.",
    "FASFL": "Y when enrolled and with at least one post-baseline primary assessment (protocol).",
    "SAFFL": "Y when the subject received at least one dose of study treatment.",
    "COMPPFL": "Y when the primary endpoint visit was completed.",
    "COMPFUFL": "Y when the follow-up visit was completed.",
    "EOSSTT": "COMPLETED, DISCONTINUED or ONGOING from the subject's trial status.",
    "DCSREAS": "The NCI completion/non-completion term of the subject's final status.",
    "DCSREASP": "The reason recorded when the subject left the trial.",
    "RANDDT": "Date of enrolment as a SAS date.",
    "TRTSDT": "Date part of the first dose given, as a SAS date.",
    "TRTSDTC": "Date/time of the first dose given (ISO 8601, UTC).",
    "TRTEDT": "Date part of the last dose given, as a SAS date.",
    "NDOSES": "Count of doses given (EX).",
    "SIMFL": "Y when the trial data are simulated.",
    "PARAMCD": "Test code of the scored part (remit.interop.codes); QSTESTCD where CDISC "
    "publishes no QRS code for the part, otherwise the sponsor code of the same part.",
    "PARAM": "The scale's total test name, or the scale and the part's test name; one PARAM for "
    "each PARAMCD.",
    "PARCAT1": "TOTAL, SUBSCALE, DERIVED or ITEM: the part of the scale.",
    "PARCAT2": "The scale's code in upper case (SDTM QSCAT holds its CDISC QRS category).",
    "AVISIT": "The protocol visit of the assessment.",
    "AVISITN": "The protocol's visit number.",
    "ATPT": "The time point within the visit (QSTPT).",
    "ADT": "Date part of QSDTC as a SAS date.",
    "ADY": "ADT - ADSL.TRTSDT + 1 when ADT is on or after TRTSDT, ADT - TRTSDT before it (no "
    "day 0): the study day of SDTM --DY, whose reference DM.RFSTDTC is the first dose.",
    "ASTDY": "ASTDT - ADSL.TRTSDT + 1 when on or after TRTSDT, ASTDT - TRTSDT before it.",
    "AENDY": "AENDT - ADSL.TRTSDT + 1 when on or after TRTSDT, AENDT - TRTSDT before it.",
    "AVAL": "The score of the part (QSSTRESN), totals prorated per the scale definition.",
    "BASE": "AVAL of the record with ABLFL = Y for the subject and parameter.",
    "CHG": "AVAL - BASE.",
    "PCHG": "100 * (AVAL - BASE) / BASE when BASE is not 0.",
    "ABLFL": "Y on the record at the scale's baseline visit (BASEVIS).",
    "ANL01FL": "Y on the record used for the visit (one per subject, parameter, visit and "
    "time point).",
    "BASEVIS": "The protocol's baseline visit of the scale.",
    "PRORATFL": "Y when the total was prorated over missing items.",
    "SRCDOM": "The SDTM domain of the record AVAL is copied from: QS, or RS for the clinician-"
    "rated scales of an export with clinical classifications in RS.",
    "SRCVAR": "The variable of the source record AVAL is copied from: --STRESN, or --STRESC for "
    "a Y/N result (AVAL 1 for Y, 0 for N).",
    "SRCSEQ": "The --SEQ of the source record: the record of the same subject, date/time "
    "(--DTC) and test code (--TESTCD = PARAMCD) holding AVAL.",
    "CRIT#": "The criterion text of the endpoint from the protocol file.",
    "CRIT#FL": "Y when AVAL (or CHG) meets CRIT#, N when it does not.",
}


def method_for(dataset: str, variable: str) -> str | None:
    """The derivation text of a derived variable (``None`` when none is known)."""
    if variable in METHODS:
        return METHODS[variable]
    generic = re.sub(r"^[A-Z]{2}", "--", variable)
    if generic != variable and generic in METHODS:
        return METHODS[generic]
    numbered = re.sub(r"\d+", "#", variable)
    if numbered in METHODS:
        return METHODS[numbered]
    if variable.endswith("BL") and dataset == "ADSL":
        return "AVAL of the scale total's baseline record (ADQS, ABLFL = Y)."
    return None


def _text(parent: Any, tag: str, text: str, **attrs: str) -> Any:
    el = etree.SubElement(parent, tag, attrs)
    tt = etree.SubElement(el, f"{{{ODM_NS}}}TranslatedText")
    tt.set(XML_LANG, "en")
    tt.text = text
    return el


def _o(tag: str) -> str:
    return f"{{{ODM_NS}}}{tag}"


def _d(tag: str) -> str:
    return f"{{{DEF_NS}}}{tag}"


def _distinct(ds: Dataset, v: Variable) -> list[Any]:
    """The distinct values of a variable, in order of first appearance: what the data type,
    length, digits and codelist of a variable are found from (a dataset's column holds one
    type, text or float, so no two distinct values print alike)."""
    return list(dict.fromkeys(ds.frame[v.name].tolist()))


def _data_type(v: Variable, standard: Standard, values: Sequence[Any]) -> str:
    if v.type == "datetime":
        present = [str(x) for x in values if not is_missing(x)]
        return "datetime" if present and all("T" in x for x in present) else "text"
    if v.type == "date":
        return "date" if standard == "SDTM" else "integer"
    return v.type


def _digits(values: Sequence[Any]) -> int:
    out = 0
    for x in values:
        if is_missing(x):
            continue
        text = repr(float(x))
        if "." in text and not text.endswith(".0"):
            out = max(out, len(text.split(".")[1]))
    return out


def _int_length(values: Sequence[Any]) -> int:
    return max((len(str(int(float(x)))) for x in values if not is_missing(x)), default=1)


def _float_length(values: Sequence[Any]) -> int:
    return max((len(repr(float(x))) for x in values if not is_missing(x)), default=1)


class _Builder:
    """The codelists, methods and comments the ItemDefs of one define.xml refer to, collected
    while the ItemDefs are written (each is written once, after the ItemDefs)."""

    def __init__(self, standard: Standard) -> None:
        self.standard = standard
        self.ct = terminology()
        self.codelists: dict[str, Any] = {}
        self.methods: dict[str, str] = {}
        self.comments: dict[str, str] = {}

    def codelist_oid(self, ds: Dataset, v: Variable) -> str | None:
        cid = codelist_id(ds.name, v.name)
        values = sorted({str(x) for x in _distinct(ds, v) if not is_missing(x)})
        if cid == COUNTRY:
            self.codelists.setdefault("CL.ISO3166", ("external", None))
            return "CL.ISO3166"
        if cid is not None:
            oid = f"CL.{cid}"
            used = set(self.codelists.get(oid, ("ct", self.ct[cid], set()))[2])
            self.codelists[oid] = ("ct", self.ct[cid], used | set(values))
            return oid
        if ds.name in ("QS", "RS") and v.name[2:] in ("TESTCD", "TEST", "CAT") and values:
            # CDISC QRS terms (with C-codes) and sponsor-defined ones in one list per variable
            oid = f"CL.{ds.name}.{v.name}"
            self.codelists[oid] = ("qrs", f"{ds.name} {v.label}", values, v.name[2:])
            return oid
        if v.type == "text" and SPONSOR_CODED.match(v.name) and values:
            oid = f"CL.{ds.name}.{v.name}"
            self.codelists[oid] = ("sponsor", f"{ds.name} {v.label}", values)
            return oid
        return None

    def method_oid(self, ds: Dataset, v: Variable) -> str | None:
        if v.origin != "Derived":
            return None
        text = method_for(ds.name, v.name) or v.comment
        if not text:
            return None
        oid = f"MT.{ds.name}.{v.name}"
        self.methods[oid] = text
        return oid


@dataclass(frozen=True)
class DefineStudy:
    """What define.xml says about the study and the file: ids, title, protocol version, when
    it was made, a note for the metadata version and the exporting software's version."""

    study_id: str
    study_title: str
    protocol_version: str
    created_at: datetime
    notes: str = ""
    source_version: str = "unknown"


def define_xml(datasets: Mapping[str, Dataset], standard: Standard, study: DefineStudy) -> bytes:
    """define.xml 2.1 (UTF-8 bytes, with an ``xml-stylesheet`` instruction for
    ``define2-1.xsl``) of the ``datasets`` of one ``standard`` package."""
    study_id, study_title = study.study_id, study.study_title
    protocol_version, created_at = study.protocol_version, study.created_at
    notes, source_version = study.notes, study.source_version
    b = _Builder(standard)
    ct = b.ct
    root = etree.Element(_o("ODM"), nsmap=_NSMAP)
    root.set("FileType", "Snapshot")
    root.set("FileOID", f"{study_id}.{standard}.define")
    root.set("ODMVersion", "1.3.2")
    root.set("CreationDateTime", created_at.strftime("%Y-%m-%dT%H:%M:%S"))
    root.set("Originator", "Remit")
    root.set("SourceSystem", "Remit")
    root.set("SourceSystemVersion", source_version)
    root.set(_d("Context"), "Submission")
    study_el = etree.SubElement(root, _o("Study"), OID=f"STDY.{study_id}")
    gv = etree.SubElement(study_el, _o("GlobalVariables"))
    etree.SubElement(gv, _o("StudyName")).text = study_id
    etree.SubElement(gv, _o("StudyDescription")).text = study_title
    etree.SubElement(gv, _o("ProtocolName")).text = f"{study_id} version {protocol_version}"
    ig_name, ig_version = IG[standard]
    mdv = etree.SubElement(
        study_el,
        _o("MetaDataVersion"),
        OID=f"MDV.{study_id}.{ig_name}.{ig_version}",
        Name=f"{study_id} {standard} define",
        Description=f"{standard} datasets of {study_id} exported by Remit. {notes}".strip(),
    )
    mdv.set(_d("DefineVersion"), "2.1.0")
    standards = etree.SubElement(mdv, _d("Standards"))
    etree.SubElement(
        standards,
        _d("Standard"),
        OID="STD.IG",
        Name=ig_name,
        Type="IG",
        Version=ig_version,
        Status="Final",
    )
    etree.SubElement(
        standards,
        _d("Standard"),
        OID="STD.CT",
        Name="CDISC/NCI",
        Type="CT",
        PublishingSet="SDTM",
        Version=ct.version,
        Status="Final",
    )

    # items first (they fill the codelist, method and value-level tables)
    item_defs: list[Any] = []
    groups: list[Any] = []
    value_lists: list[Any] = []
    where_clauses: list[Any] = []
    vlm = {(d, t): r for d, t, r in VALUE_LEVEL}
    for name, ds in datasets.items():
        group = etree.Element(
            _o("ItemGroupDef"),
            OID=f"IG.{name}",
            Name=name,
            Repeating="No" if name in ("DM", "ADSL") else "Yes",
            IsReferenceData="Yes" if CLASSES.get(name) == "TRIAL DESIGN" else "No",
            SASDatasetName=name,
            Purpose="Tabulation" if standard == "SDTM" else "Analysis",
        )
        if standard == "SDTM" and len(name) == 2:
            group.set("Domain", name)
        group.set(_d("Structure"), ds.structure or "One record per record")
        group.set(_d("StandardOID"), "STD.IG")
        group.set(_d("ArchiveLocationID"), f"LF.{name}")
        _text(group, _o("Description"), ds.label)
        topics = {t: r for (d, t), r in vlm.items() if d == name}
        vl_for: dict[str, str] = {}
        for topic, results in topics.items():
            if topic not in ds.frame.columns:
                continue
            for res in results:
                if res in ds.frame.columns:
                    vl_for[res] = topic
        for order, v in enumerate(ds.variables, start=1):
            ref = etree.SubElement(
                group,
                _o("ItemRef"),
                ItemOID=f"IT.{name}.{v.name}",
                OrderNumber=str(order),
                Mandatory="Yes" if _mandatory(v) else "No",
            )
            if v.key:
                ref.set("KeySequence", str(v.key))
            moid = b.method_oid(ds, v)
            if moid:
                ref.set("MethodOID", moid)
            item_defs.append(_item_def(b, ds, v, f"IT.{name}.{v.name}", _distinct(ds, v)))
            if v.name in vl_for:
                vl, wcs, vl_items = _value_list(b, ds, v, vl_for[v.name])
                if vl is not None:
                    etree.SubElement(item_defs[-1], _d("ValueListRef"), ValueListOID=vl.get("OID"))
                    value_lists.append(vl)
                    where_clauses.extend(wcs)
                    item_defs.extend(vl_items)
        etree.SubElement(group, _d("Class"), Name=CLASSES.get(name, "FINDINGS"))
        leaf = etree.SubElement(group, _d("leaf"), ID=f"LF.{name}")
        leaf.set(f"{{{XLINK_NS}}}href", f"{name.lower()}.xpt")
        etree.SubElement(leaf, _d("title")).text = f"{name.lower()}.xpt"
        groups.append(group)

    seen_wc: set[str] = set()
    for vl in value_lists:
        mdv.append(vl)
    for wc in where_clauses:
        if wc.get("OID") not in seen_wc:
            seen_wc.add(wc.get("OID"))
            mdv.append(wc)
    for g in groups:
        mdv.append(g)
    for item in item_defs:
        mdv.append(item)
    for oid in sorted(b.codelists):
        _codelist(mdv, oid, b.codelists[oid])
    for oid in sorted(b.methods):
        m = etree.SubElement(
            mdv, _o("MethodDef"), OID=oid, Name=f"Algorithm to derive {oid[3:]}", Type="Computation"
        )
        _text(m, _o("Description"), b.methods[oid])
    for oid in sorted(b.comments):
        c = etree.SubElement(mdv, _d("CommentDef"), OID=oid)
        _text(c, _o("Description"), b.comments[oid])
    pi = etree.ProcessingInstruction("xml-stylesheet", 'type="text/xsl" href="define2-1.xsl"')
    doc = etree.ElementTree(root)
    root.addprevious(pi)
    out: bytes = etree.tostring(doc, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return out


_IDS = {"STUDYID", "DOMAIN", "USUBJID", "PARAMCD", "PARAM"}


def predecessor(dataset: str, variable: str) -> str:
    """The variable an ADaM ``Predecessor`` copies: DM's for ADSL, QS's for the questionnaire
    qualifiers of ADQS, ADSL's for its other subject-level variables.

    >>> predecessor("ADSL", "AGE"), predecessor("ADQS", "TRT01P"), predecessor("ADQS", "QSSCAT")
    ('DM.AGE', 'ADSL.TRT01P', 'QS.QSSCAT')
    """
    if dataset == "ADSL":
        return f"DM.{variable}"
    if variable.startswith("QS"):
        return f"QS.{variable}"
    return f"ADSL.{variable}"


def _mandatory(v: Variable) -> bool:
    return bool(v.key) or v.name in _IDS or v.name.endswith(("SEQ", "TESTCD"))


def _origin(b: _Builder, ds: Dataset, v: Variable, parent: Any) -> None:
    origin = v.origin if v.origin in {"Collected", "Derived", "Assigned", "Protocol"} else None
    if v.origin == "Predecessor":
        el = etree.SubElement(parent, _d("Origin"), Type="Predecessor")
        _text(el, _o("Description"), predecessor(ds.name, v.name))
        return
    if origin is None:
        etree.SubElement(parent, _d("Origin"), Type="Not Available")
        return
    source = "Investigator" if origin == "Collected" else "Sponsor"
    etree.SubElement(parent, _d("Origin"), Type=origin, Source=source)


def _item_def(b: _Builder, ds: Dataset, v: Variable, oid: str, values: list[Any]) -> Any:
    dtype = _data_type(v, b.standard, values)
    item = etree.Element(_o("ItemDef"), OID=oid, Name=v.name, DataType=dtype, SASFieldName=v.name)
    _set_length(item, dtype, v, values)
    if v.type == "date" and b.standard == "ADaM":
        item.set(_d("DisplayFormat"), "DATE9.")
    _text(item, _o("Description"), v.label)
    cl = b.codelist_oid(ds, v)
    if cl:
        etree.SubElement(item, _o("CodeListRef"), CodeListOID=cl)
    _origin(b, ds, v, item)
    if v.comment:
        coid = f"COM.{ds.name}.{v.name}"
        b.comments[coid] = v.comment
        item.set(_d("CommentOID"), coid)
    return item


def _set_length(item: Any, dtype: str, v: Variable, values: Sequence[Any]) -> None:
    if dtype == "text":
        item.set("Length", str(v.length or 1))
    elif dtype == "integer":
        item.set("Length", str(_int_length(values)))
    elif dtype == "float":
        item.set("Length", str(_float_length(values)))
        item.set("SignificantDigits", str(_digits(values)))


def _value_list(
    b: _Builder, ds: Dataset, v: Variable, topic: str
) -> tuple[Any | None, list[Any], list[Any]]:
    """The ValueListDef of ``v`` per value of ``topic``, its WhereClauseDefs and ItemDefs."""
    frame = ds.frame
    codes = sorted({str(x) for x in frame[topic] if not is_missing(x)})
    if not codes:
        return None, [], []
    # the rows of each code, found in one pass (a mask per code was rows × codes comparisons)
    # and the first label of each code (PARAM of a PARAMCD, QSTEST of a QSTESTCD)
    label_col = {"PARAMCD": "PARAM"}.get(topic, topic.removesuffix("CD"))
    labels = frame[label_col].to_numpy(dtype=object) if label_col in frame.columns else None
    rows_of: dict[str, list[int]] = {}
    label_of: dict[str, str] = {}
    for i, x in enumerate(frame[topic].to_numpy(dtype=object)):
        if isinstance(x, str):  # what ``frame[topic] == code`` matches
            rows_of.setdefault(x, []).append(i)
            if labels is not None and x not in label_of and not pd.isna(labels[i]):
                label_of[x] = str(labels[i])
    column = frame[v.name].to_numpy(dtype=object)
    vl = etree.Element(_d("ValueListDef"), OID=f"VL.{ds.name}.{v.name}")
    wcs: list[Any] = []
    items: list[Any] = []
    for order, code in enumerate(codes, start=1):
        values = [column[i] for i in rows_of.get(code, [])]
        wc_oid = f"WC.{ds.name}.{topic}.{code}"
        item_oid = f"IT.{ds.name}.{v.name}.{code}"
        ref = etree.SubElement(
            vl, _o("ItemRef"), ItemOID=item_oid, OrderNumber=str(order), Mandatory="No"
        )
        moid = b.method_oid(ds, v)
        if moid:
            ref.set("MethodOID", moid)
        etree.SubElement(ref, _d("WhereClauseRef"), WhereClauseOID=wc_oid)
        wc = etree.Element(_d("WhereClauseDef"), OID=wc_oid)
        rc = etree.SubElement(wc, _o("RangeCheck"), Comparator="EQ", SoftHard="Soft")
        rc.set(_d("ItemOID"), f"IT.{ds.name}.{topic}")
        etree.SubElement(rc, _o("CheckValue")).text = code
        wcs.append(wc)
        present = [x for x in values if not is_missing(x)]
        vtype: Any = v.type
        # a character result that holds only whole numbers is described as integer
        whole = bool(present) and (
            all(_is_int(x) for x in present)
            if v.type == "text"
            else v.type == "float" and all(float(x).is_integer() for x in present)
        )
        if whole:
            vtype = "integer"
        item_v = Variable(v.name, v.label, vtype, v.origin, v.length, None, v.comment)
        dtype = _data_type(item_v, b.standard, values)
        item = etree.Element(
            _o("ItemDef"), OID=item_oid, Name=v.name, DataType=dtype, SASFieldName=v.name
        )
        if dtype == "text":
            item.set("Length", str(max((len(str(x).encode()) for x in present), default=1)))
        else:
            _set_length(item, dtype, item_v, values)
        label = label_of.get(code, "")
        _text(item, _o("Description"), f"{v.label}: {label}" if label else v.label)
        _origin(b, ds, v, item)
        items.append(item)
    return vl, wcs, items


def _is_int(x: Any) -> bool:
    try:
        return float(str(x)).is_integer() and str(x).lstrip("-").isdigit()
    except ValueError:
        return False


def _codelist(mdv: Any, oid: str, spec: tuple[Any, ...]) -> None:
    kind = spec[0]
    if kind == "external":
        cl = etree.SubElement(mdv, _o("CodeList"), OID=oid, Name="Country", DataType="text")
        cl.set(_d("IsNonStandard"), "Yes")
        etree.SubElement(
            cl,
            _o("ExternalCodeList"),
            Dictionary="ISO 3166-1 Alpha-3",
            href="https://www.iso.org/iso-3166-country-codes.html",
        )
        return
    if kind == "sponsor":
        _, name, values = spec
        cl = etree.SubElement(mdv, _o("CodeList"), OID=oid, Name=name, DataType="text")
        cl.set(_d("IsNonStandard"), "Yes")
        for order, value in enumerate(values, start=1):
            etree.SubElement(cl, _o("EnumeratedItem"), CodedValue=value, OrderNumber=str(order))
        return
    if kind == "qrs":
        _qrs_codelist(mdv, oid, *spec[1:])
        return
    _, codelist, used = spec
    codelist = cast(Codelist, codelist)
    cl = etree.SubElement(mdv, _o("CodeList"), OID=oid, Name=codelist.name, DataType="text")
    cl.set(_d("StandardOID"), "STD.CT")
    # the terms the data use, then the rest of the (subset of the) codelist Remit ships
    values = sorted(used) + sorted(codelist.values - set(used))
    _codelist_items(cl, values, codelist.term)
    if codelist.c_code:
        etree.SubElement(cl, _o("Alias"), Context="nci:ExtCodeID", Name=codelist.c_code)


def _qrs_codelist(mdv: Any, oid: str, name: str, values: list[str], variable: str) -> None:
    """A QS/RS test code, test name or category list: the terms of the CDISC QRS codelists
    carry their NCI C-code; the others are sponsor-defined (``def:ExtendedValue``, no C-code,
    as CDISC publishes none for them)."""
    cdisc = cdisc_terms(variable)
    cl = etree.SubElement(mdv, _o("CodeList"), OID=oid, Name=name, DataType="text")
    cl.set(_d("IsNonStandard"), "Yes")
    _codelist_items(cl, values, cdisc.get)


def _codelist_items(cl: Any, values: list[str], term_of: Callable[[str], Term | None]) -> None:
    """The ``CodeListItem`` of each value, in order: a CDISC term (``term_of``) with its decode
    and NCI C-code; any other value marked ``def:ExtendedValue``, decoded as itself."""
    for order, value in enumerate(values, start=1):
        term = term_of(value)
        item = etree.SubElement(cl, _o("CodeListItem"), CodedValue=value, OrderNumber=str(order))
        if term is None:
            item.set(_d("ExtendedValue"), "Yes")
        _text(item, _o("Decode"), term.decode if term and term.decode else value)
        if term is not None and term.c_code:
            etree.SubElement(item, _o("Alias"), Context="nci:ExtCodeID", Name=term.c_code)


#: The stylesheet that renders define.xml as HTML (CDISC, MIT licence; shipped in ``data/``).
STYLESHEET = "define2-1.xsl"


def write_define_xml(
    datasets: Mapping[str, Dataset],
    directory: str | Path,
    standard: Standard,
    study: DefineStudy,
) -> list[Path]:
    """Write ``define.xml`` and its stylesheet ``define2-1.xsl`` into ``directory``."""
    d = Path(directory)
    xml = d / "define.xml"
    xml.write_bytes(define_xml(datasets, standard, study))
    xsl = d / STYLESHEET
    xsl.write_bytes(files("remit.interop").joinpath("data", STYLESHEET).read_bytes())
    return [xml, xsl]
