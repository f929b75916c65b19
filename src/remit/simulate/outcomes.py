"""Primary and secondary outcome totals per participant, calibrated to the targets.

How the numbers are made (honest and deterministic, documented in ``docs/demo.md``):

1. Baseline MADRS totals are drawn from a normal distribution, standardised so that the sample
   has exactly the target mean and SD, rounded, then nudged by ±1 steps until the sum equals
   ``round(n × mean)`` and the SD is as close as whole numbers allow.
2. Each participant gets a course: ``sustained`` (remitter at the primary visit and at
   follow-up), ``relapse`` (remitter who loses remission and response by follow-up) or
   ``non_responder`` (less than the response reduction at both visits).
3. Primary-visit totals are drawn within each course's bounds, then nudged by ±1 steps (staying
   within those bounds) until the sum of changes equals ``round(n × target change)``.
4. SDS follows the MADRS course with noise; its changes are calibrated the same way.

Nothing is retried with other seeds: every seed lands on the targets by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from remit.simulate.targets import Targets

Course = Literal["sustained", "relapse", "non_responder"]


@dataclass(frozen=True)
class OutcomeCourse:
    """One participant's totals at baseline, the primary visit and the follow-up."""

    course: Course
    madrs: tuple[int, int, int]
    sds: tuple[int, int, int]


@dataclass(frozen=True)
class Thresholds:
    """The protocol's endpoint definitions the generator must respect."""

    response_reduction_pct: float = 50.0
    remission_max: int = 10
    entry_min: int = 20

    def responder(self, baseline: int, value: int) -> bool:
        """Whether ``value`` is a response relative to ``baseline``."""
        return (baseline - value) / baseline * 100 >= self.response_reduction_pct

    def non_response_floor(self, baseline: int) -> int:
        """The lowest total that is neither a response nor a remission."""
        low = self.remission_max + 1
        while self.responder(baseline, low):
            low += 1
        return low


def _nudge_to_sum(
    values: np.ndarray, low: np.ndarray, high: np.ndarray, target: int, rng: np.random.Generator
) -> np.ndarray:
    """Move entries by ±1 within [low, high] until they sum to ``target``."""
    out = values.astype(int).copy()
    for _ in range(10_000):
        gap = target - int(out.sum())
        if gap == 0:
            return out
        step = 1 if gap > 0 else -1
        room = np.flatnonzero(out < high) if step > 0 else np.flatnonzero(out > low)
        if room.size == 0:
            break
        out[rng.choice(room)] += step
    raise RuntimeError(f"cannot reach the sum {target} within the bounds")  # pragma: no cover


def _tune_sd(
    values: np.ndarray,
    target_sd: float,
    low: np.ndarray,
    high: np.ndarray,
    offset: np.ndarray | None = None,
) -> np.ndarray:
    """Pairs of +1/−1 moves within [low, high] (sum unchanged) that bring the sample SD of
    ``values - offset`` closer to ``target_sd``."""
    out = values.astype(int).copy()
    base = np.zeros_like(out) if offset is None else offset.astype(int)

    def sd_of(v: np.ndarray) -> float:
        return float(np.std(v - base, ddof=1))

    for _ in range(500):
        sd = sd_of(out)
        shifted = out - base
        up = np.flatnonzero(out < high)
        down = np.flatnonzero(out > low)
        if up.size == 0 or down.size == 0:
            break
        if sd < target_sd:  # spread: raise the largest, lower the smallest
            i = int(up[np.argmax(shifted[up])])
            j = int(down[np.argmin(shifted[down])])
        else:  # compress: raise the smallest, lower the largest
            i = int(up[np.argmin(shifted[up])])
            j = int(down[np.argmax(shifted[down])])
        if i == j:
            break
        trial = out.copy()
        trial[i] += 1
        trial[j] -= 1
        if abs(sd_of(trial) - target_sd) >= abs(sd - target_sd):
            break
        out = trial
    return out


def draw_baseline(targets: Targets, rng: np.random.Generator, entry_min: int) -> np.ndarray:
    """Baseline MADRS totals with exactly the target sum and (nearly) the target SD."""
    n = targets.n_enrolled
    z = rng.standard_normal(n)
    z = (z - z.mean()) / z.std(ddof=1)
    raw = targets.baseline_madrs_mean + targets.baseline_madrs_sd * z
    low, high = max(entry_min, 12), 54
    values = np.clip(np.rint(raw), low, high).astype(int)
    total = round(n * targets.baseline_madrs_mean)
    lows, highs = np.full(n, low), np.full(n, high)
    values = _nudge_to_sum(values, lows, highs, total, rng)
    return _tune_sd(values, targets.baseline_madrs_sd, lows, highs)


def assign_courses(targets: Targets, rng: np.random.Generator) -> list[Course]:
    """Who remits and stays well, who relapses, who does not respond (random order)."""
    sustained: list[Course] = ["sustained"]
    relapse: list[Course] = ["relapse"]
    non_responder: list[Course] = ["non_responder"]
    courses = (
        sustained * (targets.n_remitters - targets.n_relapses)
        + relapse * targets.n_relapses
        + non_responder * (targets.n_enrolled - targets.n_remitters)
    )
    return [courses[i] for i in rng.permutation(len(courses))]


def draw_outcomes(
    targets: Targets, rng: np.random.Generator, thresholds: Thresholds | None = None
) -> list[OutcomeCourse]:
    """MADRS and SDS totals at baseline, primary visit and follow-up for every participant."""
    th = thresholds or Thresholds()
    n = targets.n_enrolled
    base = draw_baseline(targets, rng, th.entry_min)
    courses = assign_courses(targets, rng)
    remits = np.array([c != "non_responder" for c in courses])

    # primary visit: remitters within [0, remission_max]; non-responders above the floor
    low = np.where(remits, 0, [th.non_response_floor(int(b)) for b in base])
    high = np.where(remits, th.remission_max, base + 2)
    post = np.where(
        remits,
        np.rint(rng.normal(5.5, 2.5, n)),
        np.rint(base * (1 - rng.uniform(0.15, 0.45, n))),
    )
    post = np.clip(post, low, high).astype(int)
    change_sum = round(n * targets.madrs_change_mean)
    post = _nudge_to_sum(post, low, high, int(base.sum()) + change_sum, rng)
    post = _tune_sd(post, targets.madrs_change_se * np.sqrt(n), low, high, offset=base)

    # follow-up: remitters stay within remission (small drift), a relapse loses remission and
    # response, non-responders stay ill
    follow = np.empty(n, dtype=int)
    for i, course in enumerate(courses):
        b, p = int(base[i]), int(post[i])
        floor = th.non_response_floor(b)
        if course == "sustained":
            follow[i] = int(np.clip(p + round(rng.normal(0, 2)), 0, th.remission_max))
        elif course == "relapse":
            follow[i] = floor + int(rng.integers(0, 6))
        else:
            follow[i] = int(np.clip(p + round(rng.normal(0.5, 2.5)), floor, 54))

    sds_base = np.clip(np.rint(rng.normal(targets.sds_baseline_mean, 3.5, n)), 12, 30).astype(int)

    def sds_at(madrs: np.ndarray, noise: float) -> np.ndarray:
        ratio = madrs / base
        value = sds_base * (0.05 + 0.95 * ratio) + rng.normal(0, noise, n)
        clipped: np.ndarray = np.clip(np.rint(value), 0, 30).astype(int)
        return clipped

    sds_post = sds_at(post, 3.0)
    sds_low, sds_high = np.zeros(n, dtype=int), np.minimum(sds_base + 2, 30)
    sds_target = int(sds_base.sum()) + round(n * targets.sds_change_mean)
    sds_post = _nudge_to_sum(sds_post, sds_low, sds_high, sds_target, rng)
    sds_post = _tune_sd(
        sds_post, targets.sds_change_se * np.sqrt(n), sds_low, sds_high, offset=sds_base
    )
    sds_follow = sds_at(follow, 3.0)
    return [
        OutcomeCourse(
            course=courses[i],
            madrs=(int(base[i]), int(post[i]), int(follow[i])),
            sds=(int(sds_base[i]), int(sds_post[i]), int(sds_follow[i])),
        )
        for i in range(n)
    ]


def rebase(course: OutcomeCourse, on: OutcomeCourse) -> OutcomeCourse:
    """``course``'s changes from its baseline applied to the baselines of ``on``: the same
    person's outcome under another arm (the potential outcome), so both arms share one
    baseline and differ only after randomisation."""
    m0, s0 = on.madrs[0], on.sds[0]
    madrs = tuple(int(np.clip(m0 + v - course.madrs[0], 0, 60)) for v in course.madrs)
    sds = tuple(int(np.clip(s0 + v - course.sds[0], 0, 30)) for v in course.sds)
    return OutcomeCourse(course.course, (m0, madrs[1], madrs[2]), (s0, sds[1], sds[2]))
