"""Distributional metrics of posterior draws (issue #19): kurtosis/skewness and event-locked waveform errors.

Known answers: Gaussian draws of a heavy-tailed truth miss its excess kurtosis (Laplace: 3);
draws carrying the true discharges reproduce their event-locked average, draws without them do not.
"""

import numpy as np
import pytest

from ieegrecon.evaluation.draws import DRAW_SHAPE_COLS, IED_HALF_WINDOW_S, draw_shape_metrics
from ieegrecon.metrics import event_locked_average, event_waveform_error, kurtosis_error, skew_error

SFREQ = 200.0


def test_kurtosis_and_skew_errors_separate_gaussian_from_heavy_tailed_draws():
    rng = np.random.default_rng(1)
    n = 40_000
    y = np.stack([rng.laplace(size=n), rng.exponential(size=n) - 1.0])  # g2 = 3; g1 = 2 (g2 = 6)
    gauss = rng.standard_normal((2, n)) * y.std(axis=1, keepdims=True)  # same variance, g2 = g1 = 0
    alike = np.stack([rng.laplace(size=n), rng.exponential(size=n) - 1.0])  # same distributions, other samples
    k_gauss, k_alike = kurtosis_error(y, gauss), kurtosis_error(y, alike)
    assert k_gauss[0] == pytest.approx(3.0, abs=0.5) and k_gauss[1] > 4.0
    assert (k_alike < 1.0).all() and (k_alike < 0.25 * k_gauss).all()
    s_gauss, s_alike = skew_error(y, gauss), skew_error(y, alike)
    assert s_gauss[1] == pytest.approx(2.0, abs=0.3) and s_gauss[0] < 0.1  # Laplace is symmetric
    assert s_alike[1] < 0.3
    np.testing.assert_array_equal(kurtosis_error(y, y), 0.0)
    assert np.isnan(kurtosis_error(np.zeros((1, 100)), rng.standard_normal((1, 100)))).all()


def test_event_locked_average_known_answer():
    x = np.zeros((2, 1000))
    x[:, 300], x[:, 600] = 1.0, 3.0
    avg = event_locked_average(x, np.array([300, 600, 5, 998]) / SFREQ, SFREQ, half_s=0.1)  # last two don't fit
    assert avg.shape == (2, 41)
    np.testing.assert_array_equal(avg[:, 20], 2.0)
    assert np.count_nonzero(avg) == 2
    assert np.isnan(event_locked_average(x[0], np.array([0.0]), SFREQ)).all()


def _discharges(rng, n, onsets):
    """Spike + slow wave (V) at each onset, one contact."""
    t = np.arange(int(0.4 * SFREQ)) / SFREQ
    wave = 300e-6 * (np.exp(-((t - 0.03) / 0.01) ** 2) - 0.4 * np.exp(-((t - 0.15) / 0.06) ** 2))
    x = np.zeros(n)
    for o in np.round(onsets * SFREQ).astype(int):
        x[o:o + wave.size] += wave * rng.lognormal(0.0, 0.5)
    return x


def test_waveform_error_small_with_the_true_discharges_large_without():
    rng = np.random.default_rng(2)
    n = int(120 * SFREQ)
    onsets = np.sort(rng.uniform(2.0, 118.0, 25))
    spikes = _discharges(rng, n, onsets)
    noise = lambda: 30e-6 * rng.standard_normal((2, n))  # noqa: E731
    y = noise()
    y[0] += spikes
    with_ied, without = noise(), noise()
    with_ied[0] += spikes
    ev = [onsets, np.zeros(0)]  # contact 1 has no discharge
    e_with, e_without = event_waveform_error(y, with_ied, ev, SFREQ), event_waveform_error(y, without, ev, SFREQ)
    assert e_with[0] < 0.35 and e_without[0] > 0.85
    assert np.isnan(e_with[1]) and np.isnan(e_without[1])
    assert event_waveform_error(y, 2 * y, ev, SFREQ)[0] == pytest.approx(1.0)

    out = draw_shape_metrics(y, np.stack([with_ied, with_ied, without]), SFREQ, ev)
    assert set(out) == set(DRAW_SHAPE_COLS) and IED_HALF_WINDOW_S == 0.25
    w = event_waveform_error(y, without, ev, SFREQ)[0]
    assert out["draw_ied_waveform_err"][0] == pytest.approx((2 * e_with[0] + w) / 3)
    assert np.isnan(out["draw_ied_waveform_err"][1])
    # a spiky truth: Gaussian-noise draws miss its kurtosis on the discharging contact more than draws with spikes
    k = draw_shape_metrics(y, np.stack([without, with_ied]), SFREQ)
    assert "draw_ied_waveform_err" not in k
    assert kurtosis_error(y, without)[0] > 3 * kurtosis_error(y, with_ied)[0]
