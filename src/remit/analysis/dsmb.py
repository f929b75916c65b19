"""The DSMB closed report's analysis: every arm shown only as a code ("Group A", "Group B").

A Data and Safety Monitoring Board reviews the trial by arm while it runs. The unblinded
statistician prepares the closed report with the arms coded and hands the key (which code is
which arm) over separately, so a report that goes astray does not unblind by itself.

:func:`draw_coding` draws the coding at random for each report (its seed is kept in the key);
:func:`coded_data` gives the unblinded data with each arm replaced by its code and no dose in
mg (a dose tells the arm); :func:`coded_protocol` the protocol as the closed report reads it:
one arm per code (labels "Group A" …, no description) and the plan reduced to what the DSMB
sees (the safety analyses). The protocol's text and SHA-256 stay its own.
"""

from __future__ import annotations

import math
import random
import secrets
import string
from dataclasses import dataclass
from typing import Any

from remit.analysis.data import FRAME_NAMES, TrialData
from remit.errors import InputError
from remit.protocol import Arm, Protocol
from remit.protocol.sap import SafetyAnalysis

__all__ = [
    "CODED_PREFIX",
    "EFFICACY_KINDS",
    "ArmCoding",
    "CodedArm",
    "coded_data",
    "coded_protocol",
    "draw_coding",
]

#: How a coded arm is named in the closed report: "Group A", "Group B" …
CODED_PREFIX = "Group "


@dataclass(frozen=True)
class CodedArm:
    """One code of the key: ``code`` ("A") stands for the protocol's ``arm`` (code, label)."""

    code: str
    arm: str
    arm_label: str

    @property
    def label(self) -> str:
        """The name the closed report prints: "Group A"."""
        return f"{CODED_PREFIX}{self.code}"


@dataclass(frozen=True)
class ArmCoding:
    """The key of one closed report: its id, the seed the coding was drawn with, and the codes
    in order (A, B, …), each with the arm it stands for.

    Examples
    --------
    >>> from remit.protocol import load_protocol
    >>> coding = draw_coding(load_protocol("mdma-mdd-rct-example"), seed=1, report_id="R1")
    >>> [c.label for c in coding.arms], sorted(c.arm for c in coding.arms)
    (['Group A', 'Group B'], ['MDMA', 'PLACEBO'])
    >>> coding.code_of(coding.arms[0].arm)
    'A'
    """

    report_id: str
    seed: int
    arms: tuple[CodedArm, ...]

    def code_of(self, arm: str) -> str:
        """The code standing for the protocol's arm ``arm``."""
        for c in self.arms:
            if c.arm == arm:
                return c.code
        raise InputError(
            f"arm {arm!r} is not in the coding of report {self.report_id}",
            expected="one of " + ", ".join(c.arm for c in self.arms),
        )

    def to_key(self) -> dict[str, Any]:
        """The key as JSON-ready data (what the key file holds besides the report's facts)."""
        return {
            "report_id": self.report_id,
            "seed": self.seed,
            "codes": [
                {"code": c.code, "label": c.label, "arm": c.arm, "arm_label": c.arm_label}
                for c in self.arms
            ],
        }


def draw_coding(
    protocol: Protocol, *, seed: int | None = None, report_id: str | None = None
) -> ArmCoding:
    """Draw which code stands for which arm of ``protocol``: a random order of the arms, coded
    A, B, … in that order. ``seed`` (default: 64 random bits from the system) makes the draw
    reproducible and is kept in the key; ``report_id`` (default: ``DSMB-`` and 8 random hex
    digits) names the report and its key.

    Examples
    --------
    >>> from remit.protocol import load_protocol
    >>> rct = load_protocol("mdma-mdd-rct-example")
    >>> draw_coding(rct, seed=7).arms == draw_coding(rct, seed=7).arms
    True
    >>> len({draw_coding(rct, seed=s).arms[0].arm for s in range(20)})
    2
    """
    if protocol.randomisation is None or len(protocol.arms) < 2:
        raise InputError(
            f"protocol {protocol.study.id} is not a randomised trial with two or more arms: "
            "there are no arms to code",
            expected="a protocol with [[arms]] (two or more) and [randomisation]",
            hint="the DSMB report of a one-arm trial is the ordinary report (remit report)",
        )
    if len(protocol.arms) > len(string.ascii_uppercase):
        raise InputError(
            f"protocol {protocol.study.id} has {len(protocol.arms)} arms; at most 26 are coded",
            expected="26 arms or fewer",
        )
    drawn = secrets.randbits(64) if seed is None else seed
    order = list(protocol.arms)
    random.Random(drawn).shuffle(order)
    coded = tuple(
        CodedArm(letter, a.code, a.label)
        for letter, a in zip(string.ascii_uppercase, order, strict=False)
    )
    return ArmCoding(
        report_id=report_id or f"DSMB-{secrets.token_hex(4)}",
        seed=drawn,
        arms=coded,
    )


def coded_data(data: TrialData, coding: ArmCoding) -> TrialData:
    """``data`` (unblinded: each participant's arm) with each arm replaced by its code and
    every dose in mg left empty; the other frames are copied as they are. A participant whose
    arm is not in the coding (never allocated) keeps no arm.

    Examples
    --------
    >>> import pandas as pd
    >>> from remit.analysis.examples import example_trial
    >>> from remit.protocol import load_protocol
    >>> data = example_trial()
    >>> data.participants["arm"] = ["MDMA", "PLACEBO"] * (len(data.participants) // 2) + [
    ...     "MDMA"] * (len(data.participants) % 2)
    >>> coding = draw_coding(load_protocol("mdma-mdd-rct-example"), seed=3)
    >>> coded = coded_data(data, coding)
    >>> sorted(set(coded.participants["arm"])), bool(coded.doses["dose_mg"].isna().all())
    (['A', 'B'], True)
    """
    codes = {c.arm: c.code for c in coding.arms}
    frames = {name: getattr(data, name).copy() for name in FRAME_NAMES}
    people = frames["participants"]
    people["arm"] = [codes.get(str(arm)) if isinstance(arm, str) else None for arm in people["arm"]]
    doses = frames["doses"]
    if len(doses):
        doses["dose_mg"] = math.nan
    return TrialData(**frames, simulated=data.simulated)


#: The analysis kinds the closed report shows by coded arm when the charter allows efficacy:
#: reference-based imputation is left out (its reference arm is the control, so it would tell
#: which code is the control), and regression to the mean is a one-arm question.
EFFICACY_KINDS: frozenset[str] = frozenset(
    {
        "descriptive",
        "wilcoxon",
        "mmrm",
        "effect_size",
        "proportion",
        "mcnemar",
        "time_to_event",
        "lmm",
    }
)

_KIND_LABELS = {
    "safety": "Safety tables",
    "descriptive": "Scale totals by visit",
    "wilcoxon": "Wilcoxon signed-rank tests",
    "mmrm": "MMRM of the change from baseline",
    "effect_size": "Within-subject effect sizes",
    "proportion": "Response and remission",
    "mcnemar": "Status transitions",
    "time_to_event": "Time to relapse",
    "lmm": "Linear mixed model",
}


def coded_protocol(
    protocol: Protocol, coding: ArmCoding, *, efficacy: bool | None = None
) -> Protocol:
    """``protocol`` as the closed report reads it: its arms replaced by the codes (in code
    order, the label "Group A" …, the ratio kept, no description), no arm's own doses, and the
    analysis plan reduced to its safety analyses, and its efficacy analyses of
    :data:`EFFICACY_KINDS` when ``efficacy`` (default: the protocol's ``[dsmb] efficacy``);
    each analysis is relabelled "… by coded arm" (the plan's labels may name the arms). The
    text and its SHA-256 stay the protocol's own.

    Examples
    --------
    >>> from remit.protocol import load_protocol
    >>> rct = load_protocol("mdma-mdd-rct-example")
    >>> coded = coded_protocol(rct, draw_coding(rct, seed=1))
    >>> [(a.code, a.label) for a in coded.arms]
    [('A', 'Group A'), ('B', 'Group B')]
    >>> [a.kind for a in coded.analysis.analyses], coded.sha256 == rct.sha256
    (['safety'], True)
    >>> [a.id for a in coded_protocol(rct, draw_coding(rct), efficacy=True).analysis.analyses]
    ['descriptive', 'mmrm', 'effect_size', 'responders', 'transitions', 'safety']
    """
    show_efficacy = protocol.dsmb.efficacy if efficacy is None else efficacy
    ratios = {a.code: a.ratio for a in protocol.arms}
    arms = tuple(
        Arm(code=c.code, label=c.label, ratio=ratios[c.arm], description="coded arm")
        for c in coding.arms
    )
    kept = [
        a
        for a in protocol.analysis.analyses
        if isinstance(a, SafetyAnalysis) or (show_efficacy and a.kind in EFFICACY_KINDS)
    ]
    if not any(isinstance(a, SafetyAnalysis) for a in kept):
        raise InputError(
            f"the analysis plan of protocol {protocol.study.id} has no safety analysis: the "
            "DSMB closed report has nothing to show",
            expected='an [[analysis.analyses]] of kind = "safety" with the tables to report',
            hint='add one, e.g. tables = ["adverse_events", "serious_adverse_events"]',
        )
    analyses = tuple(
        a.model_copy(update={"label": f"{_KIND_LABELS.get(a.kind, a.kind)} by coded arm"})
        for a in kept
    )
    plan = protocol.analysis.model_copy(update={"analyses": analyses})
    dosing = tuple(d.model_copy(update={"arm_doses": {}}) for d in protocol.dosing)
    return protocol.model_copy(update={"arms": arms, "analysis": plan, "dosing": dosing})
