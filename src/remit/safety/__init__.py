"""Pure safety rules (scale rule tiers, tiered vital-sign limits, SAE clocks) returning alerts.

Examples
--------
>>> from remit.protocol import load_protocol
>>> from remit.safety import evaluate_vitals
>>> evaluate_vitals(load_protocol("oslo-mdma-mdd"), "V5", {"heart_rate": 80}).alerts
()
"""

from remit.protocol.vocab import LEVELS
from remit.safety.missed import VAS_DUE, missed_slots
from remit.safety.rules import (
    Alert,
    SAEClock,
    SafetyResult,
    VitalFinding,
    evaluate_score,
    evaluate_vitals,
    level_rank,
    sae_alert,
    sae_clock,
    worst_first,
)

__all__ = [
    "LEVELS",
    "VAS_DUE",
    "Alert",
    "SAEClock",
    "SafetyResult",
    "VitalFinding",
    "evaluate_score",
    "evaluate_vitals",
    "level_rank",
    "missed_slots",
    "sae_alert",
    "sae_clock",
    "worst_first",
]
