"""The blinded (pooled) analysis of a randomised trial: both arms together, no arm shown.

A blinded role's data carry no arm (``arm`` is :data:`BLINDED_ARM` or empty for every
participant), so the plan's by-arm analyses cannot be run. :func:`pooled_protocol` turns the
protocol into the one a blinded reader's analysis runs: a single pooled arm
(:data:`POOLED_LABEL`), the MMRM formulas without their ``arm`` terms (change from baseline
by visit), no between-arm contrasts, no reference arm for reference-based imputation, and each
analysis labelled as pooled. The protocol's text, hash, randomisation and blinding are kept,
so the result still names the protocol it was run with.
"""

from __future__ import annotations

from remit.analysis.data import TrialData
from remit.protocol import Arm, Protocol
from remit.protocol.sap import MMRMAnalysis, RbmiAnalysis

__all__ = ["BLINDED_ARM", "POOLED_LABEL", "arms_concealed", "pooled_protocol"]

#: The arm a blinded reader's data carry (the services' mask of a randomised participant).
BLINDED_ARM = "BLINDED"
#: How the pooled arm and every pooled analysis is named in results and the report.
POOLED_LABEL = "blinded (pooled) — arms not shown"


def arms_concealed(data: TrialData, protocol: Protocol) -> bool:
    """Whether ``data`` of a randomised ``protocol`` hide every enrolled participant's arm
    (a blinded reader's data: each arm :data:`BLINDED_ARM` or empty).

    Examples
    --------
    >>> from remit.analysis.examples import example_trial
    >>> from remit.protocol import load_protocol
    >>> data = example_trial()
    >>> arms_concealed(data, load_protocol("oslo-mdma-mdd"))
    False
    >>> data.participants["arm"] = BLINDED_ARM
    >>> arms_concealed(data, load_protocol("mdma-mdd-rct-example"))
    True
    """
    if protocol.randomisation is None:
        return False
    people = data.participants
    arms = people.loc[people["participant_id"].isin(set(data.enrolled_ids)), "arm"]
    return not bool((arms.notna() & (arms != BLINDED_ARM)).any())


def _pooled_formula(formula: str) -> str:
    # imported here: the services read BLINDED_ARM without loading the MMRM code (SciPy)
    from remit.stats.mmrm import formula_without

    return formula_without(formula, "arm") or "visit"


def pooled_protocol(protocol: Protocol) -> Protocol:
    """``protocol`` as a blinded (pooled) analysis reads it: one arm, :data:`BLINDED_ARM`.

    The MMRM models change from baseline by visit without an arm term (``baseline + arm *
    visit`` becomes ``baseline + visit``) and estimates each visit's change from baseline
    (``visit_vs_baseline``); reference-based imputation has no reference arm; every label
    says the analysis is pooled. The text and its SHA-256 stay the protocol's own.

    Examples
    --------
    >>> from remit.protocol import load_protocol
    >>> pooled = pooled_protocol(load_protocol("mdma-mdd-rct-example"))
    >>> mmrm = next(a for a in pooled.analysis.analyses if a.id == "mmrm")
    >>> [a.code for a in pooled.arms], mmrm.formula, mmrm.contrasts
    (['BLINDED'], 'baseline + visit', ('visit_vs_baseline',))
    >>> pooled.sha256 == load_protocol("mdma-mdd-rct-example").sha256
    True
    """
    analyses = []
    for a in protocol.analysis.analyses:
        update: dict[str, object] = {"label": f"{a.label} [{POOLED_LABEL}: both arms together]"}
        if isinstance(a, MMRMAnalysis):
            update["formula"] = _pooled_formula(a.formula)
            update["contrasts"] = ("visit_vs_baseline",)
        if isinstance(a, RbmiAnalysis):
            update["reference"] = None
        analyses.append(a.model_copy(update=update))
    plan = protocol.analysis.model_copy(update={"analyses": tuple(analyses)})
    arm = Arm(code=BLINDED_ARM, label=POOLED_LABEL, description="both arms together")
    return protocol.model_copy(update={"arms": (arm,), "analysis": plan})
