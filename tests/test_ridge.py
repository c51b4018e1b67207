"""The within-subject lagged ridge method (ieegrecon.models.ridge)."""

from __future__ import annotations

import numpy as np
import pytest

from ieegrecon.metrics import pearson_r
from ieegrecon.models.lagged import lag_matrix
from test_lagged import _ridge_path
from ieegrecon.models.ridge import RidgeModel
from _synthetic import lagged_segment


_segment = lagged_segment


def test_ridge_recovers_lagged_linear_map():
    seg = _segment()
    model = RidgeModel()
    model.calibrate(seg.crop_samples(0, 200 * 60))
    r = pearson_r(seg.ieeg[:, 12000:], model.predict(seg.scalp[:, 12000:]))
    assert np.all(r > 0.9), r


def test_ridge_without_lags_cannot_see_a_delay():
    """A lag outside the window is invisible: guards against a leak of the target."""
    seg = _segment(lag=60)  # 300 ms, beyond +-100 ms
    model = RidgeModel()
    model.calibrate(seg.crop_samples(0, 200 * 60))
    r = pearson_r(seg.ieeg[:, 12000:], model.predict(seg.scalp[:, 12000:]))
    assert np.all(np.abs(r) < 0.1), r


def test_ridge_out_of_fold_prediction_is_the_fit_on_the_other_blocks():
    """Each CV block of ``out_of_fold`` is predicted by ridge fitted on the other blocks (chosen alphas)."""
    seg = _segment(seconds=23, n_contacts=3)
    m = RidgeModel(max_lag_ms=15.0)
    oof = m.calibrate(seg, out_of_fold=True)["out_of_fold"]
    assert oof.shape == seg.ieeg.shape
    z = (seg.scalp - m.x_mean_[:, None]) / m.x_scale_[:, None]
    X, Y = lag_matrix(z, m.lags), seg.ieeg.T
    alphas = np.asarray(m.alphas)
    best = [int(np.argmin(np.abs(alphas - a))) for a in m.alpha_]
    block = np.array_split(np.arange(len(X)), m.n_folds)[2]
    train = np.setdiff1d(np.arange(len(X)), block)
    path = _ridge_path(X[train], Y[train], X[block], alphas)  # (n_alphas, n_block, n_contacts)
    ref = np.stack([path[b, :, k] for k, b in enumerate(best)])
    np.testing.assert_allclose(oof[:, block], ref, rtol=1e-7, atol=1e-9 * np.abs(ref).max())
    # honest: out-of-fold residuals are larger than in-sample ones
    assert np.mean((seg.ieeg - oof) ** 2) > np.mean((seg.ieeg - m.predict(seg.scalp)) ** 2)


def test_ridge_refuses_too_short_calibration():
    with pytest.raises(ValueError, match="too short"):
        RidgeModel().calibrate(_segment(seconds=5))
