"""Estimands (ICH E9(R1)): what a trial estimates, declared in ``[[estimands]]``.

An estimand names the population, the variable (an endpoint of the protocol), the treatment
conditions, the population-level summary, and each intercurrent event with the strategy that
handles it: ``treatment_policy`` (the outcome whatever happened), ``hypothetical`` (the outcome
had the event not occurred), ``composite`` (the event is part of the outcome, e.g. counted as a
non-response), ``while_on_treatment`` (the outcome up to the event) or ``principal_stratum``
(the effect in those in whom the event would not occur). The analysis plan maps it to its main
estimator (``analysis``, an analysis id) and to sensitivity analyses (``sensitivity``), e.g. a
hypothetical estimand to an MMRM under missing at random with reference-based imputation and a
tipping-point analysis as sensitivity. :mod:`remit.protocol.check_estimands` checks that the
pieces fit (``P040``).
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import Field

from remit.protocol._base import _Model
from remit.protocol.vocab import EstimandSummary, IceStrategy

#: Analysis kinds that can serve each intercurrent-event strategy as the main estimator, and
#: why (the words the protocol check prints). ``rbmi`` serves ``hypothetical`` only under
#: ``mar``; reference-based strategies (``j2r``, ``cr``, ``cir``) model the outcome after
#: the event as the reference arm's, an approximation of ``treatment_policy``.
STRATEGY_ANALYSES: Mapping[str, frozenset[str]] = {
    "treatment_policy": frozenset(
        {"mmrm", "lmm", "rbmi", "wilcoxon", "effect_size", "proportion", "mcnemar", "time_to_event"}
    ),
    "hypothetical": frozenset({"mmrm", "lmm", "rbmi"}),
    "composite": frozenset({"proportion", "mcnemar", "time_to_event"}),
    "while_on_treatment": frozenset({"mmrm", "lmm", "descriptive", "effect_size", "wilcoxon"}),
    "principal_stratum": frozenset(),
}


class IntercurrentEvent(_Model):
    """An intercurrent event and the strategy that handles it.

    ``event`` is a short identifier (e.g. ``treatment_discontinuation``, ``rescue_medication``,
    ``relapse``); ``rationale`` says why the strategy suits the question.
    """

    event: str = Field(min_length=1)
    label: str = ""
    strategy: IceStrategy
    rationale: str | None = None


class Estimand(_Model):
    """One estimand of the protocol.

    Examples
    --------
    >>> e = Estimand(id="primary", label="MADRS change at V13", population="enrolled",
    ...              endpoint="madrs_change_v13", treatment="MDMA-assisted therapy",
    ...              summary="mean", analysis="mmrm",
    ...              intercurrent_events=[{"event": "treatment_discontinuation",
    ...                                    "strategy": "hypothetical"}])
    >>> e.intercurrent_events[0].strategy, e.sensitivity
    ('hypothetical', ())
    """

    id: str
    label: str
    population: str = Field(min_length=1)
    endpoint: str
    treatment: str = Field(min_length=1)
    summary: EstimandSummary
    intercurrent_events: tuple[IntercurrentEvent, ...] = ()
    analysis: str
    sensitivity: tuple[str, ...] = ()
    assumption: str | None = None

    def describe(self) -> str:
        """The estimand in one sentence, for the methods section.

        Examples
        --------
        >>> from remit.protocol import load_protocol
        >>> e = load_protocol("oslo-mdma-mdd").estimands[0]
        >>> e.describe().split("; ")[-2:]
        ['main analysis mmrm', 'sensitivity tipping_v13, lmm_random_slope.']
        """
        events = ", ".join(
            f"{ice.label or ice.event} — {ice.strategy.replace('_', ' ')}"
            for ice in self.intercurrent_events
        )
        return (
            f"{self.id} ({self.label}): population {self.population}; variable "
            f"{self.endpoint}; treatment {self.treatment}; summary "
            f"{self.summary.replace('_', ' ')}; intercurrent events: {events or 'none declared'}"
            f"; main analysis {self.analysis}"
            + (f"; sensitivity {', '.join(self.sensitivity)}" if self.sensitivity else "")
            + "."
        )
