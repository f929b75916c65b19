"""Every small-sample, LMM and power result is frozen and offers to_frame/to_dict/summary."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

import remit.stats as st

BEFORE = [30, 28, 35, 31, 27, 33, 29, 34]
AFTER = [22, 26, 30, 26, 23, 31, 20, 28]


def _results() -> list[object]:
    rng = np.random.default_rng(0)
    subj = np.repeat(np.arange(12), 3)
    long = pd.DataFrame(
        {
            "id": subj,
            "t": np.tile([0.0, 1.0, 2.0], 12),
            "y": rng.normal(size=36) + rng.normal(size=12)[subj],
            "status": rng.choice(["a", "b", "c"], 36),
        }
    )
    arm = np.where(subj < 6, "c", "t")
    gap = long.assign(arm=arm, y=np.where((subj % 4 == 1) & (long["t"] == 2.0), np.nan, long["y"]))
    rbmi: dict[str, Any] = {
        "y": "y",
        "subject": "id",
        "visit": "t",
        "group": "arm",
        "reference": "c",
    }
    return [
        st.rbmi_condmean(gap, strategy="J2R", **rbmi),
        st.tipping_point(gap, deltas=[0.0, 1.0], stop=False, **rbmi),
        st.paired_t(BEFORE, AFTER),
        st.wilcoxon_signed_rank(BEFORE, AFTER),
        st.hodges_lehmann(BEFORE, AFTER),
        st.paired_effect_sizes(BEFORE, AFTER),
        st.compare_paired(BEFORE, AFTER),
        st.proportion_ci(3, 8),
        st.mcnemar_exact(table=((2, 5), (1, 4))),
        st.regression_to_mean(30.0, [20.0, 24.0]),
        st.kaplan_meier([1, 2, 3, 4, 5], [1, 0, 1, 1, 0]),
        st.fit_lmm(long, "y ~ t", subject="id"),
        st.fit_multinomial(long, "status ~ t", subject="id"),
        st.sample_size_mmrm(correlation=np.eye(3), retention=[1, 0.9, 0.8], delta=0.5),
        st.permuted_block_list(["A", "B"], block_sizes=[2, 4], n_per_stratum=6, seed=1),
        st.simple_list(["A", "B"], n_per_stratum=6, seed=1),
        st.allocation_balance(pd.DataFrame({"stratum": ["x", "y"], "arm": ["A", "B"]})),
    ]


@pytest.mark.parametrize("result", _results(), ids=lambda r: type(r).__name__)
def test_protocol(result: object) -> None:
    assert type(result).__name__.endswith("Result")
    assert dataclasses.is_dataclass(result)
    field = dataclasses.fields(result)[0].name  # type: ignore[arg-type]
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(result, field, None)
    frame = result.to_frame()  # type: ignore[attr-defined]
    assert isinstance(frame, pd.DataFrame)
    assert len(frame) >= 1
    as_dict = result.to_dict()  # type: ignore[attr-defined]
    json.dumps(as_dict)  # plain Python values only
    assert type(result).__name__.split("Result")[0][:4] in result.summary()  # type: ignore[attr-defined]
