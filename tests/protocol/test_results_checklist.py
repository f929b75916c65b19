"""The protocol's clinical results (``[[results.tests]]``) and pre-dose checklists
(``[dosing.checklist]``): the model, interpretation against the normal range, and P014 for a
test's unknown visit (P036 and P037 are provoked in ``test_protocol_check.py``)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from remit.protocol import load_protocol
from remit.protocol.check import check_model
from remit.protocol.results import ResultTest


def test_the_builtin_protocols_declare_results_and_checklists() -> None:
    for name in ("oslo-mdma-mdd", "mdma-mdd-rct-example"):
        p = load_protocol(name)
        assert {"urine_drug_screen", "pregnancy_test", "ecg_qtc"} <= {
            t.code for t in p.results.tests
        }
        for session in p.dosing:
            assert session.checklist is not None
            kinds = {i.kind.value for i in session.checklist.items}
            assert kinds == {
                "result", "vitals", "cssrs", "no_prohibited_medication", "consent_current",
                "confirm",
            }  # fmt: skip
        assert check_model(p) == []
    assert load_protocol("oslo-mdma-mdd").results.test("pregnancy_test").sexes == ("F",)


@pytest.mark.parametrize(
    ("value", "interpretation"),
    [(3.49, "low"), (3.5, "normal"), (5.0, "normal"), (5.01, "high")],
)
def test_a_value_at_a_limit_is_within_the_range(value: float, interpretation: str) -> None:
    potassium = load_protocol("oslo-mdma-mdd").results.test("potassium")
    assert potassium.interpret(value) == interpretation


def test_a_test_needs_a_range_or_an_expected_answer() -> None:
    with pytest.raises(ValidationError, match="give a normal range"):
        ResultTest(code="x", label="X", kind="lab")
    with pytest.raises(ValidationError, match="not both"):
        ResultTest(code="x", label="X", kind="lab", high=3, expected="negative")
    with pytest.raises(ValidationError, match="not below high"):
        ResultTest(code="x", label="X", kind="lab", low=3, high=3)
    ecg = ResultTest(code="rhythm", label="Rhythm", kind="ecg", expected="normal")
    assert (ecg.interpret("normal"), ecg.interpret("abnormal")) == ("normal", "abnormal")


def test_p014_a_result_test_at_an_unknown_visit() -> None:
    oslo = load_protocol("oslo-mdma-mdd")
    tests = tuple(
        t.model_copy(update={"visits": ("SCR", "V99")}) if t.code == "tsh" else t
        for t in oslo.results.tests
    )
    bent = oslo.model_copy(update={"results": oslo.results.model_copy(update={"tests": tests})})
    found = [p for p in check_model(bent) if p.code == "P014"]
    assert len(found) == 1
    assert "result test 'tsh' refers to visit 'V99'" in found[0].what
