"""SDTM CM (concomitant and prior medications) from the recorded medications and their dated
taper plans.

A medication without a taper plan is one record. A tapered one is one record per dose period,
grouped by ``CMGRPID``: the dose as recorded from its start to the day before the first step,
then each step's dose from its date to the day before the next step (the last to the stop
date, or ongoing). A step whose dose is zero (``0 mg``) ends the medication and has no record
of its own. So the taper is data in CM itself (``CMDOSE``/``CMDOSTXT`` per period), not in a
SUPPCM dataset.

``CMSTRF``/``CMENRF`` place the start and end relative to the study reference period
(``RFSTDTC`` first dose to ``RFENDTC`` last visit): ``BEFORE``, ``DURING`` or ``AFTER``; a
medication still taken has ``CMENRTPT = "ONGOING"`` relative to ``CMENTPT``, the date of the
participant's last visit. A medication coded with WHODrug (:mod:`remit.services.coding`) has
``CMDECOD`` the WHODrug preferred name, ``CMCLAS`` the text and ``CMCLASCD`` the code of its
ATC assignment. An uncoded one has ``CMDECOD`` empty, ``CMCLASCD`` the ATC class recorded
with it (first 5 characters of the ATC code) and ``CMCLAS`` the protocol's name of a
prohibited class the medication falls in (empty for an allowed one).
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pandas as pd

from remit.interop.dataset import Dataset, frame_rows, is_missing, make_dataset
from remit.interop.sdtm.base import ID_VARIABLES, Context, iso_date, sequenced, var

_DOSE = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*([A-Za-zµ/%]+(?:/[A-Za-z]+)?)\s*$")


def split_dose(text: Any) -> tuple[float | None, str | None, str | None]:
    """(``CMDOSE``, ``CMDOSU``, ``CMDOSTXT``) of a dose as recorded: a number and a unit go to
    the first two; anything else stays text.

    >>> split_dose("100 mg")
    (100.0, 'mg', None)
    >>> split_dose("1-2 tablets as needed")
    (None, None, '1-2 tablets as needed')
    >>> split_dose(None)
    (None, None, None)
    """
    if is_missing(text) or not str(text).strip():
        return None, None, None
    found = _DOSE.match(str(text))
    if found is None:
        return None, None, str(text).strip()
    return float(found.group(1).replace(",", ".")), found.group(2), None


def _day(value: Any) -> date | None:
    if is_missing(value):
        return None
    return pd.Timestamp(value).date()


def relative_to_period(day: date | None, start: date | None, end: date | None) -> str | None:
    """``BEFORE``, ``DURING`` or ``AFTER`` the reference period ``[start, end]`` (None when
    the day or the period's start is unknown; an open end counts as still running).

    >>> relative_to_period(date(2023, 1, 1), date(2023, 2, 1), date(2023, 9, 1))
    'BEFORE'
    >>> relative_to_period(date(2023, 3, 1), date(2023, 2, 1), None)
    'DURING'
    """
    if day is None or start is None:
        return None
    if day < start:
        return "BEFORE"
    if end is not None and day > end:
        return "AFTER"
    return "DURING"


def _periods(r: Any) -> list[tuple[date | None, date | None, Any, int | None]]:
    """(start, end, dose text, taper step number) of each dose period of a medication."""
    start, stop = _day(r.start_date), _day(r.stop_date)
    steps = sorted((date.fromisoformat(k), v) for k, v in dict(r.taper_steps or {}).items())
    if not steps:
        return [(start, stop, r.dose, None)]
    out: list[tuple[date | None, date | None, Any, int | None]] = []
    if start is None or start < steps[0][0]:
        out.append((start, steps[0][0] - timedelta(days=1), r.dose, None))
    for n, (day, dose) in enumerate(steps, start=1):
        end = steps[n][0] - timedelta(days=1) if n < len(steps) else stop
        amount = split_dose(dose)[0]
        if amount == 0:
            continue  # the medication ends here
        out.append((day, end, dose, n))
    return out


def _text(value: Any) -> str | None:
    return None if is_missing(value) else str(value)


def build_cm(ctx: Context) -> Dataset:
    """CM: one record per medication, or per dose period of a tapered one (see the module);
    ``CMSEQ`` follows the medications' start dates, a taper's periods together in date order."""
    rows = []
    for r in frame_rows(ctx.data.conmeds):
        pid = r.participant_id
        ref_start = _day(ctx.first_dose.get(pid))
        last = _day(ctx.last_visit.get(pid))
        periods = _periods(r)
        tapered = len(periods) > 1 or periods[0][3] is not None
        coded = not is_missing(getattr(r, "drug_code", None))
        if coded:
            decod, cls = str(r.drug_decod), _text(r.drug_atc_text)
            cls_code = _text(r.drug_atc_code)
        else:
            decod, cls, cls_code = None, _text(r.prohibited), _text(r.atc_class)
        for start, end, dose, step in periods:
            amount, unit, text = split_dose(dose)
            ongoing = end is None
            rows.append(
                {
                    "STUDYID": ctx.study,
                    "DOMAIN": "CM",
                    "USUBJID": ctx.usubjid(pid),
                    "CMGRPID": f"CM{int(r.conmed_id)}" if tapered else None,
                    "CMSPID": None if step is None else f"TAPER STEP {step}",
                    "CMTRT": str(r.name),
                    "CMDECOD": decod,
                    "CMCLAS": cls,
                    "CMCLASCD": cls_code,
                    "CMINDC": None if is_missing(r.indication) else str(r.indication),
                    "CMDOSE": amount,
                    "CMDOSTXT": text,
                    "CMDOSU": unit,
                    "CMROUTE": None if is_missing(r.route) else str(r.route).upper(),
                    "CMSTDTC": iso_date(start),
                    "CMENDTC": iso_date(end),
                    "CMSTDY": ctx.day(pid, start),
                    "CMENDY": ctx.day(pid, end),
                    "CMSTRF": relative_to_period(start, ref_start, last),
                    "CMENRF": None if ongoing else relative_to_period(end, ref_start, last),
                    "CMENRTPT": "ONGOING" if ongoing else None,
                    "CMENTPT": iso_date(last) if ongoing else None,
                    # a medication's records stay together, in the order of its periods
                    "_START": iso_date(r.start_date),
                    "_ID": int(r.conmed_id),
                }
            )
    rows = sequenced(rows, "CMSEQ", ("USUBJID", "_START", "_ID", "CMSTDTC"))
    for row in rows:
        del row["_START"], row["_ID"]
    variables = [
        *ID_VARIABLES,
        var("CMSEQ", "Sequence Number", "integer", "Derived", key=3),
        var("CMGRPID", "Group ID", origin="Assigned"),
        var("CMSPID", "Sponsor-Defined Identifier", origin="Assigned"),
        var("CMTRT", "Reported Name of Drug, Med, or Therapy"),
        var("CMDECOD", "Standardized Medication Name", origin="Assigned"),
        var("CMCLAS", "Medication Class", origin="Assigned"),
        var("CMCLASCD", "Medication Class Code", origin="Assigned"),
        var("CMINDC", "Indication"),
        var("CMDOSE", "Dose per Administration", "float"),
        var("CMDOSTXT", "Dose Description"),
        var("CMDOSU", "Dose Units"),
        var("CMROUTE", "Route of Administration"),
        var("CMSTDTC", "Start Date/Time of Medication", "datetime"),
        var("CMENDTC", "End Date/Time of Medication", "datetime"),
        var("CMSTDY", "Study Day of Start of Medication", "integer", "Derived"),
        var("CMENDY", "Study Day of End of Medication", "integer", "Derived"),
        var("CMSTRF", "Start Relative to Reference Period", origin="Derived"),
        var("CMENRF", "End Relative to Reference Period", origin="Derived"),
        var("CMENRTPT", "End Relative to Reference Time Point", origin="Derived"),
        var("CMENTPT", "End Reference Time Point", origin="Derived"),
    ]
    return make_dataset(
        "CM",
        "Concomitant/Prior Medications",
        "SDTM",
        variables,
        rows,
        structure="One record per medication (per dose period of a taper)",
    )
