"""The safety rules of every built-in protocol against their written truth tables, and the
mutation check: taking out any one rule makes the truth tables fail (so every rule is tested).

The rule list is the protocol's own (:meth:`remit.protocol.Safety.rule_ids`): a rule added to
a built-in protocol without a truth-table row fails ``test_every_rule_has_a_row``.
"""

from __future__ import annotations

import pytest
from tests.safety.truth_tables import failures, rows, rule_ids_with_rows

from remit.protocol import Protocol, builtin_protocols, load_protocol

BUILTIN = sorted(builtin_protocols())
MUTANTS = [(name, rule) for name in BUILTIN for rule in load_protocol(name).safety.rule_ids()]


def _without(protocol: Protocol, rule_id: str) -> Protocol:
    return protocol.model_copy(update={"safety": protocol.safety.without(rule_id)})


@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_protocol_passes_its_truth_tables(name: str) -> None:
    assert failures(load_protocol(name)) == []


@pytest.mark.parametrize("name", BUILTIN)
def test_every_rule_has_a_row(name: str) -> None:
    untested = [r for r in load_protocol(name).safety.rule_ids() if r not in rule_ids_with_rows()]
    assert untested == [], f"rules of {name} with no truth-table row: {untested}"


@pytest.mark.parametrize(("name", "rule_id"), MUTANTS, ids=[f"{n}-{r}" for n, r in MUTANTS])
def test_taking_out_one_rule_fails_the_truth_tables(name: str, rule_id: str) -> None:
    protocol = load_protocol(name)
    mutant = _without(protocol, rule_id)
    assert rule_id not in mutant.safety.rule_ids()
    assert len(mutant.safety.rule_ids()) == len(protocol.safety.rule_ids()) - 1
    assert failures(mutant), f"no truth-table row notices that {rule_id} is gone"


def test_the_tables_hold_every_boundary_of_every_tier() -> None:
    """Each vital-sign tier at limit −step / = / +step, each scale tier at −1 / = / +1."""
    readings = {
        (sign, value)
        for row in rows()
        if hasattr(row, "reading") and len(row.reading) == 1
        for sign, value in row.reading.items()
    }
    assert {("systolic_bp", v) for v in (179, 180, 181, 79, 80, 81)} <= readings
    assert {("temperature", v) for v in (38.9, 39.0, 39.1, 34.9, 35.0, 35.1)} <= readings
    names = {getattr(row, "what", "") for row in rows()}
    assert {f"MADRS item 10 = {v}" for v in range(1, 7)} <= names
    assert {f"BDI-II item 9 = {v}" for v in range(4)} <= names
    assert {f"C-SSRS type {t}" for t in range(6)} <= names


def test_a_changed_limit_is_noticed_too() -> None:
    oslo = load_protocol("oslo-mdma-mdd")
    vitals = oslo.safety.vitals
    assert vitals is not None
    moved = vitals.limits["systolic_bp"].model_copy(
        update={"high": {"review": 150, "urgent": 161, "immediate": 180}}
    )
    safety = oslo.safety.model_copy(
        update={
            "vitals": vitals.model_copy(update={"limits": {**vitals.limits, "systolic_bp": moved}})
        }
    )
    found = failures(oslo.model_copy(update={"safety": safety}))
    assert found == [
        "V3 {'systolic_bp': 161.0}: expected [('vitals:systolic_bp:high:urgent', 'urgent')], "
        "got [('vitals:systolic_bp:high:review', 'review')]"
    ]
