"""Enter a planned synthetic trial through the services, step by step in time order.

Every step is one service call by a user holding the right role (the independent rater enters
MADRS, therapists run dosing days, investigators screen, enrol, record adverse events and
handle alerts …), so the audit trail, visit windows, deviations and safety alerts are the real
ones; the readings of vital signs a therapist takes between a session's other events are
entered together, as from a monitor sheet (one call of
:func:`remit.services.record_vitals_series`). Alerts raised by a step are acknowledged and
closed by the investigator with a note, as a site would.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from remit import services as sv
from remit.errors import InputError
from remit.protocol import Protocol
from remit.services import Actor, Engine
from remit.simulate.plan import INV, RAT, THE, CohortPlan, Step, plan_cohort
from remit.simulate.targets import OSLO_TARGETS, Targets

#: Roles the simulation acts in.
ROLES_NEEDED: tuple[str, ...] = (INV, THE, RAT)

#: What the investigator notes when handling an alert, by rule.
ALERT_NOTES: Mapping[str, tuple[str, str]] = {
    "cssrs_behaviour": (
        "participant seen the same hour; safety plan reviewed with the participant",
        "no attempt; safety plan and follow-up agreed with the participant and GP",
    ),
    "cssrs_ideation_2_3": (
        "clinician review the same day",
        "reviewed; no intent or plan; safety plan updated",
    ),
    "cssrs_ideation_4_5": ("urgent clinician response", "assessed by the on-call psychiatrist"),
    "cssrs_intensity_up": ("noted for review", "reviewed at the visit"),
    "madrs_item10": ("clinician review the same day", "reviewed; no intent"),
}
#: Notes for a rule without its own entry: the scale rules' tiers and the vital signs.
_SCALE_NOTES = ("reviewed at the visit", "no intent or plan; follow-up as planned")
_VITALS_NOTES = (
    "session physician informed; participant resting, repeat reading in 15 minutes",
    "values back within limits at the next reading; no treatment needed",
)


@dataclass(frozen=True)
class SimulatedParticipant:
    """One simulated person as entered: study ID, sex, course and screening outcome."""

    participant_id: str
    sex: str
    enrolled: bool
    course: str
    screen_failure: str | None
    madrs: tuple[int, int, int] | None
    sds: tuple[int, int, int] | None
    #: The arm allocated (randomised simulations; ``None`` otherwise).
    arm: str | None = None


@dataclass(frozen=True)
class SimulationResult:
    """What :func:`simulate_trial` entered.

    Attributes
    ----------
    participants
        Everyone screened, in study-ID order.
    n_calls
        Service calls made (each one audited transaction).
    actions
        Service calls by kind.
    alerts
        Alerts raised, by safety rule.
    start_date, end_date
        First and last simulated date.
    targets
        The aggregates the generator aimed at.
    """

    participants: tuple[SimulatedParticipant, ...]
    n_calls: int
    actions: Mapping[str, int]
    alerts: Mapping[str, int]
    start_date: date
    end_date: date
    targets: Targets

    @property
    def n_screened(self) -> int:
        """People screened."""
        return len(self.participants)

    @property
    def n_enrolled(self) -> int:
        """People enrolled."""
        return sum(p.enrolled for p in self.participants)

    @property
    def n_allocated(self) -> int:
        """People randomised (0 for a single-arm protocol)."""
        return sum(p.arm is not None for p in self.participants)

    def to_frame(self) -> pd.DataFrame:
        """One row per person screened."""
        rows = []
        for p in self.participants:
            madrs = p.madrs or (None, None, None)
            sds = p.sds or (None, None, None)
            rows.append(
                {
                    "participant_id": p.participant_id,
                    "sex": p.sex,
                    "enrolled": p.enrolled,
                    "course": p.course,
                    "screen_failure": p.screen_failure,
                    "madrs_baseline": madrs[0],
                    "madrs_primary": madrs[1],
                    "madrs_followup": madrs[2],
                    "sds_baseline": sds[0],
                    "sds_primary": sds[1],
                    "sds_followup": sds[2],
                    **({"arm": p.arm} if self.n_allocated else {}),
                }
            )
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """Plain values (participants as records)."""
        return {
            "n_screened": self.n_screened,
            "n_enrolled": self.n_enrolled,
            "n_calls": self.n_calls,
            "actions": dict(self.actions),
            "alerts": dict(self.alerts),
            "start_date": self.start_date.isoformat(),
            "end_date": self.end_date.isoformat(),
            "targets": self.targets.to_dict(),
            "participants": self.to_frame().to_dict(orient="records"),
        }

    def summary(self) -> str:
        """A few lines of text."""
        failures = Counter(p.screen_failure for p in self.participants if p.screen_failure)
        alerts = ", ".join(f"{k} {v}" for k, v in sorted(self.alerts.items())) or "none"
        return "\n".join(
            [
                f"SIMULATED trial: {self.n_screened} screened, {self.n_enrolled} enrolled "
                f"({self.start_date} to {self.end_date}); {self.n_calls} service calls",
                "screen failures: " + ", ".join(f"{k} {v}" for k, v in sorted(failures.items())),
                "alerts: " + alerts,
            ]
        )


def find_staff(engine: Engine) -> dict[str, Actor]:
    """An actor for each role the simulation acts in: the first active user holding the role
    study-wide, else the first holding it at a site (then acting at that site)."""
    users = sv.list_users(engine, Actor.system("remit-simulate"))
    chosen: dict[str, tuple[str, str | None]] = {}
    for study_wide in (True, False):
        for user in users:
            if not user.active:
                continue
            for role, site in user.roles:
                if role in ROLES_NEEDED and role not in chosen and (site is None) == study_wide:
                    chosen[role] = (user.username, site)
    missing = [r for r in ROLES_NEEDED if r not in chosen]
    if missing:
        raise InputError(
            "the trial has no user with the role " + ", ".join(missing),
            expected="one user per role: " + ", ".join(ROLES_NEEDED),
            hint="add them (remit.services.add_user) or pass staff= to simulate_trial",
        )
    return {
        role: sv.actor_for(engine, username, role, site)
        for role, (username, site) in chosen.items()
    }


def _as_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def simulate_trial(
    engine: Engine,
    protocol: Protocol,
    *,
    rng: np.random.Generator | int | None,
    start_date: date,
    progress: Callable[[int, int], None] | None = None,
    targets: Targets = OSLO_TARGETS,
    staff: Mapping[str, Actor] | None = None,
    missed: Mapping[int, Sequence[str]] | None = None,
    arm_targets: Mapping[str, Targets] | None = None,
    unblinded: Actor | None = None,
    epro: bool = False,
) -> SimulationResult:
    """Make a synthetic trial resembling ``targets`` and enter it through the services.

    Parameters
    ----------
    engine
        A migrated database holding the trial (created with the same protocol) and users
        with the roles investigator, therapist and independent rater.
    protocol
        The protocol in force in that database.
    rng
        Seed or generator: the same seed gives the same participants, dates and answers.
    start_date
        The first referral date.
    progress
        Called as ``progress(done, total)`` after each service call.
    targets
        The aggregates to resemble (default: the published Oslo study).
    staff
        Role → actor; by default the first study-wide user of each role.
    missed
        Visits participants miss on purpose, by enrolment number (see
        :func:`remit.simulate.plan_cohort`).
    arm_targets
        For a randomised protocol: the targets of each arm after the first (the outcome
        under the first arm follows ``targets``); see :func:`remit.simulate.plan_cohort`.
    unblinded
        With ``arm_targets``: an unblinded statistician. The simulation plays nature: what a
        participant's ratings become depends on what was in their kits, so after each
        allocation it reads the arm (:func:`remit.services.list_allocations`, an audited
        read by that actor). Staff steps never see it: doses are entered as the blinded
        protocol dose, and everything else is the same under every arm.
    epro
        Participants answer their self-report forms through ePRO links
        (:func:`remit.services.issue_epro_link` by the investigator, then
        :func:`remit.services.submit_epro_forms` with the token), at the simulated times.

    Returns
    -------
    SimulationResult
        Everyone screened, calls made and alerts raised. Every participant is stored with
        ``simulated = True``.
    """
    generator = _as_rng(rng)
    actors = dict(staff) if staff is not None else find_staff(engine)
    if arm_targets and unblinded is None:
        raise InputError(
            "a randomised simulation needs an unblinded actor to learn each allocation",
            expected="unblinded=<an unblinded statistician's Actor> with arm_targets",
        )
    plan = plan_cohort(
        protocol,
        targets,
        rng=generator,
        start_date=start_date,
        missed=missed,
        arm_targets=arm_targets,
        epro=epro,
    )
    runner = _Runner(engine, actors, plan, unblinded if arm_targets else None)
    total = len(plan.steps)
    done = 0
    for group in _calls(plan.steps):
        if len(group) == 1:
            runner.run(group[0])
        else:
            runner.run_vitals(group)
        done += len(group)
        if progress is not None:
            progress(done, total)
    people = []
    for person in plan.people:
        arm = runner.arms.get(runner.ids[person.index])
        outcome = person.outcomes_by_arm.get(arm, person.outcome) if arm else person.outcome
        people.append(
            SimulatedParticipant(
                participant_id=runner.ids[person.index],
                sex=person.sex,
                enrolled=person.enrolled,
                course=outcome.course if outcome else "screen_failure",
                screen_failure=person.screen_failure,
                madrs=outcome.madrs if outcome else None,
                sds=outcome.sds if outcome else None,
                arm=runner.arms.get(runner.ids[person.index]),
            )
        )
    people.sort(key=lambda p: p.participant_id)
    return SimulationResult(
        participants=tuple(people),
        n_calls=runner.calls,
        actions=dict(sorted(runner.actions.items())),
        alerts=dict(sorted(runner.alerts.items())),
        start_date=plan.steps[0].at.date(),
        end_date=plan.steps[-1].at.date(),
        targets=targets,
    )


def _calls(steps: Sequence[Step]) -> Iterator[list[Step]]:
    """The steps as service calls: each step alone, except consecutive readings of vital
    signs of one person at one visit by one user (a dosing session's readings between its
    other events), which are entered together (:func:`remit.services.record_vitals_series`).
    Nothing else happens between them, so the rows stored are those one-by-one entry stores;
    only the audit trail's order differs: an alert a reading raised is acknowledged and closed
    after the series, not before the next reading."""
    group: list[Step] = []
    for step in steps:
        if (
            group
            and step.action == "vitals"
            and group[-1].action == "vitals"
            and (step.person, step.role, step.args["visit"])
            == (group[-1].person, group[-1].role, group[-1].args["visit"])
        ):
            group.append(step)
            continue
        if group:
            yield group
        group = [step]
    if group:
        yield group


class _Runner:
    """Turns steps into service calls; remembers study IDs and adverse-event ids."""

    def __init__(
        self,
        engine: Engine,
        staff: Mapping[str, Actor],
        plan: CohortPlan,
        unblinded: Actor | None = None,
    ) -> None:
        self.engine = engine
        self.unblinded = unblinded
        self.arms: dict[str, str] = {}
        self.confirms = any(step.action == "confirm" for step in plan.steps)
        self.staff = staff
        self.plan = plan
        self.ids: dict[int, str] = {}
        self.aes: dict[str, int] = {}
        self.conmeds: dict[str, int] = {}
        self.calls = 0
        self.actions: Counter[str] = Counter()
        self.alerts: Counter[str] = Counter()

    def run(self, step: Step) -> None:
        actor = self.staff[step.role]
        a = dict(step.args)
        e = self.engine
        self.calls += 1
        self.actions[step.action] += 1
        if step.action == "screen":
            record = sv.screen_participant(e, actor, simulated=True, **a)
            self.ids[step.person] = record.participant_id
            return
        pid = self.ids[step.person]
        raised: tuple[sv.AlertRecord, ...] = ()
        match step.action:
            case "consent":
                sv.record_consent(e, actor, pid, **a)
            case "anchor":
                sv.set_anchor_date(e, actor, pid, a["anchor"], a["anchor_date"])
            case "visit":
                sv.record_visit(
                    e, actor, pid, a["visit"], a["day"], window_reason=a.get("window_reason")
                )
            case "missed":
                sv.mark_visit_missed(e, actor, pid, a["visit"], reason=a["reason"])
            case "eligibility":
                sv.check_eligibility(e, actor, pid, a["data"])
            case "enrol":
                sv.enrol(e, actor, pid, enrolled_at=a["enrolled_at"])
                if not self.confirms:  # randomised at enrolment
                    self._learn_arm(pid)
            case "confirm":
                sv.confirm_enrolment(e, actor, pid, confirmed_at=a["confirmed_at"])
                self._learn_arm(pid)
            case "form":
                arm = self.arms.get(pid)
                answers = a["by_arm"][arm] if arm and "by_arm" in a else a["answers"]
                raised = sv.record_assessment(
                    e, actor, pid, a["visit"], a["scale"], answers,
                    version=a["version"], assessed_at=a.get("assessed_at") or step.at,
                ).alerts  # fmt: skip
            case "epro":
                arm = self.arms.get(pid)
                answers = a["by_arm"][arm] if arm and "by_arm" in a else a["answers"]
                issued = sv.issue_epro_link(
                    e, actor, pid, a["visit"], mode="handover", now=a["issued_at"],
                    window_reason=a.get("window_reason"),
                )  # fmt: skip
                submitted = sv.submit_epro_forms(e, issued.token, answers, now=a["answered_at"])
                raised = tuple(alert for form in submitted.forms for alert in form.alerts)
                self.calls += 1
                self.actions["submit_epro_forms"] += 1
            case "start_session":
                sv.start_dosing_session(e, actor, pid, a["visit"], started_at=a["started_at"])
            case "vitals":
                visit = a.pop("visit")
                raised = sv.record_vitals(e, actor, pid, visit, **a).alerts
            case "result":
                raised = sv.record_result(
                    e, actor, pid, a["visit"], a["test"], a["value"],
                    collected_at=a["collected_at"],
                ).alerts  # fmt: skip
            case "checklist":
                sv.complete_checklist(
                    e, actor, pid, a["visit"], completed_at=a["completed_at"],
                    confirmed=a["confirmed"],
                )  # fmt: skip
            case "dose":
                visit = a.pop("visit")
                sv.record_dose(e, actor, pid, visit, **a)
            case "vas":
                raised = sv.record_vas(
                    e, actor, pid, a["visit"], a["timepoint"], a["answers"],
                    assessed_at=a["assessed_at"],
                ).alerts  # fmt: skip
            case "sign_off":
                sv.sign_off_discharge(
                    e, actor, pid, a["visit"], signed_at=a["signed_at"], note=a["note"]
                )
            case "end_session":
                sv.end_dosing_session(e, actor, pid, a["visit"], ended_at=a["ended_at"])
            case "follow_up_call":
                visit = a.pop("visit")
                sv.record_follow_up_call(e, actor, pid, visit, **a)
            case "adverse_event":
                key = a.pop("key")
                self.aes[key] = sv.record_adverse_event(e, actor, pid, **a).id
            case "update_adverse_event":
                sv.update_adverse_event(
                    e, actor, self.aes[a["key"]], changes=a["changes"], reason=a["reason"]
                )
            case "status":
                sv.change_status(e, actor, pid, a["status"])
            case "conmed" | "edit_conmed" | "stop_conmed" | "deviation":
                self._medication_or_deviation(step.action, actor, pid, a)
            case _:  # pragma: no cover - the plan only makes the actions above
                raise InputError(f"unknown simulation step {step.action!r}")
        for alert in raised:
            self._handle(alert)

    def run_vitals(self, steps: Sequence[Step]) -> None:
        """Readings of one person at one visit by one user, in one call; the alerts they raise
        are handled afterwards, in the order of the readings."""
        first = steps[0]
        actor = self.staff[first.role]
        pid = self.ids[first.person]
        self.calls += 1
        self.actions[first.action] += 1
        readings = [
            sv.VitalsEntry(measured_at=s.args["measured_at"], values=s.args["values"])
            for s in steps
        ]
        records = sv.record_vitals_series(self.engine, actor, pid, first.args["visit"], readings)
        for record in records:
            for alert in record.alerts:
                self._handle(alert)

    def _learn_arm(self, pid: str) -> None:
        """Nature's view: the arm ``pid`` was allocated, read by the unblinded actor."""
        if self.unblinded is None or pid in self.arms:
            return
        for a in sv.list_allocations(self.engine, self.unblinded):
            self.arms.setdefault(a.participant_id, a.arm)
        self.calls += 1
        self.actions["view_allocations"] += 1

    def _medication_or_deviation(
        self, action: str, actor: Actor, pid: str, a: dict[str, Any]
    ) -> None:
        """Steps of :mod:`remit.simulate.medications`: medications by key, logged deviations."""
        e = self.engine
        if action == "conmed":
            key = a.pop("key")
            self.conmeds[key] = sv.record_conmed(e, actor, pid, **a).id
        elif action == "edit_conmed":
            conmed = self.conmeds[a["key"]]
            sv.edit_conmed(e, actor, conmed, reason=a["reason"], taper_steps=a["taper_steps"])
        elif action == "stop_conmed":
            conmed = self.conmeds[a["key"]]
            sv.stop_conmed(e, actor, conmed, stop_date=a["stop_date"], reason=a["reason"])
        else:
            sv.record_deviation(e, actor, pid, **a)

    def _handle(self, alert: sv.AlertRecord) -> None:
        """The investigator acknowledges and closes an alert with a note."""
        self.alerts[alert.rule_id] += 1
        fallback = _VITALS_NOTES if alert.rule_id.startswith("vitals:") else _SCALE_NOTES
        acknowledged, closed = ALERT_NOTES.get(alert.rule_id, fallback)
        investigator = self.staff[INV]
        sv.acknowledge_alert(self.engine, investigator, alert.id, note=acknowledged)
        sv.close_alert(self.engine, investigator, alert.id, note=closed)
        self.calls += 2
        self.actions["acknowledge_alert"] += 1
        self.actions["close_alert"] += 1
