"""SDTM events: AE (adverse events), DS (disposition) and DV (protocol deviations)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from remit.interop.dataset import Dataset, frame_rows, is_missing, make_dataset
from remit.interop.sdtm.base import (
    ID_VARIABLES,
    Context,
    iso_date,
    iso_datetime,
    sequenced,
    var,
)
from remit.protocol.adverse_event import ActionTaken, AEOutcome, Severity
from remit.protocol.deviation import DeviationSeverity, LoggedDeviationCategory
from remit.protocol.status import DeviationCategory
from remit.protocol.status import ParticipantStatus as S

#: Severity → CDISC AESEV term, for every severity of the vocabulary.
SEVERITY_TERMS: Mapping[str, str] = {s.value: s.value.upper() for s in Severity}


#: AEOUT (CDISC codelist OUT, non-extensible) of each Remit adverse-event outcome.
AE_OUTCOMES: Mapping[str, str] = {
    AEOutcome.RECOVERED: "RECOVERED/RESOLVED",
    AEOutcome.RECOVERING: "RECOVERING/RESOLVING",
    AEOutcome.NOT_RECOVERED: "NOT RECOVERED/NOT RESOLVED",
    AEOutcome.RECOVERED_WITH_SEQUELAE: "RECOVERED/RESOLVED WITH SEQUELAE",
    AEOutcome.FATAL: "FATAL",
    AEOutcome.UNKNOWN: "UNKNOWN",
}

#: AEACN (CDISC codelist ACN, non-extensible) of each action taken with the study treatment.
AE_ACTIONS: Mapping[str, str] = {a.value: a.value.replace("_", " ").upper() for a in ActionTaken}


#: SDTM AE variables of the MedDRA coding: (variable, label, the ``adverse_events`` column).
#: AEDECOD is the preferred term, AEBODSYS the primary system organ class.
MEDDRA_VARIABLES = (
    ("AELLT", "Lowest Level Term", "llt_name"),
    ("AELLTCD", "Lowest Level Term Code", "llt_code"),
    ("AEDECOD", "Dictionary-Derived Term", "pt_name"),
    ("AEPTCD", "Preferred Term Code", "pt_code"),
    ("AEHLT", "High Level Term", "hlt_name"),
    ("AEHLTCD", "High Level Term Code", "hlt_code"),
    ("AEHLGT", "High Level Group Term", "hlgt_name"),
    ("AEHLGTCD", "High Level Group Term Code", "hlgt_code"),
    ("AEBODSYS", "Body System or Organ Class", "soc_name"),
    ("AEBDSYCD", "Body System or Organ Class Code", "soc_code"),
    ("AESOC", "Primary System Organ Class", "soc_name"),
    ("AESOCCD", "Primary System Organ Class Code", "soc_code"),
)


def _meddra(r: Any) -> dict[str, object]:
    """The MedDRA variables of one event (all empty while it is uncoded)."""
    out: dict[str, object] = {}
    for variable, _, column in MEDDRA_VARIABLES:
        value: Any = getattr(r, column, None)
        if is_missing(value):
            out[variable] = None
        elif column.endswith("_code"):
            out[variable] = int(value)
        else:
            out[variable] = str(value)
    return out


def build_ae(ctx: Context) -> Dataset:
    """AE: one record per adverse event; a MedDRA-coded event carries its LLT, PT (AEDECOD),
    HLT, HLGT and primary SOC (AEBODSYS) with their codes, an uncoded one only its verbatim
    term (AEDECOD empty).

    ``AEACN`` is the recorded action taken with the study treatment (:data:`AE_ACTIONS`;
    empty while not recorded), ``AEENDTC`` the recorded end (resolution) date, ``EPOCH`` the
    epoch of the start date in the participant's course (:meth:`Context.epoch_on`)."""
    rows = []
    for r in frame_rows(ctx.data.adverse_events):
        rows.append(
            {
                "STUDYID": ctx.study,
                "DOMAIN": "AE",
                "USUBJID": ctx.usubjid(r.participant_id),
                "AETERM": str(r.term),
                **_meddra(r),
                "AESEV": SEVERITY_TERMS.get(str(r.severity).lower())
                if not is_missing(r.severity)
                else None,
                "AESER": "Y" if bool(r.serious) else "N",
                "AEACN": None if is_missing(r.action_taken) else AE_ACTIONS[str(r.action_taken)],
                "AEREL": None if is_missing(r.relatedness) else str(r.relatedness).upper(),
                "AEOUT": None if is_missing(r.outcome) else AE_OUTCOMES[str(r.outcome)],
                "EPOCH": ctx.epoch_on(r.participant_id, r.onset_date),
                "AESTDTC": iso_date(r.onset_date),
                "AEENDTC": iso_date(r.end_date),
                "AESTDY": ctx.day(r.participant_id, r.onset_date),
                "AEENDY": ctx.day(r.participant_id, r.end_date),
            }
        )
    rows = sequenced(rows, "AESEQ", ("USUBJID", "AESTDTC", "AETERM"))
    variables = [
        *ID_VARIABLES,
        var("AESEQ", "Sequence Number", "integer", "Derived", key=3),
        var("AETERM", "Reported Term for the Adverse Event"),
        *(
            var(name, label, "integer" if name.endswith("CD") else "text", "Assigned")
            for name, label, _ in MEDDRA_VARIABLES
        ),
        var("AESEV", "Severity/Intensity"),
        var("AESER", "Serious Event"),
        var("AEACN", "Action Taken with Study Treatment"),
        var("AEREL", "Causality"),
        var("AEOUT", "Outcome of Adverse Event"),
        var("EPOCH", "Epoch", origin="Derived"),
        var("AESTDTC", "Start Date/Time of Adverse Event", "datetime"),
        var("AEENDTC", "End Date/Time of Adverse Event", "datetime"),
        var("AESTDY", "Study Day of Start of Adverse Event", "integer", "Derived"),
        var("AEENDY", "Study Day of End of Adverse Event", "integer", "Derived"),
    ]
    return make_dataset(
        "AE", "Adverse Events", "SDTM", variables, rows, structure="One record per event"
    )


#: Final participant status → CDISC (DSDECOD, DSTERM); ``None`` takes the recorded reason.
DISPOSITION: Mapping[str, tuple[str, str | None]] = {
    S.COMPLETED: ("COMPLETED", "COMPLETED"),
    S.WITHDRAWN: ("WITHDRAWAL BY SUBJECT", None),
    S.LOST_TO_FOLLOW_UP: ("LOST TO FOLLOW-UP", "LOST TO FOLLOW-UP"),
    S.INELIGIBLE: ("SCREEN FAILURE", "SCREEN FAILURE"),
}


def build_ds(ctx: Context) -> Dataset:
    """DS: informed consent (when it was given: the first consent recorded), its full
    withdrawal, then the end-of-study disposition where there is one. A participant without a
    recorded consent has no consent record."""
    last_visit = ctx.last_visit
    rows = []
    for r in frame_rows(ctx.data.participants):
        base = {"STUDYID": ctx.study, "DOMAIN": "DS", "USUBJID": ctx.usubjid(r.participant_id)}
        if not is_missing(r.consented_at):
            rows.append(
                {
                    **base,
                    "DSTERM": "INFORMED CONSENT OBTAINED",
                    "DSDECOD": "INFORMED CONSENT OBTAINED",
                    "DSCAT": "PROTOCOL MILESTONE",
                    "EPOCH": "SCREENING",
                    "DSSTDTC": iso_datetime(r.consented_at),
                    "DSSTDY": ctx.day(r.participant_id, r.consented_at),
                }
            )
        if not is_missing(r.consent_withdrawn_at):
            rows.append(
                {
                    **base,
                    "DSTERM": "INFORMED CONSENT WITHDRAWN",
                    "DSDECOD": "INFORMED CONSENT WITHDRAWN",
                    "DSCAT": "OTHER EVENT",
                    "EPOCH": "SCREENING" if is_missing(r.enrolled_date) else "TREATMENT",
                    "DSSTDTC": iso_datetime(r.consent_withdrawn_at),
                    "DSSTDY": ctx.day(r.participant_id, r.consent_withdrawn_at),
                }
            )
        found = DISPOSITION.get(str(r.status))
        if found is not None:
            decod, term = found
            if term is None:
                term = decod if is_missing(r.withdrawn_reason) else str(r.withdrawn_reason)
            if r.status == S.INELIGIBLE and len(r.ineligible_reasons or ()) > 0:
                # the coded reason (a criterion id or a protocol screen-failure code)
                term = f"SCREEN FAILURE: {', '.join(r.ineligible_reasons)}"
            when = last_visit.get(r.participant_id)
            rows.append(
                {
                    **base,
                    "DSTERM": term,
                    "DSDECOD": decod,
                    "DSCAT": "DISPOSITION EVENT",
                    "EPOCH": "SCREENING"
                    if r.status == S.INELIGIBLE
                    else (
                        "FOLLOW-UP"
                        if r.status in (S.COMPLETED, S.LOST_TO_FOLLOW_UP)
                        else "TREATMENT"
                    ),
                    "DSSTDTC": iso_date(when),
                    "DSSTDY": ctx.day(r.participant_id, when),
                }
            )
    rows = sequenced(rows, "DSSEQ", ("USUBJID", "DSSTDTC", "DSCAT"))
    variables = [
        *ID_VARIABLES,
        var("DSSEQ", "Sequence Number", "integer", "Derived", key=3),
        var("DSTERM", "Reported Term for the Disposition Event"),
        var("DSDECOD", "Standardized Disposition Term", origin="Assigned"),
        var("DSCAT", "Category for Disposition Event", origin="Assigned"),
        var("EPOCH", "Epoch", origin="Protocol"),
        var("DSSTDTC", "Start Date/Time of Disposition Event", "datetime"),
        var("DSSTDY", "Study Day of Start of Disposition Event", "integer", "Derived"),
    ]
    return make_dataset(
        "DS", "Disposition", "SDTM", variables, rows, structure="One record per event"
    )


#: Deviation category → DVDECOD, for every category Remit records or a person may log (the
#: SDTM IG's examples where one fits). A category stored as free text before the logged list
#: existed is coded as its own words in capitals.
DEVIATION_TERMS: Mapping[str, str] = {
    DeviationCategory.VISIT_OUT_OF_WINDOW: "VISIT OUT OF WINDOW",
    DeviationCategory.DOSE_STOP_OVERRIDE: "TREATMENT DEVIATION",
    DeviationCategory.DOSE_ABOVE_CAP: "TREATMENT DEVIATION",
    DeviationCategory.WASHOUT_OVERRIDE: "EXCLUDED CONCOMITANT MEDICATION",
    DeviationCategory.CHECKLIST_OVERRIDE: "TREATMENT DEVIATION",
    LoggedDeviationCategory.INFORMED_CONSENT: "INFORMED CONSENT DEVIATION",
    LoggedDeviationCategory.ELIGIBILITY: "SELECTION CRITERIA NOT MET",
    LoggedDeviationCategory.WITHDRAWAL_CRITERIA: "SUBJECT NOT WITHDRAWN AS PER PROTOCOL",
    LoggedDeviationCategory.TREATMENT: "TREATMENT DEVIATION",
    LoggedDeviationCategory.EXCLUDED_MEDICATION: "EXCLUDED CONCOMITANT MEDICATION",
    LoggedDeviationCategory.VISIT_SCHEDULE: "VISIT SCHEDULE DEVIATION",
    LoggedDeviationCategory.PROCEDURE: "STUDY PROCEDURE DEVIATION",
    LoggedDeviationCategory.SAFETY_REPORTING: "SAFETY REPORTING DEVIATION",
    LoggedDeviationCategory.OTHER: "OTHER PROTOCOL DEVIATION",
}

#: Severity → DVCAT.
DEVIATION_SEVERITY_TERMS: Mapping[str, str] = {s.value: s.value.upper() for s in DeviationSeverity}


def build_dv(ctx: Context) -> Dataset:
    """DV: one record per protocol deviation of a participant, automatic and logged alike.

    ``DVTERM`` is the description as written, ``DVDECOD`` the category's term
    (:data:`DEVIATION_TERMS`), ``DVCAT`` the severity (``MAJOR``: an important deviation in
    ICH E3's sense, or ``MINOR``); ``VISITNUM``/``VISIT``/``EPOCH`` come from the visit the
    deviation is linked to. Study-wide deviations (no participant) have no ``USUBJID`` and
    are not in DV (the report lists them).
    """
    rows = []
    for r in frame_rows(ctx.data.deviations):
        if is_missing(r.participant_id):
            continue
        category = str(r.category)
        severity = DeviationSeverity.of(major=bool(r.major)).value
        rows.append(
            {
                "STUDYID": ctx.study,
                "DOMAIN": "DV",
                "USUBJID": ctx.usubjid(r.participant_id),
                "DVTERM": str(r.description),
                "DVDECOD": DEVIATION_TERMS.get(category, category.upper()),
                "DVCAT": DEVIATION_SEVERITY_TERMS[severity],
                **ctx.visit(r.visit_code),
                "DVSTDTC": iso_date(r.occurred_date),
                "DVSTDY": ctx.day(r.participant_id, r.occurred_date),
            }
        )
    rows = sequenced(rows, "DVSEQ", ("USUBJID", "DVSTDTC", "DVDECOD", "DVTERM"))
    variables = [
        *ID_VARIABLES,
        var("DVSEQ", "Sequence Number", "integer", "Derived", key=3),
        var("DVTERM", "Protocol Deviation Term"),
        var("DVDECOD", "Protocol Deviation Coded Term", origin="Assigned"),
        var("DVCAT", "Category for Protocol Deviation", origin="Assigned"),
        var("VISITNUM", "Visit Number", "float", "Protocol"),
        var("VISIT", "Visit Name", origin="Protocol"),
        var("EPOCH", "Epoch", origin="Protocol"),
        var("DVSTDTC", "Start Date/Time of Deviation", "datetime"),
        var("DVSTDY", "Study Day of Start of Deviation", "integer", "Derived"),
    ]
    return make_dataset(
        "DV", "Protocol Deviations", "SDTM", variables, rows, structure="One record per deviation"
    )
