"""SDTM special-purpose domains: DM (demographics) and SV (subject visits)."""

from __future__ import annotations

from remit.interop.ct import country_alpha3
from remit.interop.dataset import Dataset, frame_rows, is_missing, make_dataset
from remit.interop.sdtm.base import (
    ID_VARIABLES,
    Context,
    iso_date,
    iso_datetime,
    var,
)
from remit.protocol.status import ParticipantStatus as S
from remit.services.blinding import BLINDED

_SEX = {"female": "F", "f": "F", "male": "M", "m": "M"}


def _arm_null_reason(arm: str | None, treated: bool, status: str) -> str | None:
    """DM ``ARMNRS`` (SDTMIG 3.3+): why ``ARMCD`` or ``ACTARMCD`` is empty, else None.

    >>> _arm_null_reason("MDMA", True, "on_study"), _arm_null_reason("MDMA", False, "withdrawn")
    (None, 'ASSIGNED, NOT TREATED')
    """
    if arm and treated:
        return None
    if arm:
        return "ASSIGNED, NOT TREATED"
    return "SCREEN FAILURE" if status == S.INELIGIBLE else "NOT ASSIGNED"


def build_dm(ctx: Context) -> Dataset:
    """DM: one record per participant screened."""
    p = ctx.data.participants
    site_country: dict[str, str | None] = {
        s.code: country_alpha3(s.country) for s in ctx.protocol.study.sites
    }
    arms = {a.code: a.label for a in ctx.protocol.arms}
    arms[BLINDED] = BLINDED  # a blinded reader's data: the arm masked, the structure kept
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
                "RFICDTC": iso_datetime(r.consented_at),
                "SITEID": None if is_missing(r.site) else str(r.site),
                "AGE": None if is_missing(r.age_years) else float(r.age_years),
                "AGEU": None if is_missing(r.age_years) else "YEARS",
                "SEX": _SEX.get(str(r.sex).lower(), "U") if not is_missing(r.sex) else "U",
                "ARMCD": arm,
                "ARM": arms.get(arm) if arm else None,
                "ACTARMCD": arm if treated else None,
                "ACTARM": arms.get(arm) if (arm and treated) else None,
                "ARMNRS": _arm_null_reason(arm, treated, str(r.status)),
                "ACTARMUD": None,
                "COUNTRY": None if is_missing(r.site) else site_country.get(str(r.site)),
            }
        )
    rows.sort(key=lambda x: str(x["USUBJID"]))
    variables = [
        *ID_VARIABLES,
        var("SUBJID", "Subject Identifier for the Study"),
        var("RFSTDTC", "Subject Reference Start Date/Time", "datetime", "Derived"),
        var("RFENDTC", "Subject Reference End Date/Time", "datetime", "Derived"),
        var("RFXSTDTC", "Date/Time of First Study Treatment", "datetime", "Derived"),
        var("RFXENDTC", "Date/Time of Last Study Treatment", "datetime", "Derived"),
        var("RFICDTC", "Date/Time of Informed Consent", "datetime"),
        var("SITEID", "Study Site Identifier"),
        var("AGE", "Age", "integer"),
        var("AGEU", "Age Units", origin="Assigned"),
        var("SEX", "Sex"),
        var("ARMCD", "Planned Arm Code", origin="Assigned"),
        var("ARM", "Description of Planned Arm", origin="Assigned"),
        var("ACTARMCD", "Actual Arm Code", origin="Derived"),
        var("ACTARM", "Description of Actual Arm", origin="Derived"),
        var("ARMNRS", "Reason Arm and/or Actual Arm is Null", origin="Derived"),
        var("ACTARMUD", "Description of Unplanned Actual Arm", origin="Derived"),
        var("COUNTRY", "Country", origin="Protocol"),
    ]
    return make_dataset(
        "DM", "Demographics", "SDTM", variables, rows, structure="One record per subject"
    )


def build_sv(ctx: Context) -> Dataset:
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
        *ID_VARIABLES,
        var("VISITNUM", "Visit Number", "float", "Protocol", key=3),
        var("VISIT", "Visit Name", origin="Protocol"),
        var("EPOCH", "Epoch", origin="Protocol"),
        var("SVSTDTC", "Start Date/Time of Visit", "datetime"),
        var("SVENDTC", "End Date/Time of Visit", "datetime"),
        var("SVSTDY", "Study Day of Start of Visit", "integer", "Derived"),
        var("SVUPDES", "Description of Unplanned Visit"),
    ]
    return make_dataset(
        "SV", "Subject Visits", "SDTM", variables, rows, structure="One record per visit"
    )
