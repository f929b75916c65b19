"""Trial-agnostic statistics on arrays and long-format data frames.

Nothing here knows what a participant, a visit code or a scale is: arguments are columns
(``y=``, ``subject=``, ``visit=``, ``group=``) or arrays. Functions never print and never round.

The names below are imported when first used (``remit.stats.fit_mmrm``), not when the
package is: ``import remit.stats.choices`` (the option words the command line lists) loads
neither NumPy nor SciPy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from remit.lazy import lazy_attributes

if TYPE_CHECKING:
    from remit.stats.compare import PairedComparisonResult as PairedComparisonResult
    from remit.stats.compare import compare_paired as compare_paired
    from remit.stats.effect_size import EffectSizeResult as EffectSizeResult
    from remit.stats.effect_size import hedges_j as hedges_j
    from remit.stats.effect_size import noncentral_t_ci as noncentral_t_ci
    from remit.stats.effect_size import paired_effect_sizes as paired_effect_sizes
    from remit.stats.mcnemar import McNemarResult as McNemarResult
    from remit.stats.mcnemar import mcnemar_exact as mcnemar_exact
    from remit.stats.mixed import LMMResult as LMMResult
    from remit.stats.mixed import fit_lmm as fit_lmm
    from remit.stats.mmrm import MMRMResult as MMRMResult
    from remit.stats.mmrm import fit_mmrm as fit_mmrm
    from remit.stats.multinomial import MultinomialResult as MultinomialResult
    from remit.stats.multinomial import fit_multinomial as fit_multinomial
    from remit.stats.paired import HodgesLehmannResult as HodgesLehmannResult
    from remit.stats.paired import PairedTResult as PairedTResult
    from remit.stats.paired import WilcoxonResult as WilcoxonResult
    from remit.stats.paired import hodges_lehmann as hodges_lehmann
    from remit.stats.paired import paired_t as paired_t
    from remit.stats.paired import wilcoxon_signed_rank as wilcoxon_signed_rank
    from remit.stats.power import MMRMPowerResult as MMRMPowerResult
    from remit.stats.power import power_mmrm as power_mmrm
    from remit.stats.power import sample_size_mmrm as sample_size_mmrm
    from remit.stats.power_sim import SimulatedPowerResult as SimulatedPowerResult
    from remit.stats.power_sim import simulate_power_mmrm as simulate_power_mmrm
    from remit.stats.proportion import ProportionCIResult as ProportionCIResult
    from remit.stats.proportion import proportion_ci as proportion_ci
    from remit.stats.randomisation import AllocationBalanceResult as AllocationBalanceResult
    from remit.stats.randomisation import Minimiser as Minimiser
    from remit.stats.randomisation import RandomisationListResult as RandomisationListResult
    from remit.stats.randomisation import allocation_balance as allocation_balance
    from remit.stats.randomisation import permuted_block_list as permuted_block_list
    from remit.stats.randomisation import simple_list as simple_list
    from remit.stats.randomisation import stratum_label as stratum_label
    from remit.stats.rbmi import RbmiResult as RbmiResult
    from remit.stats.rbmi import TippingPointResult as TippingPointResult
    from remit.stats.rbmi import rbmi_bayes as rbmi_bayes
    from remit.stats.rbmi import rbmi_condmean as rbmi_condmean
    from remit.stats.rbmi import tipping_point as tipping_point
    from remit.stats.rtm import RegressionToMeanResult as RegressionToMeanResult
    from remit.stats.rtm import regression_to_mean as regression_to_mean
    from remit.stats.survival import KaplanMeierResult as KaplanMeierResult
    from remit.stats.survival import kaplan_meier as kaplan_meier

#: Each public name → the module that defines it.
_WHERE: dict[str, str] = {
    "PairedComparisonResult": "remit.stats.compare",
    "compare_paired": "remit.stats.compare",
    "EffectSizeResult": "remit.stats.effect_size",
    "hedges_j": "remit.stats.effect_size",
    "noncentral_t_ci": "remit.stats.effect_size",
    "paired_effect_sizes": "remit.stats.effect_size",
    "McNemarResult": "remit.stats.mcnemar",
    "mcnemar_exact": "remit.stats.mcnemar",
    "LMMResult": "remit.stats.mixed",
    "fit_lmm": "remit.stats.mixed",
    "MMRMResult": "remit.stats.mmrm",
    "fit_mmrm": "remit.stats.mmrm",
    "MultinomialResult": "remit.stats.multinomial",
    "fit_multinomial": "remit.stats.multinomial",
    "HodgesLehmannResult": "remit.stats.paired",
    "PairedTResult": "remit.stats.paired",
    "WilcoxonResult": "remit.stats.paired",
    "hodges_lehmann": "remit.stats.paired",
    "paired_t": "remit.stats.paired",
    "wilcoxon_signed_rank": "remit.stats.paired",
    "MMRMPowerResult": "remit.stats.power",
    "power_mmrm": "remit.stats.power",
    "sample_size_mmrm": "remit.stats.power",
    "SimulatedPowerResult": "remit.stats.power_sim",
    "simulate_power_mmrm": "remit.stats.power_sim",
    "ProportionCIResult": "remit.stats.proportion",
    "proportion_ci": "remit.stats.proportion",
    "AllocationBalanceResult": "remit.stats.randomisation",
    "Minimiser": "remit.stats.randomisation",
    "RandomisationListResult": "remit.stats.randomisation",
    "allocation_balance": "remit.stats.randomisation",
    "permuted_block_list": "remit.stats.randomisation",
    "simple_list": "remit.stats.randomisation",
    "stratum_label": "remit.stats.randomisation",
    "RbmiResult": "remit.stats.rbmi",
    "TippingPointResult": "remit.stats.rbmi",
    "rbmi_bayes": "remit.stats.rbmi",
    "rbmi_condmean": "remit.stats.rbmi",
    "tipping_point": "remit.stats.rbmi",
    "RegressionToMeanResult": "remit.stats.rtm",
    "regression_to_mean": "remit.stats.rtm",
    "KaplanMeierResult": "remit.stats.survival",
    "kaplan_meier": "remit.stats.survival",
}

__all__ = sorted(_WHERE)

__getattr__, __dir__ = lazy_attributes(globals(), _WHERE)
