"""The synthetic-trial plan (no database): calibrated outcomes, item answers, screen failures,
visit dates, the safety story, determinism."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import numpy as np
import pytest

from remit.errors import InputError
from remit.protocol import compute_schedule, evaluate_eligibility, load_protocol
from remit.scales import score
from remit.simulate import OSLO_TARGETS, CohortPlan, Targets, draw_outcomes, plan_cohort
from remit.simulate.answers import split_total
from remit.simulate.outcomes import Thresholds

OSLO = load_protocol("oslo-mdma-mdd")
START = date(2022, 11, 7)


def _plan(seed: int) -> CohortPlan:
    return plan_cohort(OSLO, OSLO_TARGETS, rng=np.random.default_rng(seed), start_date=START)


def _madrs_totals(plan: CohortPlan) -> dict[int, dict[str, int]]:
    """MADRS totals per person and visit, scored from the item answers the plan enters."""
    found: dict[int, dict[str, int]] = {}
    for step in plan.steps:
        if step.action == "form" and step.args["scale"] == "madrs":
            total = score("madrs", step.args["answers"]).total
            assert total is not None
            found.setdefault(step.person, {})[step.args["visit"]] = int(total)
    return found


@pytest.mark.parametrize("seed", [1, 7, 2023])
def test_planned_forms_land_on_the_published_aggregates(seed: int) -> None:
    plan = _plan(seed)
    totals = _madrs_totals(plan)
    assert len(totals) == 12
    base = np.array([t["V3"] for t in totals.values()])
    post = np.array([t["V13"] for t in totals.values()])
    follow = np.array([t["FU7"] for t in totals.values()])
    assert abs(base.mean() - 29.6) <= 0.5
    assert abs(base.std(ddof=1) - 4.9) <= 0.7
    assert abs((post - base).mean() - (-19.3)) <= 1.0
    responders = (base - post) / base >= 0.5
    remitters = post <= 10
    assert responders.sum() == 9
    assert remitters.sum() == 9
    assert ((base - follow) / base >= 0.5).sum() == 8
    assert (follow <= 10).sum() == 8
    assert (remitters & (follow > 10)).sum() == 1
    # the three non-responders stay ill
    assert not ((~responders) & ((base - follow) / base >= 0.5)).any()
    sexes = Counter(p.sex for p in plan.people if p.enrolled)
    assert sexes == {"female": 7, "male": 5}


def test_outcomes_hit_the_sums_exactly_for_any_seed() -> None:
    for seed in range(20):
        courses = draw_outcomes(OSLO_TARGETS, np.random.default_rng(seed))
        base = np.array([c.madrs[0] for c in courses])
        post = np.array([c.madrs[1] for c in courses])
        sds = np.array([c.sds for c in courses])
        assert base.sum() == round(12 * 29.6)
        assert (post - base).sum() == round(12 * -19.3)
        assert (sds[:, 1] - sds[:, 0]).sum() == round(12 * -11.7)
        assert base.min() >= 20  # the protocol's entry cut-off
        assert abs((post - base).std(ddof=1) / np.sqrt(12) - 2.4) < 0.3


def test_the_same_seed_gives_the_same_plan_and_another_seed_another() -> None:
    assert _plan(11) == _plan(11)
    assert _plan(11).steps != _plan(12).steps


def test_every_form_scores_and_item_10_never_raises_an_alert_by_accident() -> None:
    plan = _plan(3)
    for step in plan.steps:
        if step.action == "form":
            result = score(step.args["scale"], step.args["answers"], version=step.args["version"])
            assert result.n_missing == 0 or step.args["scale"] == "cssrs"
            if step.args["scale"] == "madrs":
                assert step.args["answers"]["suicidal_thoughts"] <= 3
        if step.action == "vas":
            assert score("se_vas", step.args["answers"]).n_missing == 0


def test_screen_failures_fail_their_own_criterion_and_participants_pass() -> None:
    plan = _plan(5)
    failures = {p.index: p.screen_failure for p in plan.people if not p.enrolled}
    assert len(failures) == 9
    assert len(set(failures.values())) >= 8
    checked = 0
    for step in plan.steps:
        if step.action != "eligibility":
            continue
        verdict = evaluate_eligibility(OSLO, step.args["data"])
        assert verdict.complete
        if step.person in failures:
            unmet = [c.id for c in verdict.criteria if c.status == "unmet"]
            assert unmet == [failures[step.person]]
        else:
            assert verdict.eligible
        checked += 1
    assert checked == 21


def test_visit_dates_lie_mostly_within_the_protocol_windows() -> None:
    plan = _plan(9)
    dates: dict[int, dict[str, date]] = {}
    for step in plan.steps:
        if step.action == "visit":
            dates.setdefault(step.person, {})[step.args["visit"]] = step.args["day"]
    inside = outside = 0
    for person in plan.people:
        if not person.enrolled:
            continue
        schedule = compute_schedule(OSLO, {"referral": person.referral_date}, dates[person.index])
        for visit in schedule.visits:
            assert visit.timing is not None
            if visit.timing.status != "out_of_window":
                inside += 1
            else:
                outside += 1
    assert inside + outside == 12 * len(OSLO.visits)
    assert outside / (inside + outside) < 0.05


def test_steps_are_in_time_order_and_each_person_starts_with_screening() -> None:
    plan = _plan(4)
    times = [s.at for s in plan.steps]
    assert times == sorted(times)
    first = {}
    for step in plan.steps:
        first.setdefault(step.person, step.action)
    assert set(first.values()) == {"screen"}
    assert plan.steps[0].at.date() >= START


def test_safety_story_preparatory_act_withheld_dose_and_crossings() -> None:
    plan = _plan(2023)
    by_person = {p.index: p for p in plan.people}
    prep = [
        s
        for s in plan.steps
        if s.action == "form"
        and s.args["scale"] == "cssrs"
        and s.args["answers"].get("preparatory_behaviour") is True
    ]
    assert len(prep) == 1
    who = by_person[prep[0].person]
    assert who.outcome is not None
    assert who.outcome.course == "non_responder"
    baseline = next(
        s
        for s in plan.steps
        if s.person == who.index and s.action == "form" and s.args["version"] == "baseline"
    )
    assert baseline.args["answers"]["actual_attempt_lifetime"] is True
    withheld = [s for s in plan.steps if s.action == "dose" and s.args["status"] == "withheld"]
    assert len(withheld) == 1
    assert "withheld the supplemental dose" in withheld[0].args["withheld_reason"]
    serious = [s for s in plan.steps if s.action == "adverse_event" and s.args.get("serious")]
    assert serious == []


def test_split_total_respects_caps_and_sums() -> None:
    rng = np.random.default_rng(0)
    for total in range(0, 57):
        parts = split_total(total, [1.2, 1, 0.5, 0.4, 1, 1, 1, 1, 1, 0.5], [6] * 9 + [2], rng)
        assert sum(parts) == total
        assert max(parts[:9]) <= 6
        assert min(parts) >= 0
        assert parts[9] <= 2
    with pytest.raises(ValueError, match="cannot be split"):
        split_total(13, [1, 1], [6, 6], rng)


def test_targets_are_checked() -> None:
    with pytest.raises(InputError, match="non-responders"):
        Targets(n_enrolled=12, n_remitters=11)
    with pytest.raises(InputError, match="n_women"):
        Targets(n_women=13)
    with pytest.raises(InputError, match="baseline MADRS"):
        Targets(baseline_madrs_mean=12)


def test_a_missed_visit_is_planned_without_its_forms() -> None:
    plan = plan_cohort(
        OSLO, OSLO_TARGETS, rng=np.random.default_rng(1), start_date=START, missed={0: ["V13"]}
    )
    first = next(p for p in plan.people if p.enrolled)
    mine = [s for s in plan.steps if s.person == first.index]
    assert [s.args["visit"] for s in mine if s.action == "missed"] == ["V13"]
    assert not [s for s in mine if s.action == "form" and s.args["visit"] == "V13"]
    with pytest.raises(InputError, match="cannot be missed"):
        plan_cohort(OSLO, OSLO_TARGETS, rng=1, start_date=START, missed={0: ["V5"]})


def test_thresholds_floor_is_neither_response_nor_remission() -> None:
    th = Thresholds()
    for baseline in range(20, 50):
        floor = th.non_response_floor(baseline)
        assert floor > 10
        assert not th.responder(baseline, floor)
        assert th.responder(baseline, floor - 1) or floor - 1 <= 10


@pytest.mark.parametrize("seed", [1, 7, 2023])
def test_planned_antidepressants_are_tapered_and_stopped_before_the_washout_ends(
    seed: int,
) -> None:
    plan = _plan(seed)
    first_dose: dict[int, date] = {}
    stops: dict[str, tuple[int, date]] = {}
    recorded: dict[str, dict[str, object]] = {}
    tapers: dict[str, list[tuple[str, str]]] = {}
    for step in plan.steps:
        a = step.args
        if step.action == "dose" and a["status"] == "given":
            first_dose.setdefault(step.person, a["given_at"].date())
        elif step.action == "conmed":
            recorded[a["key"]] = dict(a)
        elif step.action == "edit_conmed":
            assert a["key"] in recorded  # the taper plan is given to a medication recorded before
            tapers[a["key"]] = list(a["taper_steps"])
        elif step.action == "stop_conmed":
            stops[a["key"]] = (step.person, a["stop_date"])
    enrolled = [p.index for p in plan.people if p.enrolled]
    assert len(tapers) == round(0.5 * len(enrolled))
    assert set(tapers) == set(stops)
    for key, (person, stop) in stops.items():
        cls = OSLO.medications.prohibited_class(str(recorded[key]["atc_code"]))
        assert cls is not None
        days = [date.fromisoformat(d) for d, _ in tapers[key]]
        assert days == sorted(days)
        assert days[-1] <= stop
        assert stop + timedelta(days=cls.washout_days) < first_dose[person]
    # allowed medications are never in a prohibited class, and never tapered
    for key, args in recorded.items():
        if key not in tapers:
            assert OSLO.medications.prohibited_class(str(args["atc_code"])) is None


def test_every_planned_form_and_consent_has_its_clinical_time() -> None:
    plan = _plan(2023)
    consented: dict[int, object] = {}
    for step in plan.steps:
        if step.action == "consent":
            consented[step.person] = step.args["consented_at"]
        if step.action == "form":
            # screen failures' forms too: the clinical time is the step's own time
            assert step.args.get("assessed_at") == step.at
            assert consented[step.person] <= step.at  # type: ignore[operator]
    logged = [s for s in plan.steps if s.action == "deviation"]
    assert {(s.args["category"], s.args["severity"]) for s in logged} == {
        ("informed_consent", "minor"),
        ("procedure", "major"),
    }


def test_the_medication_plan_leaves_every_other_planned_value_of_a_seed_as_it_was(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from remit.simulate import plan as plan_module

    own = {"conmed", "edit_conmed", "stop_conmed", "deviation"}
    full = _plan(7)
    assert full.steps == _plan(7).steps  # deterministic by seed
    monkeypatch.setattr(plan_module, "_plan_medications_and_deviations", lambda *a, **k: [])
    without = _plan(7)
    assert not any(s.action in own for s in without.steps)
    assert [s for s in full.steps if s.action not in own] == list(without.steps)
