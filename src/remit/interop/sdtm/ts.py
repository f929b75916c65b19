"""SDTM TS (trial summary): one record per trial summary parameter value, from the protocol
file and, for the parameters defined on the conduct of the trial (start, end, actual number of
subjects, ongoing), from the trial data.

A parameter the protocol does not state gets no invented value: ``TSVAL`` stays empty and
``TSVALNF`` says why (``UNK``: not recorded in the protocol; ``NA``: does not apply, e.g. the
comparator of a single-arm trial; ``PINF``: no upper age limit). The parameter list follows the
FDA's Study Data Technical Conformance Guide (its required and conditionally required TS
parameters) and the names and codes of the CDISC TSPARMCD/TSPARM codelists (:mod:`..ct`).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from remit.interop.ct import country_alpha3, terminology
from remit.interop.dataset import Dataset, Variable, is_missing, make_dataset, split_text
from remit.interop.sdtm.base import Context, iso_date, var
from remit.protocol.status import FINAL_STATUSES

#: Protocol ``phase`` → TPHASE term.
_PHASES = {
    "1": "PHASE I TRIAL",
    "1/2": "PHASE I/II TRIAL",
    "2": "PHASE II TRIAL",
    "2/3": "PHASE II/III TRIAL",
    "3": "PHASE III TRIAL",
    "4": "PHASE IV TRIAL",
}

#: Parameters every TS written by Remit holds, in order.
PARAMETERS = (
    "TITLE",
    "SPONSOR",
    "REGID",
    "TPHASE",
    "STYPE",
    "TTYPE",
    "INDIC",
    "TRT",
    "PCLAS",
    "CURTRT",
    "COMPTRT",
    "ADDON",
    "TBLIND",
    "TCNTRL",
    "RANDOM",
    "STRATFCT",
    "NARMS",
    "PLANSUB",
    "ACTSUB",
    "AGEMIN",
    "AGEMAX",
    "SEXPOP",
    "HLTSUBJI",
    "FCNTRY",
    "OBJPRIM",
    "OUTMSPRI",
    "OUTMSSEC",
    "LENGTH",
    "SDMDUR",
    "SSTDTC",
    "SENDTC",
    "ONGOSIND",
    "DCUTDTC",
    "SDTIGVER",
    "SDTMVER",
)

#: The SDTM and SDTMIG versions the export follows.
SDTM_VERSION = "2.0"
SDTMIG_VERSION = "3.4"


def _age_limits(ctx: Context) -> tuple[float | None, float | None]:
    """(lowest, highest) age in years the inclusion criteria on ``age_years`` allow."""
    low: float | None = None
    high: float | None = None
    for c in ctx.protocol.eligibility.criteria:
        if c.field != "age_years" or c.kind != "inclusion":
            continue
        value: Any = c.value
        if c.op in (">=", ">"):
            low = float(value) if c.op == ">=" else float(value) + 1
        elif c.op in ("<=", "<"):
            high = float(value) if c.op == "<=" else float(value) - 1
        elif c.op == "between":
            low, high = float(value[0]), float(value[1])
    return low, high


def _sex_criterion(ctx: Context) -> str:
    for c in ctx.protocol.eligibility.criteria:
        if c.field == "sex" and c.kind == "inclusion" and c.op == "==":
            return {"female": "F", "male": "M"}.get(str(c.value).lower(), "UNK")
    return "BOTH"


def build_ts(ctx: Context, data_cut: datetime | None = None) -> Dataset:
    """TS of the trial; ``data_cut``: when the data were extracted (DCUTDTC)."""
    p = ctx.protocol
    study = p.study
    ct = terminology()
    values: dict[str, list[tuple[str | None, str | None]]] = {}

    def put(code: str, value: Any, nf: str = "UNK") -> None:
        if is_missing(value) or value == "":
            values.setdefault(code, []).append((None, nf))
        else:
            values.setdefault(code, []).append((str(value), None))

    put("TITLE", study.title)
    put("SPONSOR", study.sponsor)
    for registry, ident in study.registry_ids.items():
        if registry != "sponsor_code":
            put("REGID", f"{registry.upper()} {ident}")
    if "REGID" not in values:
        put("REGID", None)
    put("TPHASE", _PHASES.get(str(study.phase).strip()))
    put("STYPE", "INTERVENTIONAL" if p.dosing else None)
    put("TTYPE", None)
    put("INDIC", None)
    substances = sorted({d.substance for d in p.dosing})
    for s in substances or [""]:
        put("TRT", s)
    put("PCLAS", None)
    put("CURTRT", None)
    single = len(p.arms) == 1
    put("COMPTRT", None, "NA" if single else "UNK")
    put("ADDON", None)
    design = study.design.lower()
    blind = (
        "OPEN LABEL"
        if re.search(r"open[- ]label", design)
        else "DOUBLE BLIND"
        if re.search(r"double[- ]blind", design)
        else "SINGLE BLIND"
        if re.search(r"single[- ]blind", design)
        else None
    )
    put("TBLIND", blind)
    put("TCNTRL", "NONE" if single else None)
    put("RANDOM", "N" if p.randomisation is None else "Y")
    strat = p.randomisation.stratification if p.randomisation else ()
    for factor in strat or ("",):
        put("STRATFCT", factor, "NA")
    put("NARMS", len(p.arms))
    put("PLANSUB", study.target_enrolment)
    participants = ctx.data.participants
    enrolled = participants[participants["enrolled_date"].notna()]
    put("ACTSUB", len(enrolled))
    low, high = _age_limits(ctx)
    put("AGEMIN", None if low is None else f"P{int(low)}Y")
    put("AGEMAX", None if high is None else f"P{int(high)}Y", "PINF" if low is not None else "UNK")
    put("SEXPOP", _sex_criterion(ctx))
    put("HLTSUBJI", None)
    countries = sorted({country_alpha3(s.country) or "" for s in study.sites if s.country})
    for c in countries or [""]:
        put("FCNTRY", c)
    put("OBJPRIM", None)
    primary = [e.label for e in p.endpoints if e.role == "primary"]
    secondary = [e.label for e in p.endpoints if e.role == "secondary"]
    for label in primary or [""]:
        put("OUTMSPRI", label)
    for label in secondary or [""]:
        put("OUTMSSEC", label, "NA" if not p.endpoints else "UNK")
    put("LENGTH", None)
    put("SDMDUR", None, "NA")
    consent = participants["consented_at"].dropna()
    put("SSTDTC", iso_date(consent.min()) if len(consent) else None)
    ongoing = any(str(s) not in {str(f) for f in FINAL_STATUSES} for s in participants["status"])
    last_visit = max(ctx.last_visit.values(), default=None)
    put("SENDTC", None if ongoing or last_visit is None else iso_date(last_visit))
    put("ONGOSIND", "Y" if ongoing else "N")
    put("DCUTDTC", None if data_cut is None else iso_date(data_cut))
    put("SDTIGVER", SDTMIG_VERSION)
    put("SDTMVER", SDTM_VERSION)

    names = {t.c_code: t.value for t in ct["TSPARM"].terms if t.c_code}
    by_decode = {t.value: t for t in ct["TSPARM"].terms}
    rows = []
    for code in PARAMETERS:
        term = ct["TSPARMCD"].term(code)
        if term is None:  # every parameter above is in the shipped TSPARMCD list
            continue
        parm = names.get(term.c_code) if term.c_code else None
        parm = parm or (term.decode if term.decode in by_decode else code)
        for seq, (value, nf) in enumerate(values.get(code, [(None, "UNK")]), start=1):
            cd, ref, ver = _coded(code, value)
            rows.append(
                {
                    "STUDYID": study.id,
                    "DOMAIN": "TS",
                    "TSSEQ": seq,
                    "TSPARMCD": code,
                    "TSPARM": parm,
                    "TSVAL": value,
                    "TSVALNF": nf,
                    "TSVALCD": cd,
                    "TSVCDREF": ref,
                    "TSVCDVER": ver,
                }
            )
    continued = split_long_values(rows)
    variables = [
        var("STUDYID", "Study Identifier", origin="Assigned", key=1),
        var("DOMAIN", "Domain Abbreviation", origin="Assigned"),
        var("TSSEQ", "Sequence Number", "integer", "Derived", key=3),
        var("TSPARMCD", "Trial Summary Parameter Short Name", origin="Assigned", key=2),
        var("TSPARM", "Trial Summary Parameter", origin="Assigned"),
        var("TSVAL", "Parameter Value", origin="Protocol"),
        *(
            Variable(
                f"TSVAL{n}",
                f"Parameter Value {n}",
                origin="Protocol",
                comment=f"Part {n + 1} of a parameter value over 200 bytes: TSVAL, TSVAL1 ... "
                "in order give the full text (SDTMIG 3.4 TS).",
            )
            for n in continued
        ),
        var("TSVALNF", "Parameter Null Flavor", origin="Derived"),
        var("TSVALCD", "Parameter Value Code", origin="Assigned"),
        var("TSVCDREF", "Name of the Reference Terminology", origin="Assigned"),
        var("TSVCDVER", "Version of the Reference Terminology", origin="Assigned"),
    ]
    return make_dataset(
        "TS",
        "Trial Summary",
        "SDTM",
        variables,
        rows,
        structure="One record per trial summary parameter value",
    )


def split_long_values(rows: list[dict[str, Any]]) -> range:
    """Cut every ``TSVAL`` over 200 bytes into ``TSVAL`` and ``TSVAL1``, ``TSVAL2`` … (SDTMIG
    3.4 TS: "Text over 200 characters can be added to additional columns TSVAL1-TSVALn"), each
    at most 200 bytes, cut between words where it can; ``TSVAL`` followed by ``TSVAL1`` …
    gives the full text. Returns the numbers of the continuation variables the rows use.

    >>> rows = [{"TSVAL": "word " * 50}, {"TSVAL": "short"}]
    >>> split_long_values(rows), [len(r["TSVAL"]) for r in rows], rows[1]["TSVAL1"]
    (range(1, 2), [199, 5], None)
    """
    extra = 0
    for row in rows:
        value = row.get("TSVAL")
        parts = split_text(value) if isinstance(value, str) else [value]
        row["TSVAL"] = parts[0]
        for n, part in enumerate(parts[1:], start=1):
            row[f"TSVAL{n}"] = part
        extra = max(extra, len(parts) - 1)
    for row in rows:
        for n in range(1, extra + 1):
            row.setdefault(f"TSVAL{n}", None)
    return range(1, extra + 1)


#: TSPARMCD whose value is a term of a CDISC codelist.
_CT_VALUES = {
    "TPHASE": "TPHASE",
    "STYPE": "STYPE",
    "TBLIND": "TBLIND",
    "TCNTRL": "TCNTRL",
    "RANDOM": "NY",
    "ADDON": "NY",
    "HLTSUBJI": "NY",
    "ONGOSIND": "NY",
}


def _coded(code: str, value: str | None) -> tuple[str | None, str | None, str | None]:
    """(TSVALCD, TSVCDREF, TSVCDVER) of a value."""
    if value is None:
        return None, None, None
    if code == "FCNTRY":
        return value, "ISO 3166", None
    if code in ("SSTDTC", "SENDTC", "DCUTDTC", "AGEMIN", "AGEMAX"):
        return None, "ISO 8601", None
    cid = _CT_VALUES.get(code)
    if cid is None:
        return None, None, None
    ct = terminology()
    term = ct[cid].term(value)
    if term is None or not term.c_code:
        return None, "CDISC CT", ct.version
    return term.c_code, "CDISC CT", ct.version
