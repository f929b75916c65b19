"""What every SDTM domain shares: ISO 8601 dates, study days, EPOCH, ``--SEQ`` and the
identifier and visit variables.

Names, labels and value conventions follow the SDTM Implementation Guide (3.4): ISO 8601
dates and times (times are UTC, written without a zone), ``--SEQ`` numbering records within a
subject, ``--DY`` counted from ``RFSTDTC`` (the first dose) with no day 0, ``VISITNUM`` from
the protocol (:meth:`remit.protocol.Protocol.visit_number`) and ``EPOCH`` from the visit kind.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal, TypeVar, get_args

import pandas as pd

from remit.analysis import TrialData
from remit.interop.dataset import Variable, is_missing
from remit.protocol import Protocol
from remit.protocol.status import DoseStatus

_T = TypeVar("_T")

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


#: Where clinician-rated scales may go: QS (questionnaires) or RS (clinical classifications).
ClinicianDomain = Literal["QS", "RS"]
CLINICIAN_DOMAINS: tuple[ClinicianDomain, ...] = get_args(ClinicianDomain)


@dataclass(frozen=True)
class SdtmSettings:
    """Choices the SDTM IG leaves to the sponsor.

    ``clinician_domain``: where the scales CDISC terminology lists as clinical
    classifications (MADRS; a clinician-rated scale CDISC has no category for) go — ``QS`` or
    ``RS`` (SDTMIG 3.3+ moved clinical classifications to RS). A scale CDISC lists as a
    questionnaire (C-SSRS) is always in QS (:mod:`remit.interop.qrs`).
    """

    clinician_domain: ClinicianDomain = "QS"
    #: When the data were extracted (TS ``DCUTDTC``); ``None``: not recorded.
    data_cut: datetime | None = None


def iso_date(value: Any) -> str | None:
    """``YYYY-MM-DD`` of a date or timestamp (None when missing)."""
    if is_missing(value):
        return None
    if isinstance(value, date) and value.year >= 1000:  # dates and timestamps: no parsing
        return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
    return pd.Timestamp(value).strftime("%Y-%m-%d")


def iso_datetime(value: Any) -> str | None:
    """``YYYY-MM-DDThh:mm:ss`` (UTC) of a timestamp (None when missing)."""
    if is_missing(value):
        return None
    if isinstance(value, datetime):  # a timestamp: formatted without pandas' conversions
        when = value if value.tzinfo is None else value.astimezone(UTC)
        if when.year >= 1000:
            return (
                f"{when.year:04d}-{when.month:02d}-{when.day:02d}"
                f"T{when.hour:02d}:{when.minute:02d}:{when.second:02d}"
            )
    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.strftime("%Y-%m-%dT%H:%M:%S")


def study_day(value: Any, reference: Any) -> int | None:
    """SDTM ``--DY``: days from the reference date, day 1 on it, no day 0."""
    if is_missing(value) or is_missing(reference):
        return None
    days = (
        date.fromisoformat(str(iso_date(value))) - date.fromisoformat(str(iso_date(reference)))
    ).days
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


def var(
    name: str, label: str, type_: Any = "text", origin: str = "Collected", key: int | None = None
) -> Variable:
    """A dataset variable with no codelist (``key``: its place in the dataset's key)."""
    return Variable(name, label, type_, origin, None, key)


#: STUDYID, DOMAIN, USUBJID: the first variables of every subject-level domain.
ID_VARIABLES = [
    var("STUDYID", "Study Identifier", origin="Assigned", key=1),
    var("DOMAIN", "Domain Abbreviation", origin="Assigned"),
    var("USUBJID", "Unique Subject Identifier", origin="Assigned", key=2),
]
#: VISITNUM, VISIT, EPOCH.
VISIT_VARIABLES = [
    var("VISITNUM", "Visit Number", "float", "Protocol"),
    var("VISIT", "Visit Name", origin="Protocol"),
    var("EPOCH", "Epoch", origin="Protocol"),
]


class Context:
    """The trial data and protocol one SDTM build reads, with each participant's first and
    last dose and last visit (the reference dates).

    One context may serve an SDTM and an ADaM build of the same data (an export): what both
    read, such as the QS/RS records ADQS traces back to, is built once (:meth:`shared`)."""

    def __init__(self, data: TrialData, protocol: Protocol) -> None:
        self.data = data
        self.protocol = protocol
        self._shared: dict[Hashable, Any] = {}
        self.study = protocol.study.id
        self.codes = set(protocol.visit_codes)
        given = data.doses[data.doses["status"] == DoseStatus.GIVEN]
        self.first_dose = given.groupby("participant_id")["given_at"].min().to_dict()
        self.last_dose = given.groupby("participant_id")["given_at"].max().to_dict()
        done = data.visits.dropna(subset=["actual_date"])
        self.last_visit = done.groupby("participant_id")["actual_date"].max().to_dict()
        #: each participant's visits that took place: (date, EPOCH), in date order
        self._epochs: dict[Any, list[tuple[pd.Timestamp, str]]] = {}
        for r in done.sort_values("actual_date").itertuples():
            if str(r.visit_code) in self.codes:
                kind = protocol.visit(str(r.visit_code)).kind
                self._epochs.setdefault(r.participant_id, []).append(
                    (pd.Timestamp(str(iso_date(r.actual_date))), EPOCHS.get(kind, "TREATMENT"))
                )

    def shared(self, key: Hashable, build: Callable[[], _T]) -> _T:
        """What ``build()`` returns, built on the first call for ``key`` and the same object
        afterwards (the builds read only this context's data, which are not changed)."""
        if key not in self._shared:
            self._shared[key] = build()
        value: _T = self._shared[key]
        return value

    def usubjid(self, pid: Any) -> str:
        """``USUBJID`` of a participant: the study ID, a dash, the participant's study ID."""
        return f"{self.study}-{pid}"

    def visit(self, code: Any) -> dict[str, Any]:
        """``VISITNUM``, ``VISIT`` and ``EPOCH`` of a visit code (all None when unplanned)."""
        if is_missing(code) or str(code) not in self.codes:
            return {"VISITNUM": None, "VISIT": None, "EPOCH": None}
        v = self.protocol.visit(str(code))
        return {
            "VISITNUM": self.protocol.visit_number(v.code),
            "VISIT": v.label.upper(),
            "EPOCH": EPOCHS.get(v.kind, "TREATMENT"),
        }

    def epoch_on(self, pid: Any, value: Any) -> str | None:
        """``EPOCH`` of a date in a participant's course: the epoch of the last protocol visit
        that took place on or before it (TE's rule: an element starts at its first visit);
        SCREENING before the first visit; ``None`` for no date."""
        if is_missing(value):
            return None
        day = pd.Timestamp(str(iso_date(value)))
        epoch = "SCREENING"
        for when, found in self._epochs.get(pid, ()):
            if when > day:
                break
            epoch = found
        return epoch

    def day(self, pid: Any, value: Any) -> int | None:
        """``--DY`` of a date for a participant (from the first dose)."""
        return study_day(value, self.first_dose.get(pid))


def _sort_key(value: Any) -> tuple[int, float, str]:
    if value is None:
        return (0, 0.0, "")
    if isinstance(value, int | float):
        return (1, float(value), "")
    return (2, 0.0, str(value))


def sequenced(rows: list[dict[str, Any]], seq: str, order: Iterable[str]) -> list[dict[str, Any]]:
    """Sort ``rows`` by the ``order`` columns and number them within each subject in ``seq``."""
    keys = list(order)
    rows.sort(key=lambda r: tuple(_sort_key(r.get(k)) for k in keys))
    counter: dict[str, int] = {}
    for r in rows:
        counter[r["USUBJID"]] = counter.get(r["USUBJID"], 0) + 1
        r[seq] = counter[r["USUBJID"]]
    return rows


def result_values(value: Any) -> tuple[str | None, str | None, float | None]:
    """(original result, standard character result, standard numeric result)."""
    if is_missing(value):
        return None, None, None
    if isinstance(value, bool):  # a yes/no answer: Y/N, no numeric result
        return ("Y" if value else "N"), ("Y" if value else "N"), None
    if isinstance(value, int | float):
        f = float(value)
        if math.isnan(f):
            return None, None, None
        text = str(int(f)) if f.is_integer() else repr(f)
        return text, text, f
    return str(value), str(value), None
