"""evaluation.ceilings: the oracle is the Bayes-optimal linear map; the ground-truth oracle beats ridge."""

import numpy as np

from ieegrecon.evaluation.ceilings import groundtruth_oracle, groundtruth_path, oracle_weights
from ieegrecon.evaluation.config import EvalConfig
from ieegrecon.evaluation.data import load_subject
from ieegrecon.metrics import pearson_r
from ieegrecon.models.base import ContactInfo, PairedSegment
from ieegrecon.models.ridge import RidgeModel


def _gaussian_pair(rng, n_t, A, B, L_s, sn, se):
    s = L_s @ rng.standard_normal((A.shape[1], n_t))
    x = A @ s + sn * rng.standard_normal((A.shape[0], n_t))
    y = B @ s + se * rng.standard_normal((B.shape[0], n_t))
    return x, y


def test_oracle_beats_ridge_on_gaussian_data():
    """White Gaussian sources: the oracle is Bayes-optimal, so no ridge fit on finite data beats it."""
    rng = np.random.default_rng(0)
    n_src, n_sc, n_c = 12, 8, 6
    A, B = rng.standard_normal((n_sc, n_src)), rng.standard_normal((n_c, n_src))
    L_s = rng.standard_normal((n_src, n_src)) / np.sqrt(n_src)
    sn, se = 1.0, 0.5
    W = oracle_weights(A, B, L_s @ L_s.T, sn**2 * np.eye(n_sc))
    x_tr, y_tr = _gaussian_pair(rng, 6000, A, B, L_s, sn, se)
    x_te, y_te = _gaussian_pair(rng, 6000, A, B, L_s, sn, se)
    contacts = ContactInfo([f"c{i}" for i in range(n_c)], np.zeros((n_c, 3)))
    seg = PairedSegment(x_tr, y_tr, 200.0, [f"e{i}" for i in range(n_sc)], contacts, "s")
    ridge = RidgeModel(sfreq=200.0, max_lag_ms=25.0)
    ridge.calibrate(seg)
    r_oracle = pearson_r(y_te, W @ x_te)
    r_ridge = pearson_r(y_te, ridge.predict(x_te))
    assert np.all(r_oracle > 0.2)
    assert r_oracle.mean() >= r_ridge.mean() - 0.005
    # the oracle equals the least-squares map fitted on a huge sample
    x_big, y_big = _gaussian_pair(rng, 200_000, A, B, L_s, sn, se)
    W_ls = np.linalg.lstsq(x_big.T, y_big.T, rcond=None)[0].T
    np.testing.assert_allclose(W, W_ls, atol=0.03)


def test_groundtruth_oracle_vs_instantaneous_ridge(cohort):
    """On simulated data the ground-truth oracle is at least as good as instantaneous ridge at equal data."""
    cfg = EvalConfig(methods=["ridge"], calibration_minutes=[0.25])
    sub = load_subject("01", sorted((cohort / "sub-01").glob("ses-*")), cfg)
    W = groundtruth_oracle(groundtruth_path(cohort, sub.test_session), sub.test.scalp_names,
                           sub.test.contacts.ch_names, cfg.prep)
    assert W.shape == (len(sub.test.contacts.ch_names), len(sub.test.scalp_names))
    ridge = RidgeModel(sfreq=sub.cal.sfreq, max_lag_ms=0.0)
    ridge.calibrate(sub.cal)
    r_oracle = np.nanmean(pearson_r(sub.test.ieeg, W @ sub.test.scalp))
    r_ridge = np.nanmean(pearson_r(sub.test.ieeg, ridge.predict(sub.test.scalp)))
    assert r_oracle > 0.1
    assert r_oracle >= r_ridge - 0.02


def test_groundtruth_path_layout(tmp_path):
    """The ground truth of sub-01/ses-02 lies in derivatives/ieegrecon-sim/sub-01/ses-02/."""
    p = groundtruth_path(tmp_path, tmp_path / "sub-01" / "ses-02")
    assert p == tmp_path / "derivatives" / "ieegrecon-sim" / "sub-01" / "ses-02" / "sub-01_ses-02_groundtruth.h5"
