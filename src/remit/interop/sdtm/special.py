"""SDTM special-purpose domains: DM (demographics) and SV (subject visits)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from remit.interop.ct import country_alpha3
from remit.interop.dataset import Dataset, frame_rows, is_missing, make_dataset
from remit.interop.sdtm.base import (
    ID_VARIABLES,
    Context,
    iso_date,
    iso_datetime,
    var,
)
from remit.protocol.adverse_event import AEOutcome
from remit.protocol.demographics import Characteristic
from remit.protocol.status import FINAL_STATUSES
from remit.protocol.status import ParticipantStatus as S
from remit.services.blinding import BLINDED

_SEX = {"female": "F", "f": "F", "male": "M", "m": "M"}


def not_collected(characteristic: str) -> str:
    """define.xml comment of a DM variable the protocol does not collect."""
    return (
        f"Not collected: the protocol's [demographics] does not list {characteristic}, so the "
        "variable is empty for every subject (no value is imputed)."
    )


def _deaths(ctx: Context) -> dict[Any, Any]:
    """Date of death of each participant with a fatal adverse event (its end date, else its
    onset)."""
    out: dict[Any, Any] = {}
    for r in frame_rows(ctx.data.adverse_events):
        if str(r.outcome) == AEOutcome.FATAL:
            when = r.onset_date if is_missing(r.end_date) else r.end_date
            out[r.participant_id] = when
    return out


def _participation_end(ctx: Context, r: Any) -> str | None:
    """RFPENDTC, the end of participation or the last contact (SDTMIG DM), screen failures
    included: the later of the last visit that took place and the last dose (the date DS gives
    the disposition event); for a participant who left the trial without either (a screen
    failure at the phone screen), the screening date; empty otherwise."""
    pid = r.participant_id
    dates = [
        str(iso_date(x))
        for x in (ctx.last_visit.get(pid), ctx.last_dose.get(pid))
        if not is_missing(x)
    ]
    if dates:
        return max(dates)
    if str(r.status) in FINAL_STATUSES:
        return iso_date(r.screened_date)
    return None


def _arm_null_reason(arm: str | None, treated: bool, status: str) -> str | None:
    """DM ``ARMNRS`` (SDTMIG 3.3+): why ``ARMCD`` or ``ACTARMCD`` is empty, else None (the
    SDTMIG 3.2 pseudo-arms SCRNFAIL/NOTASSGN/NOTTRT are not used).

    >>> _arm_null_reason("MDMA", True, "on_study"), _arm_null_reason("MDMA", False, "withdrawn")
    (None, 'ASSIGNED, NOT TREATED')
    """
    if arm and treated:
        return None
    if arm:
        return "ASSIGNED, NOT TREATED"
    return "SCREEN FAILURE" if status == S.INELIGIBLE else "NOT ASSIGNED"


def build_dm(ctx: Context) -> Dataset:
    """DM: one record per participant screened.

    Reference dates (SDTMIG 3.4 DM): RFSTDTC/RFXSTDTC the first dose given, RFXENDTC the last,
    RFENDTC the last visit of a treated subject — all four empty for a subject never dosed
    (a screen failure, or enrolled and not treated); RFICDTC the informed consent; RFPENDTC
    the end of participation or last contact (:func:`_participation_end`), screen
    failures included.
    DTHFL/DTHDTC from a fatal adverse event. RACE/ETHNIC as collected, empty when the
    protocol does not collect them (define.xml says so).
    """
    p = ctx.data.participants
    site_country: dict[str, str | None] = {
        s.code: country_alpha3(s.country) for s in ctx.protocol.study.sites
    }
    arms = {a.code: a.label for a in ctx.protocol.arms}
    arms[BLINDED] = BLINDED  # a blinded reader's data: the arm masked, the structure kept
    last_visit = ctx.last_visit
    deaths = _deaths(ctx)
    demographics = ctx.protocol.demographics
    rows = []
    for r in frame_rows(p):
        pid = r.participant_id
        arm = None if is_missing(r.arm) else str(r.arm)
        treated = pid in ctx.first_dose
        died = deaths.get(pid)
        race = getattr(r, "race", None)
        ethnicity = getattr(r, "ethnicity", None)
        rows.append(
            {
                "STUDYID": ctx.study,
                "DOMAIN": "DM",
                "USUBJID": ctx.usubjid(pid),
                "SUBJID": str(pid),
                "RFSTDTC": iso_datetime(ctx.first_dose.get(pid)),
                "RFENDTC": iso_date(last_visit.get(pid)) if treated else None,
                "RFXSTDTC": iso_datetime(ctx.first_dose.get(pid)),
                "RFXENDTC": iso_datetime(ctx.last_dose.get(pid)),
                "RFICDTC": iso_datetime(r.consented_at),
                "RFPENDTC": _participation_end(ctx, r),
                "DTHDTC": iso_date(died),
                "DTHFL": "Y" if died is not None else None,
                "SITEID": None if is_missing(r.site) else str(r.site),
                "AGE": None if is_missing(r.age_years) else float(r.age_years),
                "AGEU": None if is_missing(r.age_years) else "YEARS",
                "SEX": _SEX.get(str(r.sex).lower(), "U") if not is_missing(r.sex) else "U",
                "RACE": None
                if is_missing(race) or not demographics.collects(Characteristic.RACE)
                else str(race),
                "ETHNIC": None
                if is_missing(ethnicity) or not demographics.collects(Characteristic.ETHNICITY)
                else str(ethnicity),
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
    race_comment = "" if demographics.collects(Characteristic.RACE) else not_collected("race")
    ethnic_comment = (
        "" if demographics.collects(Characteristic.ETHNICITY) else not_collected("ethnicity")
    )
    variables = [
        *ID_VARIABLES,
        var("SUBJID", "Subject Identifier for the Study"),
        var("RFSTDTC", "Subject Reference Start Date/Time", "datetime", "Derived"),
        var("RFENDTC", "Subject Reference End Date/Time", "datetime", "Derived"),
        var("RFXSTDTC", "Date/Time of First Study Treatment", "datetime", "Derived"),
        var("RFXENDTC", "Date/Time of Last Study Treatment", "datetime", "Derived"),
        var("RFICDTC", "Date/Time of Informed Consent", "datetime"),
        var("RFPENDTC", "Date/Time of End of Participation", "datetime", "Derived"),
        var("DTHDTC", "Date/Time of Death", "datetime", "Derived"),
        var("DTHFL", "Subject Death Flag", origin="Derived"),
        var("SITEID", "Study Site Identifier"),
        var("AGE", "Age", "integer"),
        var("AGEU", "Age Units", origin="Assigned"),
        var("SEX", "Sex"),
        replace(var("RACE", "Race"), comment=race_comment),
        replace(var("ETHNIC", "Ethnicity"), comment=ethnic_comment),
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
