"""The cohort plan: every person screened, every visit date and every entry staff will make.

:func:`plan_cohort` is pure (no database): it draws people, outcome courses, visit dates within
the protocol's windows, forms, dosing days and adverse events, and returns them as an ordered
list of :class:`Step` — what a member of staff enters, when, in which role. :mod:`remit.simulate
.trial` then enters the steps through the services in time order. Clock times are simulated
(derived from the seed and the visit dates), never the wall clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np

from remit.errors import InputError
from remit.protocol import (
    Protocol,
)
from remit.protocol.results import ResultTest
from remit.protocol.roles import Role
from remit.simulate.answers import (
    Ideation,
    Person,
    cssrs_answers,
    draw_person,
    intensity_for,
    madrs_answers,
    sds_answers,
    self_report_answers,
    vas_answers,
)
from remit.simulate.dates import (
    Design,
    clock,
    draw_visit_dates,
    madrs_course,
    read_design,
    sds_between,
    visit_start_minute,
    window_reason_for,
)
from remit.simulate.dosing_day import draw_adverse_events, vitals_series
from remit.simulate.medications import plan_logged_deviations, plan_medications
from remit.simulate.outcomes import OutcomeCourse, draw_outcomes, rebase
from remit.simulate.targets import Targets

INV, THE, RAT = Role.INVESTIGATOR.value, Role.THERAPIST.value, Role.INDEPENDENT_RATER.value

#: Who enters a form, by the protocol's rater of it.
ENTERED_BY: Mapping[str, str] = {
    "independent_rater": RAT,
    "investigator": INV,
    "therapist": THE,
    "self_report": INV,  # the study nurse's work; investigators may enter self-reports
}

#: How severe each self-report runs relative to the MADRS course (MDD samples score in the
#: moderate range of anxiety, insomnia and self-rated depression, lower on trauma symptoms).
SELF_REPORT_LEVEL: Mapping[str, float] = {
    "gad7": 0.8,
    "isi": 0.8,
    "psqi": 1.0,
    "pcl5": 0.55,
    "bdi2": 0.75,
}

#: Screen failures: (criterion id, what the person's screening data say, stage it shows up).
SCREEN_FAILURES: tuple[tuple[str, Mapping[str, object], str], ...] = (
    ("bipolar_i", {"bipolar_i": True}, "phone"),
    ("episode_length", {"episode_weeks": 8}, "phone"),
    ("cardiovascular_disease", {"cardiovascular_disease": True}, "screening"),
    ("distance", {"lives_within_1h": False}, "phone"),
    ("suicide_risk", {"cssrs_ideation_type": 5}, "screening"),
    ("substance_use_disorder", {"substance_use_disorder": True}, "screening"),
    ("episode_length", {"episode_weeks": 130}, "phone"),
    ("personality_disorder", {"personality_disorder": True}, "screening"),
    ("systolic_bp_screening", {"systolic_bp": 152}, "screening"),
    ("psychosis", {"psychosis": True}, "phone"),
    ("age", {"age_years": 17}, "phone"),
)


@dataclass(frozen=True)
class Step:
    """One entry a member of staff makes: ``action`` at ``at`` by ``role`` for ``person``
    (an index into :attr:`CohortPlan.people`), with the service's arguments."""

    at: datetime
    person: int
    seq: int
    action: str
    role: str
    args: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PersonPlan:
    """One person screened: who they are and, if enrolled, their planned outcome course."""

    index: int
    sex: str
    birth_year: int
    referral_date: date
    enrolled: bool
    screen_failure: str | None = None
    outcome: OutcomeCourse | None = None
    withheld_supplemental: bool = False
    #: Under each arm of a randomised protocol: the person's outcome had they been allocated
    #: it (``outcome`` is the first arm's); empty for a single-arm protocol.
    outcomes_by_arm: Mapping[str, OutcomeCourse] = field(default_factory=dict)


@dataclass(frozen=True)
class CohortPlan:
    """Everyone screened and every step to enter, in time order."""

    people: tuple[PersonPlan, ...]
    steps: tuple[Step, ...]
    baseline_visit: str
    primary_visit: str
    followup_visit: str


class _Builder:
    """Collects steps of one person in order (``seq`` keeps same-time steps in order)."""

    def __init__(self, person: int, counter: list[int]) -> None:
        self.person = person
        self.counter = counter
        self.steps: list[Step] = []

    def add(self, at: datetime, action: str, role: str, **args: Any) -> None:
        self.counter[0] += 1
        self.steps.append(Step(at, self.person, self.counter[0], action, role, args))


def _site(protocol: Protocol, person: PersonPlan) -> dict[str, str]:
    """``{"site": code}`` in turn over a multi-site study's sites (by screening order);
    nothing for one site (the service takes the only one)."""
    sites = protocol.study.sites
    return {"site": sites[person.index % len(sites)].code} if len(sites) > 1 else {}


def _consent(b: _Builder, protocol: Protocol, at: datetime) -> None:
    """Informed consent at registration, to the version in force, with every component."""
    forms = protocol.consent
    version = forms.in_force(at.date())
    if version is not None:
        b.add(at, "consent", INV, version=version.version,
              components=list(version.components), consented_at=at)  # fmt: skip


def eligible_checklist(
    age: int = 41, episode_weeks: int = 30, systolic_bp: int = 128
) -> dict[str, Any]:
    """The Oslo checklist answers of an eligible candidate: every criterion not read from a
    form passes (the C-SSRS criteria read the screening form, the MADRS criterion the
    baseline rating at confirmation). The simulation, the tests and the benchmarks use it.

    >>> eligible_checklist()["mdd_dsm5"], eligible_checklist(age=30)["age_years"]
    (True, 30)
    """
    return {
        "age_years": age,
        "mdd_dsm5": True,
        "episode_weeks": episode_weeks,
        "psychosis": False,
        "bipolar_i": False,
        "personality_disorder": False,
        "substance_use_disorder": False,
        "cardiovascular_disease": False,
        "lives_within_1h": True,
        "systolic_bp": systolic_bp,
    }


def _eligible_data(rng: np.random.Generator, age: int) -> dict[str, Any]:
    """An eligible candidate's checklist answers with a random episode length and blood
    pressure."""
    return eligible_checklist(
        age, int(rng.integers(14, 100)), systolic_bp=int(rng.integers(106, 139))
    )


def plan_cohort(
    protocol: Protocol,
    targets: Targets,
    *,
    rng: np.random.Generator | int | None,
    start_date: date,
    missed: Mapping[int, Sequence[str]] | None = None,
    arm_targets: Mapping[str, Targets] | None = None,
    epro: bool = False,
) -> CohortPlan:
    """Plan a whole synthetic trial: people, outcomes, dates and the steps to enter.

    Parameters
    ----------
    protocol
        The protocol (visits, windows, forms, dosing sessions, endpoints, thresholds).
    targets
        The aggregates to hit (:data:`remit.simulate.OSLO_TARGETS` by default upstream).
    rng
        Seed or generator; the same seed gives the same plan.
    start_date
        The first referral; later referrals follow about every five to six weeks.
    missed
        Visits that participants miss, by enrolment number (0 = the first enrolled): the
        visit is recorded as missed with a reason and none of its forms are entered (to
        make missing data on purpose). Screening, enrolment and dosing visits cannot be
        missed.
    arm_targets
        For a randomised protocol: each other arm's targets (arm code → targets with the same
        ``n_enrolled``). Every enrolled person then has an outcome under each arm (``targets``
        for the first arm; another arm's changes from baseline applied to the same baseline,
        :func:`remit.simulate.outcomes.rebase`), and each rating entered after the
        allocation carries its answers under every arm (``by_arm``): the runner enters the
        ones of the arm the person was allocated.
    epro
        Participants answer their self-report forms themselves: one ``epro`` step per visit
        with self-report forms (the investigator issues a link, the participant submits every
        form through it, :mod:`remit.services.epro`) instead of staff entering them.
    """
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    design = read_design(protocol)
    missed = dict(missed or {})
    _check_missed(protocol, design, targets, missed)
    outcomes = draw_outcomes(targets, rng, design.thresholds)
    by_arm = _arm_outcomes(protocol, targets, arm_targets, outcomes, rng, design)
    n_enrolled = targets.n_enrolled
    n_fail = targets.n_screen_failures
    sexes = np.array(["female"] * targets.n_women + ["male"] * (n_enrolled - targets.n_women))
    sexes = sexes[rng.permutation(n_enrolled)]
    span = 38 * (n_enrolled - 1)
    enrolled_referrals = [
        start_date + timedelta(days=38 * k + int(rng.integers(0, 9))) for k in range(n_enrolled)
    ]
    failure_referrals = sorted(
        start_date + timedelta(days=int(rng.integers(0, span + 20))) for _ in range(n_fail)
    )
    # everyone screened, in referral order (the order they get their study IDs)
    pool: list[tuple[date, int, int]] = [(d, 0, k) for k, d in enumerate(enrolled_referrals)]
    pool += [(d, 1, k) for k, d in enumerate(failure_referrals)]
    pool.sort()

    # who has which role in the safety story
    non_responders = [k for k, o in enumerate(outcomes) if o.course == "non_responder"]
    intensifiers = set(non_responders[:2])
    prep_act = non_responders[0]
    crossings = _plan_crossings(protocol, targets, rng)
    withheld_at = next((key for key, kind in crossings.items() if kind[0] == "withheld"), None)

    counter = [0]
    people: list[PersonPlan] = []
    steps: list[Step] = []
    for index, (referral, failed, k) in enumerate(pool):
        b = _Builder(index, counter)
        if failed:
            reason, changes, stage = SCREEN_FAILURES[k % len(SCREEN_FAILURES)]
            sex = "female" if rng.random() < 0.6 else "male"
            age = int(rng.integers(22, 64))
            person = PersonPlan(
                index=index,
                sex=sex,
                birth_year=referral.year - age,
                referral_date=referral,
                enrolled=False,
                screen_failure=reason,
            )
            _plan_failure(protocol, design, b, person, age, dict(changes), stage, rng)
        else:
            outcome = outcomes[k]
            age = int(rng.integers(24, 63))
            person = PersonPlan(
                index=index,
                sex=str(sexes[k]),
                birth_year=referral.year - age,
                referral_date=referral,
                enrolled=True,
                outcome=outcome,
                withheld_supplemental=withheld_at is not None and withheld_at[0] == k,
                outcomes_by_arm=by_arm[k] if by_arm else {},
            )
            _plan_participant(
                protocol,
                design,
                b,
                person,
                age,
                outcome,
                rng,
                intensifier=k in intensifiers,
                prep_act=k == prep_act,
                crossings={s: c for (who, s), c in crossings.items() if who == k},
                missed=frozenset(missed.get(k, ())),
                epro=epro,
            )
        people.append(person)
        steps.extend(b.steps)
    steps += _plan_medications_and_deviations(protocol, design, people, steps, rng, counter)
    steps.sort(key=lambda s: (s.at, s.person, s.seq))
    return CohortPlan(
        people=tuple(people),
        steps=tuple(steps),
        baseline_visit=design.baseline_visit,
        primary_visit=design.primary_visit,
        followup_visit=design.followup_visit,
    )


def _arm_outcomes(
    protocol: Protocol,
    targets: Targets,
    arm_targets: Mapping[str, Targets] | None,
    outcomes: Sequence[OutcomeCourse],
    rng: np.random.Generator,
    design: Design,
) -> list[dict[str, OutcomeCourse]]:
    """Each enrolled person's outcome under every arm (empty without ``arm_targets``)."""
    if not arm_targets:
        return []
    arms = [a.code for a in protocol.arms]
    others = arms[1:]
    if protocol.randomisation is None or sorted(arm_targets) != sorted(others):
        raise InputError(
            f"arm targets for {', '.join(sorted(arm_targets)) or 'no arm'}",
            expected="a randomised protocol and targets for each arm after the first: "
            + (", ".join(others) or "(none: one arm)"),
        )
    people: list[dict[str, OutcomeCourse]] = [{arms[0]: o} for o in outcomes]
    for arm in others:
        t = arm_targets[arm]
        if t.n_enrolled != targets.n_enrolled:
            raise InputError(
                f"arm {arm}: n_enrolled {t.n_enrolled}",
                expected=f"the cohort's n_enrolled {targets.n_enrolled}",
            )
        drawn = draw_outcomes(t, rng, design.thresholds)
        for k, course in enumerate(drawn):
            people[k][arm] = rebase(course, outcomes[k])
    return people


def _plan_medications_and_deviations(
    protocol: Protocol,
    design: Design,
    people: Sequence[PersonPlan],
    steps: Sequence[Step],
    rng: np.random.Generator,
    counter: list[int],
) -> list[Step]:
    """Medications and hand-logged deviations of the enrolled (:mod:`remit.simulate
    .medications`), from a generator drawn after everything else was planned."""
    own = np.random.default_rng(int(rng.integers(0, 2**63)))
    enrolled = {p.index for p in people if p.enrolled}
    by_person: dict[int, list[Step]] = {i: [] for i in enrolled}
    for step in steps:
        if step.person in enrolled:
            by_person[step.person].append(step)
    entries = plan_medications(
        protocol,
        by_person,
        screening_visit=design.eligibility_visit,
        enrol_visit=design.enrol_visit,
        rng=own,
    )
    entries += plan_logged_deviations(
        by_person,
        visits={"screening": design.eligibility_visit, "primary": design.primary_visit},
        rng=own,
    )
    out = []
    for at, person, action, role, args in entries:
        counter[0] += 1
        out.append(Step(at, person, counter[0], action, role, args))
    return out


def _check_missed(
    protocol: Protocol, design: Design, targets: Targets, missed: Mapping[int, Sequence[str]]
) -> None:
    fixed = {design.first_visit, design.eligibility_visit, design.enrol_visit}
    fixed |= {d.visit for d in protocol.dosing}
    for who, codes in missed.items():
        if not 0 <= who < targets.n_enrolled:
            raise InputError(
                f"missed visits for participant {who}",
                expected=f"an enrolment number from 0 to {targets.n_enrolled - 1}",
            )
        for code in codes:
            protocol.visit(code)  # NotFoundError for an unknown visit
            if code in fixed:
                raise InputError(
                    f"visit {code} cannot be missed in a simulation",
                    expected="a visit other than screening, enrolment and dosing visits",
                )


def _plan_crossings(
    protocol: Protocol, targets: Targets, rng: np.random.Generator
) -> dict[tuple[int, int], tuple[str, str]]:
    """(participant, session number) → (kind, vital sign): the sessions that cross a limit.

    The first is a systolic rise just before the supplemental dose, which is then withheld
    (the one withheld supplemental dose, with its reason); the rest cross after it.
    """
    sessions = [d.number for d in protocol.dosing]
    if not sessions or targets.n_vital_crossings == 0:
        return {}
    names = ["systolic_bp", "heart_rate", "temperature", "heart_rate", "diastolic_bp"]
    # only signs that every session reads and limits from above can cross
    names = [
        n
        for n in names
        if all(
            n in d.vitals.recorded_signs()
            and (t := protocol.vital_thresholds(d.visit).get(n)) is not None
            and t.high is not None
            for d in protocol.dosing
        )
    ]
    if not names:
        return {}
    slots = [(p, s) for p in range(targets.n_enrolled) for s in sessions]
    chosen = rng.choice(len(slots), size=min(targets.n_vital_crossings, len(slots)), replace=False)
    found: dict[tuple[int, int], tuple[str, str]] = {}
    for j, slot in enumerate(chosen):
        kind = "withheld" if j == 0 else "after"
        found[slots[int(slot)]] = (kind, names[j % len(names)])
    return found


def _plan_failure(
    protocol: Protocol,
    design: Design,
    b: _Builder,
    person: PersonPlan,
    age: int,
    changes: dict[str, object],
    stage: str,
    rng: np.random.Generator,
) -> None:
    until = design.first_visit if stage == "phone" else design.eligibility_visit
    dates = draw_visit_dates(protocol, person.referral_date, rng, until=until)
    first = dates[design.first_visit]
    start = clock(first, visit_start_minute(rng))
    b.add(
        start,
        "screen",
        INV,
        sex=person.sex,
        birth_year=person.birth_year,
        screened_at=start,
        **_site(protocol, person),
    )
    _consent(b, protocol, start)
    for event in protocol.events:
        b.add(start, "anchor", INV, anchor=event.code, anchor_date=person.referral_date)
    ideation = int(rng.random() < 0.4)
    ideation = int(changes.pop("cssrs_ideation_type", ideation))  # type: ignore[call-overload]
    rng.integers(22, 36)  # the screening MADRS once typed in: drawn still, so seeds replay
    data = _eligible_data(rng, age) | changes
    for code, day in dates.items():
        at = start if code == design.first_visit else clock(day, visit_start_minute(rng))
        late = window_reason_for(protocol, person.referral_date, dates, code, day)
        b.add(at, "visit", INV, visit=code, day=day, **late)
        for form in protocol.assessments_at(code):
            if form.scale == "cssrs":
                recent = Ideation(ideation, intensity_for(1, rng)) if ideation else Ideation()
                lifetime = Ideation(max(ideation, 1), intensity_for(2, rng))
                b.add(
                    at + timedelta(minutes=20),
                    "form",
                    ENTERED_BY[form.rater],
                    visit=code,
                    scale="cssrs",
                    version=form.version,
                    answers=cssrs_answers(form.version or "since_last_visit", recent, lifetime),
                    assessed_at=at + timedelta(minutes=20),
                )
        if code == until:
            b.add(at + timedelta(minutes=45), "eligibility", INV, data=data)


def _plan_participant(
    protocol: Protocol,
    design: Design,
    b: _Builder,
    person: PersonPlan,
    age: int,
    outcome: OutcomeCourse,
    rng: np.random.Generator,
    *,
    intensifier: bool,
    prep_act: bool,
    crossings: Mapping[int, tuple[str, str]],
    missed: frozenset[str] = frozenset(),
    epro: bool = False,
) -> None:
    dates = draw_visit_dates(protocol, person.referral_date, rng)
    codes = list(dates)
    shape = draw_person(rng)
    offsets = {s: float(rng.normal(0, 0.08)) for s in ("gad7", "isi", "psqi", "pcl5", "bdi2")}
    madrs_at = madrs_course(protocol, design, dates, outcome)
    sds_at = {
        design.baseline_visit: outcome.sds[0],
        design.primary_visit: outcome.sds[1],
        design.followup_visit: outcome.sds[2],
    }

    # C-SSRS story: lifetime ideation for most, recent ideation for some; an attempt history
    # for the participant who later reports a preparatory act
    lifetime_type = int(rng.choice([1, 2, 3], p=[0.35, 0.4, 0.25]))
    lifetime_behaviour: tuple[str, ...] = ()
    if prep_act:
        lifetime_type = 3
        lifetime_behaviour = ("actual_attempt",)
    recent_type = int(rng.choice([0, 1, 2], p=[0.5, 0.35, 0.15]))
    recent_type = min(recent_type, lifetime_type)
    recent_intensity = intensity_for(1 if recent_type <= 1 else 2, rng)
    lifetime = Ideation(lifetime_type, intensity_for(2, rng), lifetime_behaviour)
    recent = Ideation(recent_type, recent_intensity)
    first_dosing = min((d.visit for d in protocol.dosing), key=codes.index, default=None)

    def since_last(code: str) -> Ideation:
        if code == design.followup_visit and intensifier:
            level = 3 if prep_act else 2
            base = recent.intensity_total
            intensity = intensity_for(level, rng)
            while sum(intensity) <= base:
                intensity = tuple(min(5, v + 1) for v in intensity)  # type: ignore[assignment]
            return Ideation(
                3 if prep_act else 2,
                intensity,
                ("preparatory_behaviour",) if prep_act else (),
            )
        if recent_type == 0:
            return Ideation()
        before = first_dosing is None or codes.index(code) <= codes.index(first_dosing)
        ill = outcome.course == "non_responder"
        if rng.random() < (0.5 if before else 0.3 if ill else 0.04):
            mild = tuple(
                max(lo, v - 1) for v, lo in zip(recent.intensity, (1, 1, 0, 0, 0), strict=True)
            )
            return Ideation(1, mild)  # type: ignore[arg-type]
        return Ideation()

    def rating(
        scale: str,
        code: str,
        madrs_at: Mapping[str, int],
        sds_at: Mapping[str, int],
        outcome: OutcomeCourse,
    ) -> dict[str, Any]:
        """The answers of a MADRS, SDS or self-report form at ``code`` on ``outcome``'s course."""
        if scale == "madrs":
            cap = 3 if (intensifier and code == design.followup_visit) else 2
            return dict(madrs_answers(madrs_at[code], Person(shape.madrs_weights, cap), rng))
        if scale == "sds":
            return dict(sds_answers(sds_at.get(code, sds_between(madrs_at, code, outcome)), rng))
        relative = madrs_at.get(code, outcome.madrs[0]) / 42
        severity = relative * SELF_REPORT_LEVEL.get(scale, 0.8)
        severity = float(np.clip(severity + offsets.get(scale, 0.0), 0.03, 0.95))
        return dict(self_report_answers(scale, severity, rng))

    # under each arm: the MADRS course and the planned SDS totals (randomised protocols)
    by_arm = {
        arm: (
            madrs_course(protocol, design, dates, course),
            {
                design.baseline_visit: course.sds[0],
                design.primary_visit: course.sds[1],
                design.followup_visit: course.sds[2],
            },
        )
        for arm, course in person.outcomes_by_arm.items()
    }
    allocated_at = (
        protocol.enrolment.confirm_at
        if protocol.enrolment is not None and protocol.enrolment.confirm_at
        else design.enrol_visit
    )
    randomised = False  # whether the visit comes after the allocation
    referral = person.referral_date
    enrolled = False
    dosing_numbers = {d.visit: d for d in protocol.dosing}
    previous: datetime | None = None
    for code in codes:
        day = dates[code]
        visit = protocol.visit(code)
        dosing = dosing_numbers.get(code)
        start = clock(day, 7 * 60 + 30 if dosing else visit_start_minute(rng))
        if previous is not None and start.date() == previous.date() and start <= previous:
            # two visits on one day happen in schedule order (a visit anchored on the other
            # is recorded after it, so its target date is known)
            start = previous + timedelta(hours=1)
        previous = start
        by = RAT if code in madrs_at else (THE if visit.therapy_session or dosing else INV)
        if code == design.first_visit:
            b.add(start, "screen", INV, sex=person.sex, birth_year=person.birth_year,
                  screened_at=start, **_site(protocol, person))  # fmt: skip
            _consent(b, protocol, start)
            for event in protocol.events:
                b.add(start, "anchor", INV, anchor=event.code, anchor_date=referral)
        if code in missed:
            b.add(start, "missed", INV, visit=code,
                  reason="participant did not attend (simulated missing data)")  # fmt: skip
            if code == design.termination_visit:
                b.add(start + timedelta(minutes=5), "status", INV, status="in_follow_up")
            continue
        randomised = randomised or codes.index(code) > codes.index(allocated_at)
        done = {k: v for k, v in dates.items() if k not in missed}
        late = window_reason_for(protocol, referral, done, code, day)
        b.add(start, "visit", by, visit=code, day=day, **late)
        t = start + timedelta(minutes=10)
        own: dict[str, Any] = {}  # the participant's own forms (ePRO), scale → answers
        own_by_arm: dict[str, dict[str, Any]] = {}
        for form in protocol.assessments_at(code):
            if form.timing == "during_session":
                continue
            role = ENTERED_BY[form.rater]
            if form.scale == "cssrs":
                if form.version == "baseline":
                    answers: dict[str, Any] = cssrs_answers("baseline", recent, lifetime)
                else:
                    answers = cssrs_answers("since_last_visit", since_last(code))
            else:
                answers = rating(form.scale, code, madrs_at, sds_at, outcome)
            extra: dict[str, Any] = {}
            if by_arm and randomised and form.scale != "cssrs":
                extra["by_arm"] = {
                    arm: rating(form.scale, code, *by_arm[arm], course)
                    for arm, course in person.outcomes_by_arm.items()
                }
            if epro and form.rater == "self_report" and form.timing != "pre_dose":
                own[form.scale] = answers
                for arm, alternative in extra.get("by_arm", {}).items():
                    own_by_arm.setdefault(arm, {})[form.scale] = alternative
                continue
            at = start + timedelta(minutes=5) if form.timing == "pre_dose" else t
            b.add(at, "form", role, visit=code, scale=form.scale, version=form.version,
                  answers=answers, assessed_at=at, **extra)  # fmt: skip
            t += timedelta(minutes=12)
        if own:  # the link is issued at the visit and answered on the site's tablet or phone
            b.add(t, "epro", INV, visit=code, answers=own, issued_at=t,
                  answered_at=t + timedelta(minutes=5 + 4 * len(own)),
                  **({"by_arm": own_by_arm} if own_by_arm else {}), **late)  # fmt: skip
            t += timedelta(minutes=10 + 4 * len(own))
        # a dosing day's results are taken before the session, with its pre-dose forms
        _plan_results(protocol, b, person, code, start + timedelta(minutes=5) if dosing else t)
        if code == design.eligibility_visit:
            rng.integers(-2, 3)  # the screening MADRS once typed in: drawn still, so seeds replay
            data = _eligible_data(rng, age)
            b.add(t + timedelta(minutes=30), "eligibility", INV, data=data)
        if code == design.enrol_visit:
            b.add(start + timedelta(minutes=5), "enrol", INV, enrolled_at=start)
            enrolled = True
        if protocol.enrolment is not None and code == protocol.enrolment.confirm_at:
            b.add(t + timedelta(minutes=30), "confirm", INV, confirmed_at=t + timedelta(minutes=30))
        if dosing is not None and enrolled:
            _plan_dosing_day(protocol, b, person, code, day, rng,
                             crossing=crossings.get(dosing.number),
                             not_before=start + timedelta(minutes=15))  # fmt: skip
        if code == design.termination_visit:
            b.add(t + timedelta(minutes=30), "status", INV, status="in_follow_up")
        if code == codes[-1]:
            b.add(t + timedelta(minutes=40), "status", INV, status="completed")


def _normal_value(test: ResultTest) -> float | str:
    """A value within the test's normal range (its midpoint), or its expected answer."""
    if test.expected is not None:
        return test.expected
    if test.low is not None and test.high is not None:
        return round((test.low + test.high) / 2, 1)
    if test.high is not None:
        return round(test.high * 0.9, 1)
    assert test.low is not None  # a numeric test has a limit (the protocol model checks)
    return round(test.low * 1.1, 1)


def _plan_results(
    protocol: Protocol, b: _Builder, person: PersonPlan, code: str, at: datetime
) -> None:
    """The results of the tests the protocol takes at ``code`` that apply to the person, each
    within its normal range (a simulated participant who reached the visit passed them)."""
    for test in protocol.results.tests:
        if code in test.visits and test.applies_to(person.sex):
            b.add(at, "result", INV, visit=code, test=test.code, value=_normal_value(test),
                  collected_at=at)  # fmt: skip


def _plan_dosing_day(
    protocol: Protocol,
    b: _Builder,
    person: PersonPlan,
    code: str,
    day: date,
    rng: np.random.Generator,
    *,
    crossing: tuple[str, str] | None,
    not_before: datetime,
) -> None:
    planned = protocol.dosing_session(code)
    if planned is None:  # pragma: no cover - only called for dosing visits
        return
    plan = planned.dose_for(None if len(protocol.arms) != 1 else protocol.arms[0].code)
    dose_factor = 1.0 + 0.25 * (planned.number - 1)
    # the session starts at 07:45, or after its visit's pre-dose forms and results when the
    # visit was moved later in the day (another visit on the same day came first)
    start = max(clock(day, 7 * 60 + 45), not_before)
    dose_at = start + timedelta(minutes=30)
    b.add(start, "start_session", THE, visit=code, started_at=start)
    low, high = planned.supplemental_offer_min
    supplemental_min = int(np.clip(120 + int(rng.integers(0, 16)), low, high))
    every = planned.vitals.timepoints_min()
    minutes = ([-15] if planned.vitals.pre_dose else []) + list(every)
    limits = {
        name: (limit.low, limit.high) for name, limit in protocol.vital_thresholds(code).items()
    }
    crossing_at: tuple[str, int] | None = None
    withheld = False
    if crossing is not None:
        kind, vital = crossing
        if kind == "withheld":
            before = [m for m in every if m <= supplemental_min]
            crossing_at = (vital, before[-1] if before else every[0])
            withheld = True
        else:
            after = [m for m in every if supplemental_min < m <= 240] or list(every)
            crossing_at = (vital, after[int(rng.integers(0, min(3, len(after))))])
    readings = vitals_series(
        minutes,
        rng,
        dose_factor=dose_factor,
        limits=limits,
        crossing=crossing_at,
        signs=planned.vitals.recorded_signs(),
    )
    strength = float(np.clip(rng.normal(1.0, 0.2), 0.5, 1.4))
    timepoints = list(planned.vas_timepoints)
    vas_times = {
        tp: (0 if i == 0 else supplemental_min - 5 if i == 1 else every[-1] - 10)
        for i, tp in enumerate(timepoints)
    }
    events: list[tuple[int, int, str, dict[str, Any]]] = []
    for r in readings:
        events.append((r.minute, 1, "vitals", {
            "visit": code, "measured_at": dose_at + timedelta(minutes=r.minute),
            "values": dict(r.values),
        }))  # fmt: skip
    events.append((0, 2, "dose", {"visit": code, "kind": "initial", "dose_mg": plan.initial_mg,
                                  "status": "given", "given_at": dose_at}))  # fmt: skip
    for i, tp in enumerate(timepoints):
        events.append((vas_times[tp], 3, "vas", {
            "visit": code, "timepoint": tp, "answers": vas_answers(i, strength, rng),
            "assessed_at": dose_at + timedelta(minutes=vas_times[tp]),
        }))  # fmt: skip
    if plan.supplemental_mg > 0:
        sup_at = dose_at + timedelta(minutes=supplemental_min)
        if withheld and crossing_at is not None:
            high_reading = next(r for r in readings if r.minute == crossing_at[1])
            value = high_reading.value(crossing_at[0])
            limit = limits[crossing_at[0]][1]
            label = crossing_at[0].replace("_bp", " blood pressure").replace("_", " ")
            reason = (
                f"{label} {value:g} at {crossing_at[1]} minutes (limit {limit:g}): the session "
                "physician withheld the supplemental dose"
            )
            args = {"visit": code, "kind": "supplemental", "dose_mg": plan.supplemental_mg,
                    "status": "withheld", "offered_at": sup_at,
                    "withheld_reason": reason}  # fmt: skip
        else:
            args = {"visit": code, "kind": "supplemental", "dose_mg": plan.supplemental_mg,
                    "status": "given", "given_at": sup_at}  # fmt: skip
        events.append((supplemental_min, 4, "dose", args))
    if planned.checklist is not None:
        # the checklist is completed after the pre-dose reading, just before the dose
        confirmed = [i.id for i in planned.checklist.items if i.kind == "confirm"]
        events.append((-5, 0, "checklist", {"visit": code, "confirmed": confirmed}))
    for minute, order, action, args in sorted(events, key=lambda e: (e[0], e[1])):
        role = INV if action == "dose" else THE
        # same-minute entries keep their order: vitals, dose, rating, supplemental dose
        at = dose_at + timedelta(minutes=minute, seconds=order)
        if action == "checklist":
            args = {**args, "completed_at": at}
        b.add(at, action, role, **args)
    end = dose_at + timedelta(minutes=every[-1] + 10)
    # the discharge criteria: the last reading is within the limits; the investigator signs off
    signed = end - timedelta(minutes=5)
    note = "alert and oriented, vital signs within the discharge limits, escort present"
    b.add(signed, "sign_off", INV, visit=code, signed_at=signed, note=note)
    b.add(end, "end_session", THE, visit=code, ended_at=end)
    if planned.follow_up_call is not None:
        call = clock(day + timedelta(days=planned.follow_up_call.day_offset), 10 * 60)
        b.add(call, "follow_up_call", THE, visit=code, status="done", called_at=call,
              note="slept, eating; no new symptoms")  # fmt: skip
    for ae in draw_adverse_events(rng, dose_factor):
        onset = day + timedelta(days=ae.onset_days)
        aware_at = end + timedelta(minutes=20) if ae.onset_days == 0 else clock(onset, 10 * 60)
        key = f"{person.index}-{code}-{ae.term}"
        b.add(aware_at, "adverse_event", INV, key=key, term=ae.term, onset_date=onset,
              severity=ae.severity, relatedness=ae.relatedness, outcome="not_recovered",
              action_taken="dose_not_changed", awareness_at=aware_at)  # fmt: skip
        ended = onset + timedelta(days=ae.duration_days)
        b.add(clock(ended + timedelta(days=1), 12 * 60), "update_adverse_event", INV, key=key,
              changes={"outcome": "recovered", "end_date": ended},
              reason=f"resolved on {ended.isoformat()}, reported at the next contact")  # fmt: skip
