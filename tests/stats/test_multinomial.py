"""Multinomial logit with SEs clustered by subject, checked against a hand-made sandwich."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from remit.errors import DataWarning, StatsError
from remit.stats.multinomial import fit_multinomial


def _data(seed: int = 3, n: int = 80) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {"id": np.repeat(np.arange(n), 4), "visit": np.tile([0.0, 1.0, 2.0, 3.0], n)}
    )
    frame["arm"] = np.repeat(rng.choice(["a", "b"], n), 4)
    frailty = np.repeat(rng.normal(0, 1, n), 4)
    eta1 = -0.5 + 0.4 * frame["visit"] + frailty
    eta2 = -1.0 + 0.7 * frame["visit"] + 0.5 * (frame["arm"] == "b") + frailty
    denom = 1 + np.exp(eta1) + np.exp(eta2)
    probs = np.column_stack([1 / denom, np.exp(eta1) / denom, np.exp(eta2) / denom])
    u = rng.random(len(frame))[:, None]
    frame["status"] = np.array(["none", "partial", "full"])[(u > probs.cumsum(axis=1)).sum(1)]
    return frame


def _sandwich(frame: pd.DataFrame, beta: np.ndarray) -> np.ndarray:
    """Cluster-robust covariance written out: bread · meat · bread, with the small-sample factor."""
    X = np.column_stack([np.ones(len(frame)), frame["visit"], (frame["arm"] == "b") * 1.0])
    order = ["none", "full", "partial"]
    Y = np.column_stack([(frame["status"] == s).to_numpy() * 1.0 for s in order])[:, 1:]
    eta = X @ beta  # n × 2
    P = np.exp(eta) / (1 + np.exp(eta).sum(axis=1, keepdims=True))
    n, k = X.shape
    scores = np.concatenate([(Y - P)[:, [j]] * X for j in range(2)], axis=1)  # n × 2k
    H = np.zeros((2 * k, 2 * k))
    for j in range(2):
        for m in range(2):
            w = P[:, j] * ((j == m) - P[:, m])
            H[j * k : (j + 1) * k, m * k : (m + 1) * k] = (X * w[:, None]).T @ X
    bread = np.linalg.inv(H)
    by_subject = pd.DataFrame(scores).groupby(frame["id"].to_numpy()).sum().to_numpy()
    meat = by_subject.T @ by_subject
    g = by_subject.shape[0]
    factor = g / (g - 1) * (n - 1) / (n - 2 * k)
    return factor * bread @ meat @ bread


def test_cluster_robust_se_matches_hand_sandwich() -> None:
    frame = _data()
    fit = fit_multinomial(frame, "status ~ visit + arm", subject="id", reference="none")
    assert fit.outcomes == ("full", "partial")
    coef = fit.coefficients
    beta = np.column_stack([coef[coef.outcome == o]["estimate"].to_numpy() for o in fit.outcomes])
    cov = _sandwich(frame, beta)
    np.testing.assert_allclose(coef["se"], np.sqrt(np.diag(cov)), rtol=1e-6)
    assert fit.n_clusters == 80
    assert fit.n_obs == 320
    assert fit.converged
    assert fit.cov_type.startswith("cluster-robust")
    np.testing.assert_allclose(coef["odds_ratio"], np.exp(coef["estimate"]))


def test_clustering_widens_the_se_when_subjects_differ() -> None:
    frame = _data()
    fit = fit_multinomial(frame, "status ~ visit + arm", subject="id", reference="none")
    naive = fit_multinomial(
        frame.assign(row=np.arange(len(frame))),
        "status ~ visit + arm",
        subject="row",
        reference="none",
    )
    arm_rows = fit.coefficients["term"] == "arm[T.b]"
    assert (
        fit.coefficients.loc[arm_rows, "se"].to_numpy()
        > naive.coefficients.loc[arm_rows, "se"].to_numpy()
    ).all()


def test_missing_rows_and_bad_input() -> None:
    frame = _data()
    frame.loc[[0, 1], "status"] = None
    with pytest.warns(DataWarning, match="dropped 2 of 320"):
        fit = fit_multinomial(frame, "status ~ visit", subject="id")
    assert fit.reference == "full"
    with pytest.raises(StatsError, match="reference status 'cured'"):
        fit_multinomial(frame.dropna(), "status ~ visit", subject="id", reference="cured")
    with pytest.raises(StatsError, match="column 'who'"):
        fit_multinomial(frame, "status ~ visit", subject="who")
    with pytest.raises(StatsError, match="at least two statuses"):
        fit_multinomial(frame.assign(status="x"), "status ~ visit", subject="id")


def test_estimates_match_r_nnet() -> None:
    ref_dir = Path(__file__).parent / "reference" / "small"
    frame = pd.read_csv(ref_dir / "multinomial_data.csv")
    ref = pd.read_csv(ref_dir / "small_sample_reference.csv").set_index("name")["value"]
    fit = fit_multinomial(frame, "status ~ visit + arm", subject="id", reference="none")
    names = {"Intercept": "(Intercept)", "visit": "visit", "arm[T.b]": "armb"}
    for row in fit.coefficients.itertuples():
        expected = float(ref[f"mn_{row.outcome}_{names[row.term]}"])
        assert row.estimate == pytest.approx(expected, abs=1e-5)
    assert fit.log_likelihood == pytest.approx(float(ref["mn_loglik"]), abs=1e-6)
