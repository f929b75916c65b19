"""The medications and logged deviations of the synthetic trial, planned after the visits.

:func:`plan_medications` reads the steps already planned for each enrolled person (visit
times, enrolment, the first dose) and adds what the investigator enters about medications:
about half of the participants come in on an SSRI or SNRI, which is recorded at the screening
visit, given a dated taper plan at enrolment (the preparatory period, as published) and
stopped so that the protocol's washout ends before the first dose; some take allowed
medications (a hypnotic at night, paracetamol for a headache after a dosing session).
:func:`plan_logged_deviations` adds a few deviations logged by hand (with category and
severity) besides the ones the services record themselves.

Both draw from their own generator (``rng``), made after everything else is planned, so that
adding them left every other planned value of a seed as it was. The choices are invented
where the published study is silent (see the ``assumption`` notes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np

from remit.protocol import Protocol
from remit.protocol.roles import Role

#: The investigator enters medications and logs deviations.
INV = Role.INVESTIGATOR.value

#: A planned entry: (time, person, action, role, service arguments).
Entry = tuple[datetime, int, str, str, dict[str, Any]]


@dataclass(frozen=True)
class Antidepressant:
    """An antidepressant a participant may come in on, with its dose and taper doses."""

    name: str
    atc: str
    dose: str
    taper: tuple[str, ...]


#: assumption: the published study says only that current medication is tapered during the
#: preparatory period; these are common Norwegian antidepressants with usual taper steps
#: (halve, then the lowest dose for a week). Fluoxetine is left out: its 35-day washout would
#: have to start before screening.
ANTIDEPRESSANTS: tuple[Antidepressant, ...] = (
    Antidepressant("sertraline", "N06AB06", "100 mg", ("50 mg", "25 mg")),
    Antidepressant("escitalopram", "N06AB10", "10 mg", ("5 mg",)),
    Antidepressant("citalopram", "N06AB04", "20 mg", ("10 mg",)),
    Antidepressant("venlafaxine", "N06AX16", "150 mg", ("75 mg", "37.5 mg")),
    Antidepressant("duloxetine", "N06AX21", "60 mg", ("30 mg",)),
)

#: assumption: allowed medications are not published; a hypnotic at night and levothyroxine
#: are common in an outpatient MDD sample and in no prohibited class of the protocol.
ALLOWED_ONGOING: tuple[Mapping[str, str], ...] = (
    {"name": "zopiclone", "atc_code": "N05CF01", "dose": "3.75 mg", "indication": "insomnia"},
    {
        "name": "levothyroxine",
        "atc_code": "H03AA01",
        "dose": "75 ug",
        "indication": "hypothyroidism",
    },
)

#: Share of participants on an SSRI/SNRI at screening (assumption: most people referred with
#: a long moderate-to-severe episode are on an antidepressant; half keeps the demo varied).
SSRI_SHARE = 0.5


@dataclass(frozen=True)
class _Times:
    """When a person's visits happen (visit code → start), and their first dose."""

    visits: Mapping[str, datetime]
    first_dose: datetime | None


def _times(steps: Sequence[Any]) -> _Times:
    visits: dict[str, datetime] = {}
    first_dose: datetime | None = None
    for s in steps:
        if s.action == "visit":
            visits.setdefault(s.args["visit"], s.at)
        elif s.action == "dose" and s.args.get("status") == "given" and first_dose is None:
            first_dose = s.args["given_at"]
    return _Times(visits, first_dose)


def plan_medications(
    protocol: Protocol,
    people: Mapping[int, Sequence[Any]],
    *,
    screening_visit: str,
    enrol_visit: str,
    rng: np.random.Generator,
) -> list[Entry]:
    """The medication entries of the enrolled ``people`` (person → their planned steps).

    Every tapered antidepressant is stopped at least its washout (from the protocol's
    ``[[medications.prohibited]]``) plus one day before the person's first dose, so the dose
    is allowed; a medication the protocol does not prohibit is never tapered.
    """
    out: list[Entry] = []
    persons = sorted(people)
    on_ssri = set(
        rng.choice(persons, size=round(SSRI_SHARE * len(persons)), replace=False).tolist()
    )
    for person in persons:
        times = _times(people[person])
        scr, enrol = times.visits.get(screening_visit), times.visits.get(enrol_visit)
        if scr is None or enrol is None or times.first_dose is None:
            continue
        recorded = scr + timedelta(minutes=50)
        if person in on_ssri:
            drug = ANTIDEPRESSANTS[int(rng.integers(0, len(ANTIDEPRESSANTS)))]
            out += _taper(protocol, person, drug, recorded, enrol, times.first_dose, rng)
        if rng.random() < 0.35:
            med = ALLOWED_ONGOING[int(rng.integers(0, len(ALLOWED_ONGOING)))]
            began = scr.date() - timedelta(days=int(rng.integers(60, 900)))
            key = f"{person}-{med['name']}"
            out.append((recorded + timedelta(minutes=2), person, "conmed", INV,
                        {"key": key, **med, "route": "oral", "start_date": began}))  # fmt: skip
        if rng.random() < 0.3:
            day = times.first_dose.date() + timedelta(days=1)
            stop = day + timedelta(days=int(rng.integers(1, 3)))
            told = _next_visit_after(times.visits, stop)  # reported at the next visit
            if told is not None:
                out.append((told + timedelta(minutes=55), person, "conmed", INV, {
                    "key": f"{person}-paracetamol", "name": "paracetamol",
                    "atc_code": "N02BE01", "dose": "1 g as needed", "route": "oral",
                    "indication": "headache after the dosing session", "start_date": day,
                    "stop_date": stop,
                }))  # fmt: skip
    return out


def _next_visit_after(visits: Mapping[str, datetime], day: date) -> datetime | None:
    later = sorted(t for t in visits.values() if t.date() > day)
    return later[0] if later else None


def _taper(
    protocol: Protocol,
    person: int,
    drug: Antidepressant,
    recorded: datetime,
    enrol: datetime,
    first_dose: datetime,
    rng: np.random.Generator,
) -> list[Entry]:
    """Record at screening, a taper plan at enrolment, the stop at the last dose day."""
    cls = protocol.medications.prohibited_class(drug.atc)
    washout = cls.washout_days if cls is not None else 0
    # the last day taken: at most two weeks after enrolment, and washout + 1 day before the dose
    last_day = min(
        enrol.date() + timedelta(days=14), first_dose.date() - timedelta(days=washout + 1)
    )
    # each taper dose is taken for up to a week, the last one up to the last day
    available = (last_day - enrol.date()).days + 1
    spacing = min(7, max(1, available // len(drug.taper)))
    first_step = last_day - timedelta(days=spacing * len(drug.taper) - 1)
    steps = [
        ((first_step + timedelta(days=spacing * k)).isoformat(), dose)
        for k, dose in enumerate(drug.taper)
    ]
    began = recorded.date() - timedelta(days=int(rng.integers(120, 1500)))
    key = f"{person}-{drug.name}"
    return [
        (recorded, person, "conmed", INV, {
            "key": key, "name": drug.name, "atc_code": drug.atc, "dose": drug.dose,
            "route": "oral", "indication": "major depressive disorder", "start_date": began,
        }),
        (enrol + timedelta(minutes=25), person, "edit_conmed", INV, {
            "key": key, "taper_steps": steps,
            "reason": "taper plan agreed at enrolment: stop before the washout "
            f"({washout} days) ahead of the first dosing session",
        }),
        (datetime.combine(last_day, datetime.min.time(), enrol.tzinfo) + timedelta(hours=17),
         person, "stop_conmed", INV, {
            "key": key, "stop_date": last_day,
            "reason": f"last dose taken {last_day.isoformat()} as planned (phone check)",
        }),
    ]  # fmt: skip


#: Deviations logged by hand: (category, severity, visit, description). assumption: invented,
#: of kinds that happen in small psychiatric trials and do not contradict the simulated data.
LOGGED_DEVIATIONS: tuple[tuple[str, str, str, str], ...] = (
    ("informed_consent", "minor", "screening",
     "participant's copy of the signed consent form handed over at the screening visit, "
     "not on the day of consent"),
    ("procedure", "major", "primary",
     "MADRS at the primary endpoint rated by a rater who had met the participant during a "
     "dosing session (rater not blind to the sessions as the protocol requires)"),
)  # fmt: skip


def plan_logged_deviations(
    people: Mapping[int, Sequence[Any]],
    *,
    visits: Mapping[str, str],
    rng: np.random.Generator,
) -> list[Entry]:
    """One logged deviation of each kind of :data:`LOGGED_DEVIATIONS`, each for a different
    enrolled person who attended the visit (``visits`` maps ``screening``/``primary`` to the
    protocol's visit codes); the investigator logs it two hours after the visit began."""
    out: list[Entry] = []
    used: set[int] = set()
    for category, severity, which, description in LOGGED_DEVIATIONS:
        code = visits[which]
        candidates = [
            p for p in sorted(people) if p not in used and code in _times(people[p]).visits
        ]
        if not candidates:
            continue
        person = int(rng.choice(candidates))
        used.add(person)
        at = _times(people[person]).visits[code]
        out.append((at + timedelta(hours=2), person, "deviation", INV, {
            "category": category, "severity": severity, "description": description,
            "occurred_date": at.date(), "visit_code": code,
        }))  # fmt: skip
    return out
