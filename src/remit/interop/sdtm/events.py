"""SDTM events: AE (adverse events) and DS (disposition)."""

from __future__ import annotations

from collections.abc import Mapping

from remit.interop.dataset import Dataset, frame_rows, is_missing, make_dataset
from remit.interop.sdtm.base import (
    ID_VARIABLES,
    Context,
    iso_date,
    iso_datetime,
    sequenced,
    var,
)
from remit.protocol.adverse_event import Severity
from remit.protocol.status import ParticipantStatus as S

#: Severity → CDISC AESEV term, for every severity of the vocabulary.
SEVERITY_TERMS: Mapping[str, str] = {s.value: s.value.upper() for s in Severity}


def build_ae(ctx: Context) -> Dataset:
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
                "AESEV": SEVERITY_TERMS.get(str(r.severity).lower())
                if not is_missing(r.severity)
                else None,
                "AESER": "Y" if bool(r.serious) else "N",
                "AEREL": None if is_missing(r.relatedness) else str(r.relatedness).upper(),
                "AEOUT": None if is_missing(r.outcome) else str(r.outcome).upper(),
                "AESTDTC": iso_date(r.onset_date),
                "AESTDY": ctx.day(r.participant_id, r.onset_date),
            }
        )
    rows = sequenced(rows, "AESEQ", ("USUBJID", "AESTDTC", "AETERM"))
    variables = [
        *ID_VARIABLES,
        var("AESEQ", "Sequence Number", "integer", "Derived", key=3),
        var("AETERM", "Reported Term for the Adverse Event"),
        var("AEDECOD", "Dictionary-Derived Term", origin="Derived"),
        var("AESEV", "Severity/Intensity"),
        var("AESER", "Serious Event"),
        var("AEREL", "Causality"),
        var("AEOUT", "Outcome of Adverse Event"),
        var("AESTDTC", "Start Date/Time of Adverse Event", "datetime"),
        var("AESTDY", "Study Day of Start of Adverse Event", "integer", "Derived"),
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
