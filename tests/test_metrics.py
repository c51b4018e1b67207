"""Every metric against a case computable by hand."""

import numpy as np
import pytest

from ieegrecon import metrics

FS = 200.0


def _sines(freqs, amps, seconds=20.0, n_ch=1, seed=0):
    t = np.arange(int(seconds * FS)) / FS
    rng = np.random.default_rng(seed)
    x = sum(a * np.sin(2 * np.pi * f * t + rng.uniform(0, 6.28)) for f, a in zip(freqs, amps))
    return np.tile(x, (n_ch, 1))


def test_identical_signals_are_perfect():
    rng = np.random.default_rng(0)
    y = rng.standard_normal((3, 4000)) * 1e-5
    m = metrics.contact_metrics(y, y.copy(), FS)
    np.testing.assert_allclose(m["r"], 1.0)
    np.testing.assert_allclose(m["r_win_median"], 1.0)
    np.testing.assert_allclose(m["nmse"], 0.0, atol=1e-12)
    np.testing.assert_allclose(m["rmse_uv"], 0.0, atol=1e-12)
    np.testing.assert_allclose(m["psd_hellinger"], 0.0, atol=1e-6)
    for band in metrics.BANDS:
        np.testing.assert_allclose(m[f"bp_err_{band}"], 0.0, atol=1e-12)
    np.testing.assert_allclose(m["fc_alpha_rel_err"], 0.0, atol=1e-9)


def test_scaled_copy_r_one_but_nmse_positive():
    rng = np.random.default_rng(1)
    y = rng.standard_normal((2, 4000))
    m = metrics.contact_metrics(y, 2.0 * y, FS)
    np.testing.assert_allclose(m["r"], 1.0)
    # mean((y - 2y)^2) / var(y) = 1 for zero-mean y (up to the sample mean)
    np.testing.assert_allclose(m["nmse"], ((y - 2 * y) ** 2).mean(1) / y.var(1))
    assert np.all(m["nmse"] > 0.9)
    # power x4 in every band: |log10 4| decades
    for band in metrics.BANDS:
        np.testing.assert_allclose(m[f"bp_err_{band}"], np.log10(4.0), atol=1e-9)
    # spectra are proportional: Hellinger 0; correlations unchanged: FC error 0
    np.testing.assert_allclose(m["psd_hellinger"], 0.0, atol=1e-6)
    np.testing.assert_allclose(m["fc_alpha_rel_err"], 0.0, atol=1e-9)
    # negated copy: r = -1
    np.testing.assert_allclose(metrics.pearson_r(y, -y), -1.0)


def test_rmse_hand_value():
    y = np.zeros((1, 100))
    yhat = np.full((1, 100), 3e-6)
    np.testing.assert_allclose(metrics.rmse(y, yhat), 3e-6)
    with pytest.raises(ValueError, match="shape"):
        metrics.rmse(y, yhat[:, :50])


def test_band_power_known_ratio():
    # alpha sine of amplitude 2 in y, amplitude 1 in yhat; identical beta sine
    y = _sines([10.0, 20.0], [2.0, 1.0])
    yhat = _sines([10.0, 20.0], [1.0, 1.0])
    f, p = metrics.welch_psd(y, FS)
    bp = metrics.band_power(f, p)
    alpha, beta = list(metrics.BANDS).index("alpha"), list(metrics.BANDS).index("beta")
    # a sine of amplitude a has power a^2 / 2
    np.testing.assert_allclose(bp[0, alpha], 2.0, rtol=0.02)
    np.testing.assert_allclose(bp[0, beta], 0.5, rtol=0.02)
    err = metrics.band_power_error(y, yhat, FS)
    np.testing.assert_allclose(err[0, alpha], np.log10(4.0), atol=0.01)
    np.testing.assert_allclose(err[0, beta], 0.0, atol=0.01)


def test_hellinger_disjoint_spectra_near_one():
    y = _sines([5.0], [1.0])
    yhat = _sines([40.0], [1.0])
    h = metrics.psd_hellinger(y, yhat, FS)
    assert 0.95 < h[0] <= 1.0


def test_windowed_r_median():
    # first 3 windows identical, last 2 anti-correlated: median over 5 windows is +1
    rng = np.random.default_rng(2)
    y = rng.standard_normal((1, 2000))
    yhat = y.copy()
    yhat[:, 1200:] *= -1
    np.testing.assert_allclose(metrics.windowed_r(y, yhat, FS, 2.0), 1.0)
    assert np.isnan(metrics.windowed_r(y[:, :100], yhat[:, :100], FS, 2.0))[0]


def test_alpha_fc_error_detects_changed_coupling():
    rng = np.random.default_rng(3)
    a = _sines([10.0], [1.0], n_ch=1, seed=4)[0]
    y = np.vstack([a + 0.1 * rng.standard_normal(a.size), a + 0.1 * rng.standard_normal(a.size)])
    yhat = np.vstack([y[0], -y[1]])  # correlation flips sign: error 2
    total, row = metrics.alpha_fc_error(y, yhat, FS)
    np.testing.assert_allclose(total, 2.0, rtol=1e-6)
    np.testing.assert_allclose(row, 2.0, rtol=1e-6)
    t1, _ = metrics.alpha_fc_error(y[:1], yhat[:1], FS)
    assert np.isnan(t1)
