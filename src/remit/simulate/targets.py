"""The published aggregates a synthetic trial is built to resemble.

The defaults are the Norwegian MDMA-AT study (``reference/oslo-study.md``): 12 enrolled, 7 women,
baseline MADRS 29.6 (SD 4.9), mean change to the primary visit −19.3 (SE 2.4), 9 responders
and 9 remitters after treatment, 8 sustained at the follow-up, 1 relapse, SDS change −11.7.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from remit.errors import InputError


@dataclass(frozen=True)
class Targets:
    """What the generator aims at (each number is hit by calibration, not by chance).

    Attributes
    ----------
    n_enrolled, n_women
        Participants enrolled and how many of them are women.
    n_screen_failures
        People screened who fail an eligibility criterion (each for a real reason).
    baseline_madrs_mean, baseline_madrs_sd
        Mean and sample SD of MADRS at the baseline visit.
    madrs_change_mean, madrs_change_se
        Mean change baseline → primary visit and its standard error (SD / √n).
    n_remitters
        Responders who are also remitters at the primary visit (the study had 9 and 9: the
        same people). The others (``n_enrolled - n_remitters``) are non-responders.
    n_relapses
        Remitters at the primary visit who lose remission and response by the follow-up.
    sds_baseline_mean, sds_change_mean, sds_change_se
        Sheehan Disability Scale total at baseline, its mean change to the primary visit and
        the standard error of that change.
    n_vital_crossings
        Dosing sessions with a reading beyond a vital-sign threshold.
    """

    n_enrolled: int = 12
    n_women: int = 7
    n_screen_failures: int = 9
    baseline_madrs_mean: float = 29.6
    baseline_madrs_sd: float = 4.9
    madrs_change_mean: float = -19.3
    madrs_change_se: float = 2.4
    n_remitters: int = 9
    n_relapses: int = 1
    sds_baseline_mean: float = 21.0
    sds_change_mean: float = -11.7
    sds_change_se: float = 2.2
    n_vital_crossings: int = 5

    def __post_init__(self) -> None:
        if self.n_enrolled < 4:
            raise InputError(
                f"n_enrolled {self.n_enrolled} is too small to simulate",
                expected="at least 4 enrolled participants",
            )
        if not 0 <= self.n_women <= self.n_enrolled:
            raise InputError(
                f"n_women {self.n_women} is not between 0 and n_enrolled {self.n_enrolled}"
            )
        non_responders = self.n_enrolled - self.n_remitters
        if self.n_remitters < 1 or non_responders < 2:
            raise InputError(
                f"n_remitters {self.n_remitters} of {self.n_enrolled}",
                expected="at least 1 remitter and 2 non-responders",
            )
        if not 0 <= self.n_relapses < self.n_remitters:
            raise InputError(
                f"n_relapses {self.n_relapses}", expected=f"0 to {self.n_remitters - 1}"
            )
        if not 20 <= self.baseline_madrs_mean <= 45 or not 0 < self.baseline_madrs_sd <= 10:
            raise InputError(
                f"baseline MADRS {self.baseline_madrs_mean} (SD {self.baseline_madrs_sd})",
                expected="a mean of 20 to 45 (moderate to severe) and an SD of at most 10",
            )

    def to_dict(self) -> dict[str, Any]:
        """The targets as plain values."""
        return asdict(self)


#: The published aggregates of the Norwegian study.
OSLO_TARGETS = Targets()

#: The MADRS change the RCT demo assumes under placebo with the same therapy (an assumption:
#: no placebo arm was published for the Oslo design; placebo-plus-therapy arms of MDMA and
#: psilocybin trials improved by roughly 8 to 12 MADRS points).
PLACEBO_MADRS_CHANGE = -9.0
#: Remitters at the primary visit under placebo, as a share of the cohort (an assumption).
PLACEBO_REMISSION_SHARE = 0.25
#: The SDS change the RCT demo assumes under placebo (an assumption, in proportion to MADRS).
PLACEBO_SDS_CHANGE = -5.5


def rct_targets(n_enrolled: int) -> tuple[Targets, Targets]:
    """The RCT demo's targets for ``n_enrolled`` randomised people: (MDMA, placebo).

    Under MDMA each person's course follows the Oslo study's aggregates scaled to
    ``n_enrolled`` (the same baseline, change −19.3 with the same SD of change, three in four
    remitting); under placebo the change from the same baseline is :data:`PLACEBO_MADRS_CHANGE`
    (SDS :data:`PLACEBO_SDS_CHANGE`) with :data:`PLACEBO_REMISSION_SHARE` remitting. The
    assumed treatment difference is therefore about −10.3 MADRS points at the primary visit.
    Each person is allocated one arm, so each arm shows about half of its cohort's course.

    Examples
    --------
    >>> mdma, placebo = rct_targets(24)
    >>> mdma.n_remitters, placebo.n_remitters, placebo.madrs_change_mean
    (18, 6, -9.0)
    """
    if n_enrolled < 4:
        raise InputError(
            f"{n_enrolled} participants are too few for the randomised demo",
            expected="at least 4 enrolled participants (2 per arm on average)",
        )
    o = OSLO_TARGETS
    scale = n_enrolled / o.n_enrolled
    sd_change = o.madrs_change_se * o.n_enrolled**0.5
    sds_sd = o.sds_change_se * o.n_enrolled**0.5
    common = {
        "n_enrolled": n_enrolled,
        "n_women": round(o.n_women * scale),
        "n_screen_failures": round(o.n_screen_failures * scale),
        "madrs_change_se": sd_change / n_enrolled**0.5,
        "sds_change_se": sds_sd / n_enrolled**0.5,
        "n_vital_crossings": min(o.n_vital_crossings, n_enrolled),
    }
    mdma_remitters = min(round(o.n_remitters / o.n_enrolled * n_enrolled), n_enrolled - 2)
    mdma = Targets(
        **common,
        madrs_change_mean=o.madrs_change_mean,
        sds_change_mean=o.sds_change_mean,
        n_remitters=mdma_remitters,
        n_relapses=min(max(round(o.n_relapses * scale), 0), mdma_remitters - 1),
    )
    placebo_remitters = max(1, min(round(PLACEBO_REMISSION_SHARE * n_enrolled), n_enrolled - 2))
    placebo = Targets(
        **common,
        madrs_change_mean=PLACEBO_MADRS_CHANGE,
        sds_change_mean=PLACEBO_SDS_CHANGE,
        n_remitters=placebo_remitters,
        n_relapses=min(1, placebo_remitters - 1),
    )
    return mdma, placebo
