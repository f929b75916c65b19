"""The dosing-day physiology covers every vital sign of the vocabulary and stays plausible."""

from __future__ import annotations

import numpy as np

from remit.protocol import VITAL_SIGN_CODES, VITAL_SIGNS
from remit.services.vitals import check_vitals
from remit.simulate.dosing_day import VITALS_MODEL, vitals_series


def test_every_vital_sign_has_a_model() -> None:
    assert tuple(VITALS_MODEL) == VITAL_SIGN_CODES


def test_a_series_of_every_sign_is_plausible_and_within_the_limits() -> None:
    minutes = [-15, *range(30, 481, 30)]
    limits = {"oxygen_saturation": (94.0, None), "respiratory_rate": (None, 22.0)}
    for seed in range(20):
        readings = vitals_series(
            minutes,
            np.random.default_rng(seed),
            dose_factor=1.25,
            limits=limits,
            signs=VITAL_SIGN_CODES,
        )
        assert [r.minute for r in readings] == minutes
        for r in readings:
            assert tuple(r.values) == VITAL_SIGN_CODES
            assert check_vitals(r.values) == r.values  # what the service would store
            assert r.values["oxygen_saturation"] >= 94
            assert r.values["respiratory_rate"] <= 22
            assert all(VITAL_SIGNS[s].plausible(v) for s, v in r.values.items())


def test_only_the_signs_asked_for_are_drawn() -> None:
    readings = vitals_series(
        [0, 60], np.random.default_rng(1), dose_factor=1.0, limits={}, signs=("heart_rate",)
    )
    assert [tuple(r.values) for r in readings] == [("heart_rate",), ("heart_rate",)]
