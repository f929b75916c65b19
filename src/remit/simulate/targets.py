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
