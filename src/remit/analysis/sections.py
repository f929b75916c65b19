"""One function per kind of analysis in the plan; each calls :mod:`remit.stats` and keeps what
it returned (raw result objects and their tidy rows, unrounded).

The runners live in small modules by kind; this module maps each kind to its runner."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from remit.analysis.binary_sections import CI_METHODS, run_mcnemar, run_proportion
from remit.analysis.context import Context
from remit.analysis.mmrm_section import run_mmrm
from remit.analysis.paired_sections import (
    pick_wilcoxon_p,
    run_descriptive,
    run_effect_size,
    run_wilcoxon,
    wilcoxon_convention,
)
from remit.analysis.result import SectionResult
from remit.analysis.rtm_section import reliability_grid, run_rtm

SECTION_RUNNERS: dict[str, Callable[[Any, Context], SectionResult]] = {
    "descriptive": run_descriptive,
    "wilcoxon": run_wilcoxon,
    "mmrm": run_mmrm,
    "effect_size": run_effect_size,
    "proportion": run_proportion,
    "mcnemar": run_mcnemar,
    "rtm": run_rtm,
}

__all__ = [
    "CI_METHODS",
    "SECTION_RUNNERS",
    "Context",
    "pick_wilcoxon_p",
    "reliability_grid",
    "wilcoxon_convention",
]
