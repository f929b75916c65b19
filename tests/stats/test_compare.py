"""compare_paired bundles the paired results consistently."""

from __future__ import annotations

import numpy as np
import pytest

from remit.errors import DataWarning
from remit.stats.compare import compare_paired
from remit.stats.effect_size import paired_effect_sizes
from remit.stats.paired import hodges_lehmann, paired_t, wilcoxon_signed_rank


def test_parts_equal_the_individual_functions() -> None:
    before = [30, 28, 35, 31, 27, 33, 29, 34, 26, 32, 30, 25]
    after = [30, 26, 34, 26, 23, 31, 26, 28, 21, 25, 22, 16]
    r = compare_paired(before, after, convention="scipy")
    assert r.t_test == paired_t(before, after)
    assert r.wilcoxon == wilcoxon_signed_rank(before, after, convention="scipy")
    assert r.hodges_lehmann == hodges_lehmann(before, after)
    assert r.effect_sizes == paired_effect_sizes(before, after)
    frame = r.to_frame()
    assert frame["quantity"].tolist()[:3] == [
        "mean difference",
        "Wilcoxon signed-rank V",
        "Hodges-Lehmann pseudo-median",
    ]
    assert frame.loc[1, "method"] == "exact (scipy convention)"


def test_one_warning_for_dropped_pairs() -> None:
    before = [1.0, 2.0, np.nan, 4.0, 5.0, 7.0]
    after = [2.0, 2.5, 3.0, 6.0, 7.0, 7.5]
    with pytest.warns(DataWarning) as record:
        r = compare_paired(before, after)
    assert len(record) == 1
    assert r.n_dropped == 1
    assert r.n == 5
