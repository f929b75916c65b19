"""The vital-sign vocabulary is declared once, and a protocol's vital-sign section obeys it."""

from __future__ import annotations

from typing import get_args

import pytest
from pydantic import ValidationError

from remit.errors import InputError
from remit.protocol import (
    VITAL_SIGN_CODES,
    VITAL_SIGNS,
    Vitals,
    VitalSign,
    load_protocol,
    vital_sign,
)
from remit.protocol.vocab import VitalSign as VocabVitalSign


def test_the_literal_and_the_declaration_name_the_same_signs_in_order() -> None:
    assert get_args(VitalSign) == VITAL_SIGN_CODES
    assert VocabVitalSign is VitalSign
    assert tuple(VITAL_SIGNS) == VITAL_SIGN_CODES
    assert all(code == sign.code for code, sign in VITAL_SIGNS.items())


def test_each_sign_has_distinct_cdisc_terms_and_a_sound_plausible_range() -> None:
    signs = list(VITAL_SIGNS.values())
    assert len({s.testcd for s in signs}) == len(signs)
    assert {s.code: s.testcd for s in signs} == {
        "systolic_bp": "SYSBP",
        "diastolic_bp": "DIABP",
        "heart_rate": "PULSE",
        "temperature": "TEMP",
        "respiratory_rate": "RESP",
        "oxygen_saturation": "OXYSAT",
    }
    for s in signs:
        assert s.low < s.high
        assert len(s.testcd) <= 8  # SDTM --TESTCD
        assert s.decimals == (0 if s.integer else 1)
        assert all((s.label, s.unit, s.test, s.sdtm_unit))


def test_unknown_sign_is_an_input_error_naming_the_known_ones() -> None:
    with pytest.raises(InputError, match="'pulse_ox' is not a vital sign") as caught:
        vital_sign("pulse_ox")
    assert "oxygen_saturation" in str(caught.value)
    assert vital_sign("respiratory_rate").sdtm_unit == "breaths/min"


def test_signs_read_are_the_sessions_or_every_sign() -> None:
    oslo = load_protocol("oslo-mdma-mdd")
    assert oslo.dosing[0].vitals.recorded_signs() == (
        "systolic_bp",
        "diastolic_bp",
        "heart_rate",
        "temperature",
    )
    chosen = Vitals(
        every_min=30,
        until_min=60,
        signs=("oxygen_saturation", "heart_rate"),
    )
    assert chosen.recorded_signs() == ("heart_rate", "oxygen_saturation")
    assert Vitals(every_min=30, until_min=60).recorded_signs() == VITAL_SIGN_CODES


@pytest.mark.parametrize(
    ("values", "says"),
    [
        ({"signs": ["pulse_ox"]}, "pulse_ox"),
        ({"thresholds": {"heart_rate": {"high": 100}}}, "thresholds"),  # now [safety.vitals]
    ],
)
def test_a_vitals_section_that_contradicts_the_vocabulary_is_refused(
    values: dict[str, object], says: str
) -> None:
    with pytest.raises(ValidationError, match=says):
        Vitals.model_validate({"every_min": 30, "until_min": 60, **values})
