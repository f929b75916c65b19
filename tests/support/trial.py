"""The one trial factory of the test suite.

:func:`build_trial` creates a trial in a migrated database through :mod:`remit.services` only:
the study and protocol (Oslo by default), its sites, an admin and the staff (one user per role
by default) and participants taken to chosen stages. Each participant is described by a
:class:`Participant` (or :func:`stage` for the usual ones): how far the visits go, whether they
are eligible and enrolled, which forms, dosing days and adverse events are entered, which forms
are corrected afterwards and whether they are withdrawn. :func:`trial_file` does the same into a
SQLite file, to be built once per test run (:func:`tests.support.shared.build_once`) and
copied for each test; :func:`trial_of` gives the trial of such a copy.

>>> from tests.support.trial import Participant, stage
>>> stage("dosed").through, stage("dosed").dosing
('V5', True)
>>> Participant(through="V3").enrol
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Literal

from sqlalchemy import Engine
from tests.support.db import cheap_password_hashing, migrated_sqlite
from tests.support.forms import NORMAL_VITALS, at, fill, madrs
from tests.support.predose import ready_for_dose

from remit import services as sv
from remit.protocol import Protocol, load_protocol
from remit.protocol.status import ParticipantStatus
from remit.simulate.plan import eligible_checklist
from remit.store import Actor

PASSWORD = "correct horse battery staple"
ADMIN = "ada"
#: The default staff: username → roles held ``(role, site code or None for study-wide)``.
STAFF: dict[str, tuple[tuple[str, str | None], ...]] = {
    "kari": (("investigator", "OST"),),
    "tor": (("therapist", "OST"),),
    "rita": (("independent_rater", "OST"),),
    "mona": (("monitor", None),),
    "dag": (("data_manager", None),),
    "siri": (("statistician", None),),
    "una": (("unblinded_statistician", None),),
}
#: The staff of a trial run under the RCT example (two sites): the investigator and the
#: independent rater study-wide instead of at OST.
RCT_STAFF = {**STAFF, "kari": (("investigator", None),), "rita": (("independent_rater", None),)}
#: role → username of the default staff (the admin too).
ROLE_USER = {"admin": ADMIN} | {roles[0][0]: name for name, roles in STAFF.items()}

#: The referral date of participants unless told otherwise.
REFERRAL = date(2023, 1, 2)
#: Checklist answers that pass every Oslo criterion not read from a form (the C-SSRS at SCR
#: is recorded by :func:`screening_form`; the MADRS at V3 is checked at confirmation).
ELIGIBLE: Mapping[str, object] = eligible_checklist()
SCREENING_VISIT = "SCR"
ENROLMENT_VISIT = "V0"

Stage = Literal["screened", "ineligible", "enrolled", "dosed", "completed"]


@dataclass(frozen=True)
class Correction:
    """A form edited after entry (by the role that rates it), with the reason."""

    visit: str
    scale: str
    changes: Mapping[str, object]
    reason: str


@dataclass(frozen=True)
class Participant:
    """One participant of a test trial and how far the trial takes them.

    Visits are recorded on their target dates in protocol order up to ``through`` (none when
    ``None``). At the screening visit the ``screening`` data (default :data:`ELIGIBLE`) are
    checked; at the enrolment visit the participant is enrolled if ``enrol`` (with no visit
    walked, ``enrol`` checks eligibility and enrols at once). ``forms``: ``"baseline"`` enters
    the C-SSRS baseline at screening, ``"all"`` every form each visit plans (dosing-day
    ratings aside) at ``level`` (at level 1 from ``improved_from`` on); none once screening
    failed. ``madrs_at`` maps visits to a MADRS level: that form alone is entered there (by
    the independent rater, items 1–9 at the level, item 10 at 1). ``dosing`` runs each
    planned dosing session (doses, vital signs, a VAS); an adverse event (mild headache) is
    reported at each visit of ``adverse_events``. ``corrections`` are made after every
    participant's visits; then the participant is moved to ``status`` (``in_follow_up``,
    ``completed`` or ``lost_to_follow_up``, through :func:`remit.services.change_status`) or
    withdrawn with the reason ``withdrawn``. Right after registration the participant gives
    informed consent (when the protocol declares a consent form and ``consent``) to the version
    in force, with all its components, at ``consented_at`` (default: 08:00 UTC on the referral
    date, else at registration). An enrolled participant's enrolment is confirmed at the
    protocol's ``confirm_at`` visit (V4) when ``confirm`` (by default when ``dosing`` or when
    ``through`` goes past V4, as a site would: without confirmation no dosing session can
    start); the MADRS that confirmation reads (V3) is then entered at ``baseline_level`` (3:
    total 28, moderate to severe), or at ``level`` when ``forms`` are "all" at a higher one,
    unless ``madrs_at`` gives it.
    """

    through: str | None = "V4"
    enrol: bool = True
    screening: Mapping[str, object] | None = None
    forms: Literal["none", "baseline", "all"] = "none"
    madrs_at: Mapping[str, int] | None = None
    level: int = 1
    improved_from: str | None = None
    dosing: bool = False
    withhold_supplemental: bool = False
    adverse_events: tuple[str, ...] = ()
    corrections: tuple[Correction, ...] = ()
    status: str | None = None
    withdrawn: str | None = None
    sex: str | None = "male"
    birth_year: int | None = 1980
    identity: Mapping[str, str] | None = None
    screened_at: datetime | None = None
    referral: date | None = REFERRAL
    site: str | None = None
    consent: bool = True
    consented_at: datetime | None = None
    confirm: bool | None = None
    baseline_level: int | None = 3


_STAGES: dict[str, Participant] = {
    "screened": Participant(through=None, enrol=False, referral=None),
    "ineligible": Participant(through=SCREENING_VISIT, screening={**ELIGIBLE, "psychosis": True}),
    "enrolled": Participant(through="V4"),
    "dosed": Participant(through="V5", forms="all", dosing=True),
    "completed": Participant(
        through="FU7", forms="all", dosing=True, improved_from="V13", status="completed"
    ),
}


def stage(name: Stage, **changes: object) -> Participant:
    """A participant at a usual stage of the Oslo trial, with ``changes`` to its fields.

    ``screened`` (registered only), ``ineligible`` (fails screening on psychosis), ``enrolled``
    (visits to V4), ``dosed`` (to the first dosing day V5, every form entered), ``completed``
    (to the last follow-up FU7, both dosing days, forms improving from V13, then status
    ``completed``).
    """
    return replace(_STAGES[name], **changes)  # type: ignore[arg-type]


class _FirstOf:
    """``trial.<role>``: the first actor of that role in the trial's staff (the admin ``ada``
    for ``admin``)."""

    def __init__(self, role: str) -> None:
        self.role = role

    def __get__(self, trial: OsloTrial, owner: type | None = None) -> Actor:
        return trial.actors[self.role]


@dataclass(frozen=True)
class OsloTrial:
    """A test trial: the engine, the protocol, the staff, the first actor of each role and the
    participants' study IDs."""

    engine: Engine
    protocol: Protocol
    actors: Mapping[str, Actor]
    staff: Mapping[str, Sequence[tuple[str, str | None]]] = field(default_factory=dict)
    participants: tuple[str, ...] = ()

    admin = _FirstOf("admin")
    investigator = _FirstOf("investigator")
    therapist = _FirstOf("therapist")
    rater = _FirstOf("independent_rater")
    monitor = _FirstOf("monitor")
    data_manager = _FirstOf("data_manager")
    statistician = _FirstOf("statistician")

    def actor_at(self, role: str, site: str | None) -> Actor:
        """The first actor of ``role`` who may act at ``site`` (held there or study-wide)."""
        if site is None:
            return self.actors[role]
        for name, roles in self.staff.items():
            for held, where in roles:
                if held == role and where in (site, None):
                    return sv.actor_for(self.engine, name, role, where)
        raise LookupError(f"the test trial has no {role} who may act at site {site!r}")


def build_trial(
    engine: Engine,
    *,
    protocol: Protocol | str = "oslo-mdma-mdd",
    sites: Sequence[str] | None = ("OST",),
    staff: Mapping[str, Sequence[tuple[str, str | None]]] = STAFF,
    participants: Sequence[Participant] = (),
) -> OsloTrial:
    """Create a trial in the migrated, empty database of ``engine`` through the services.

    ``sites`` are the protocol's site codes to open (``None``: all); ``staff`` maps usernames
    to their ``(role, site code or None)`` pairs (the admin ``ada`` is always made). Passwords
    are :data:`PASSWORD`, hashed with cheap argon2id parameters (a test database only).
    Returns the trial with the first actor of each role and the participants' study IDs in
    the order given.
    """
    chosen = load_protocol(protocol) if isinstance(protocol, str) else protocol
    with cheap_password_hashing():
        made = sv.create_trial(
            engine,
            chosen,
            sites=None if sites is None else list(sites),
            admin_username=ADMIN,
            admin_password=PASSWORD,
        )
        admin = Actor(made.admin.id, ADMIN, "admin", None)
        for name, roles in staff.items():
            # test staff log in with PASSWORD at once: not forced to change it first
            sv.add_user(engine, admin, name, PASSWORD, list(roles), must_change_password=False)
    trial = trial_of(engine, protocol=chosen, staff=staff)
    ids = tuple(add_participant(trial, plan) for plan in participants)
    for pid, plan in zip(ids, participants, strict=True):
        for correction in plan.corrections:
            _correct(trial, pid, correction)
    for pid, plan in zip(ids, participants, strict=True):
        inv = trial.actor_at("investigator", plan.site)
        if plan.status is not None:
            lost = plan.status == ParticipantStatus.LOST_TO_FOLLOW_UP
            reason = "no contact after three attempts" if lost else None
            sv.change_status(engine, inv, pid, plan.status, reason=reason)
        if plan.withdrawn is not None:
            sv.withdraw(engine, inv, pid, reason=plan.withdrawn)
    return replace(trial, participants=ids)


def trial_file(path: Path, **options: object) -> OsloTrial:
    """:func:`build_trial` into a new migrated SQLite file at ``path``; the engine is disposed
    (the WAL checkpointed) on return, so the file can be copied for each test."""
    with migrated_sqlite(path) as engine:
        return build_trial(engine, **options)  # type: ignore[arg-type]


def trial_of(
    engine: Engine,
    *,
    protocol: Protocol | str = "oslo-mdma-mdd",
    staff: Mapping[str, Sequence[tuple[str, str | None]]] = STAFF,
) -> OsloTrial:
    """The :class:`OsloTrial` of a database :func:`build_trial` made (also a copy of one): the
    first actor of each role is looked up by username in the staff's order."""
    chosen = load_protocol(protocol) if isinstance(protocol, str) else protocol
    actors = {"admin": sv.actor_for(engine, ADMIN, "admin")}
    for name, roles in staff.items():
        for role, site in roles:
            if role not in actors:
                actors[role] = sv.actor_for(engine, name, role, site)
    return OsloTrial(engine=engine, protocol=chosen, actors=actors, staff=dict(staff))


def add_participant(trial: OsloTrial, plan: Participant) -> str:
    """Screen one participant and take them as far as ``plan`` says; return the study ID.

    Corrections, status changes and withdrawal are left to :func:`build_trial` (they come
    after everyone's visits there).
    """
    engine = trial.engine
    inv = trial.actor_at("investigator", plan.site)
    pid = sv.screen_participant(
        engine,
        inv,
        site=plan.site,
        sex=plan.sex,
        birth_year=plan.birth_year,
        identity=plan.identity,
        screened_at=plan.screened_at,
    ).participant_id
    if plan.consent:
        consent(trial, pid, plan)
    if plan.referral is not None:
        sv.set_anchor_date(engine, inv, pid, "referral", plan.referral)
    screening = dict(ELIGIBLE if plan.screening is None else plan.screening)
    if plan.through is None:
        if plan.enrol:
            assert plan.referral is not None, f"{pid}: enrolment walks the schedule from a referral"
            walk_screening(trial, pid, by=inv)
            screening_form(trial, pid, by=inv)
            sv.check_eligibility(engine, inv, pid, screening)
            v0 = {v.visit_code: v for v in sv.list_visits(engine, inv, pid)}[ENROLMENT_VISIT]
            assert v0.target_date is not None, f"{pid} {ENROLMENT_VISIT} has no target date"
            sv.enrol(engine, inv, pid, enrolled_at=at(v0.target_date, 11))
        return pid
    eligible: bool | None = None  # not checked yet
    enrolled = False
    plan_of_enrolment = trial.protocol.enrolment
    confirm_at = None if plan_of_enrolment is None else plan_of_enrolment.confirm_at
    codes = trial.protocol.visit_codes
    past = confirm_at is not None and codes.index(plan.through) > codes.index(confirm_at)
    confirm = (plan.dosing or past) if plan.confirm is None else plan.confirm
    for visit in trial.protocol.visit_codes:
        planned = {v.visit_code: v for v in sv.list_visits(engine, inv, pid)}[visit]
        assert planned.target_date is not None, f"{pid} {visit} has no target date"
        day = planned.target_date
        if visit == confirm_at and enrolled and confirm:
            sv.confirm_enrolment(engine, inv, pid, confirmed_at=at(day, 11))
        else:
            sv.record_visit(engine, inv, pid, visit, day)
        if visit == SCREENING_VISIT:
            _forms(trial, plan, pid, visit, day)
            if plan.forms == "none":
                screening_form(trial, pid, by=inv)
            eligible = sv.check_eligibility(engine, inv, pid, screening).eligible
        if visit == ENROLMENT_VISIT and plan.enrol:
            sv.enrol(engine, inv, pid, enrolled_at=at(day, 11))
            enrolled = True
        if eligible is not False and visit != SCREENING_VISIT:
            _forms(trial, plan, pid, visit, day, baseline=enrolled and confirm)
        if plan.dosing and trial.protocol.dosing_session(visit) is not None:
            _dosing_day(trial, pid, visit, day, withhold=plan.withhold_supplemental)
        if visit in plan.adverse_events:
            sv.record_adverse_event(
                engine,
                trial.therapist,
                pid,
                term="Headache",
                onset_date=day,
                severity="mild",
                relatedness="possible",
                action_taken="dose_not_changed",
                awareness_at=at(day, 15),
            )
        if visit == plan.through:
            break
    return pid


def walk_screening(
    trial: OsloTrial,
    pid: str,
    *,
    by: Actor | None = None,
    phone_day: date | None = None,
    screening_day: date | None = None,
) -> date:
    """Take a referred candidate to the screening visit as a site does: the phone screen
    (``PHONE``) passed at 10:00 UTC on ``phone_day``, then the screening visit (``SCR``) on
    ``screening_day`` (each by default on its target date). Returns the date of SCR."""
    inv = by or trial.investigator

    def target(code: str) -> date:
        found = {v.visit_code: v for v in sv.list_visits(trial.engine, inv, pid)}[code]
        assert found.target_date is not None, f"{pid} {code} has no target date"
        return found.target_date

    day = phone_day or target("PHONE")
    sv.record_phone_screen(trial.engine, inv, pid, outcome="pass", screened_at=at(day, 10))
    day = screening_day or target(SCREENING_VISIT)
    sv.record_visit(trial.engine, inv, pid, SCREENING_VISIT, day)
    return day


def screening_form(
    trial: OsloTrial,
    pid: str,
    answers: Mapping[str, object] | None = None,
    *,
    by: Actor | None = None,
) -> None:
    """Record the screening C-SSRS (baseline version) the eligibility criteria read, dated
    10:00 on the screening visit's day (now when the schedule has no date for it yet: refused
    then, the visit is not reached; walk it first, :func:`walk_screening`); ``answers`` default
    to the low answers of :func:`tests.support.forms.fill`."""
    who = by or trial.investigator
    planned = {v.visit_code: v for v in sv.list_visits(trial.engine, who, pid)}
    day = planned[SCREENING_VISIT].actual_date or planned[SCREENING_VISIT].target_date
    sv.record_assessment(
        trial.engine,
        who,
        pid,
        SCREENING_VISIT,
        "cssrs",
        dict(fill("cssrs", "baseline") if answers is None else answers),
        version="baseline",
        assessed_at=None if day is None else at(day, 10),
    )


def consent(trial: OsloTrial, pid: str, plan: Participant) -> None:
    """Record the participant's informed consent as ``plan`` says (nothing when the protocol
    declares no consent form)."""
    forms = trial.protocol.consent
    if not forms.required:
        return
    inv = trial.actor_at("investigator", plan.site)
    when = plan.consented_at
    if when is None:
        registered = sv.get_participant(trial.engine, inv, pid).screened_at
        when = at(plan.referral, 8) if plan.referral is not None else registered
    assert when is not None
    version = forms.in_force(when.date()) or forms.versions[0]
    sv.record_consent(
        trial.engine,
        inv,
        pid,
        version=version.version,
        components=list(version.components),
        consented_at=when,
    )


def enrolled(
    trial: OsloTrial, through: str = "V4", *, forms: bool = False, confirm: bool | None = None
) -> str:
    """Screen, enrol and take a participant through the visits up to ``through`` (on target).

    With ``forms`` the C-SSRS baseline at SCR is entered too; ``confirm`` as in
    :class:`Participant` (the enrolment confirmed at V4 when ``through`` goes past it, with the
    baseline MADRS at V3 entered for it). Returns the study ID.
    """
    plan = Participant(
        through=through,
        forms="baseline" if forms else "none",
        identity={"name": "Ola Nordmann"},
        confirm=confirm,
    )
    return add_participant(trial, plan)


def visit_date(trial: OsloTrial, pid: str, code: str) -> date:
    """The actual (else target) date of a participant's visit."""
    visit = {v.visit_code: v for v in sv.list_visits(trial.engine, trial.investigator, pid)}[code]
    found = visit.actual_date or visit.target_date
    assert found is not None, f"{pid} {code} has neither an actual nor a target date"
    return found


def _rater(trial: OsloTrial, rater: str) -> Actor:
    by_rater = {
        "independent_rater": trial.rater,
        "investigator": trial.investigator,
        "therapist": trial.therapist,
        "self_report": trial.therapist,
    }
    return by_rater[rater]


def confirmation_madrs_visit(protocol: Protocol) -> str | None:
    """The visit whose MADRS the protocol reads when it confirms enrolment (Oslo: V3)."""
    for criterion in protocol.eligibility.criteria:
        source = criterion.source
        if criterion.stage == "confirmation" and source is not None and source.scale == "madrs":
            return source.visit
    return None


def _forms(
    trial: OsloTrial, plan: Participant, pid: str, visit: str, day: date, *, baseline: bool = False
) -> None:
    """Enter the forms ``plan`` asks for at ``visit``. With ``baseline`` (an enrolled participant
    to be confirmed) the MADRS that confirmation reads is entered at ``plan.baseline_level`` (or
    the plan's higher ``level``) unless ``madrs_at`` gives it: the factory's participants meet
    the severity criterion."""
    levels = dict(plan.madrs_at or {})
    if visit in levels:
        answers = madrs(levels[visit], 1)
        sv.record_assessment(trial.engine, trial.rater, pid, visit, "madrs", answers)
    elif (
        baseline
        and plan.baseline_level is not None
        and visit == confirmation_madrs_visit(trial.protocol)
    ):
        # the plan's own level when it is severe enough (forms "all"), else baseline_level
        own = plan.level if plan.forms == "all" else 0
        levels[visit] = max(own, plan.baseline_level)
        answers = madrs(levels[visit], 1)
        sv.record_assessment(
            trial.engine, trial.rater, pid, visit, "madrs", answers, assessed_at=at(day, 10)
        )
    if plan.forms == "baseline" and visit == SCREENING_VISIT:
        answers = fill("cssrs", "baseline")
        sv.record_assessment(
            trial.engine, trial.investigator, pid, visit, "cssrs", answers, version="baseline"
        )
    if plan.forms != "all":
        return
    codes = trial.protocol.visit_codes
    improved = plan.improved_from is not None and codes.index(visit) >= codes.index(
        plan.improved_from
    )
    level = 1 if improved else plan.level
    for form in trial.protocol.assessments_at(visit):
        if form.timing == "during_session" or (form.scale == "madrs" and visit in levels):
            continue
        answers = (
            madrs(level, 1) if form.scale == "madrs" else fill(form.scale, form.version, level)
        )
        sv.record_assessment(
            trial.engine,
            _rater(trial, form.rater),
            pid,
            visit,
            form.scale,
            answers,
            version=form.version,
            assessed_at=at(day, 10),
        )


def _dosing_day(trial: OsloTrial, pid: str, visit: str, day: date, *, withhold: bool) -> None:
    engine, inv, the = trial.engine, trial.investigator, trial.therapist
    planned = trial.protocol.dosing_session(visit)
    assert planned is not None
    sv.start_dosing_session(engine, inv, pid, visit, started_at=at(day, 8, 30))
    dose0 = at(day, 9)
    sv.record_vitals(
        engine, the, pid, visit, measured_at=dose0 - timedelta(minutes=15), values=NORMAL_VITALS
    )
    ready_for_dose(engine, trial.protocol, inv, the, pid, visit, dose0 - timedelta(minutes=5))
    sv.record_dose(
        engine, inv, pid, visit, kind="initial", dose_mg=planned.initial_mg, given_at=dose0
    )
    sv.record_vas(
        engine, the, pid, visit, "initial_dose", fill("se_vas", level=10), assessed_at=dose0
    )
    # readings to 120 minutes: the supplemental dose at 121 has a recent one (the dose-stop)
    for minutes in planned.vitals.timepoints_min()[:4]:
        sv.record_vitals(
            engine,
            the,
            pid,
            visit,
            measured_at=dose0 + timedelta(minutes=minutes),
            values={**NORMAL_VITALS, "heart_rate": 80 + minutes // 30},
        )
    sv.record_dose(
        engine,
        inv,
        pid,
        visit,
        kind="supplemental",
        dose_mg=planned.supplemental_mg,
        status="withheld" if withhold else "given",
        given_at=None if withhold else dose0 + timedelta(minutes=121),
        withheld_reason="participant declined" if withhold else None,
    )
    # the discharge: a reading within the limits, the investigator's sign-off, then the end
    end = dose0 + timedelta(hours=8)
    sv.record_vitals(
        engine, the, pid, visit, measured_at=end - timedelta(minutes=10), values=NORMAL_VITALS
    )
    sv.sign_off_discharge(engine, inv, pid, visit, signed_at=end - timedelta(minutes=5))
    sv.end_dosing_session(engine, inv, pid, visit, ended_at=end)


def _correct(trial: OsloTrial, pid: str, correction: Correction) -> None:
    inv = trial.investigator
    found = [
        a
        for a in sv.list_assessments(trial.engine, inv, pid, visit_code=correction.visit)
        if a.scale == correction.scale
    ]
    assert len(found) == 1, f"{pid} has {len(found)} {correction.scale} forms at {correction.visit}"
    form = found[0]
    rater = next(
        f.rater
        for f in trial.protocol.assessments_at(correction.visit)
        if f.scale == correction.scale
    )
    sv.update_assessment(
        trial.engine,
        _rater(trial, rater),
        form.id,
        {**form.answers, **correction.changes},
        expected_version=form.version,
        reason=correction.reason,
    )
