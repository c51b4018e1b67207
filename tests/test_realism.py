"""The realism statistics of benchmarks/realism_stats.py on signals with known answers (issue #16)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import realism_stats as rs  # noqa: E402

FS = rs.BONN_SFREQ
N = rs.BONN_N_TIMES


def _colored(beta: float, n_seg: int = 20, seed: int = 0) -> np.ndarray:
    """Gaussian noise with PSD ∝ 1/f**beta, shape (n_seg, N)."""
    rng = np.random.default_rng(seed)
    spec = np.fft.rfft(rng.standard_normal((n_seg, N)), axis=1)
    f = np.fft.rfftfreq(N, 1 / FS)
    f[0] = f[1]
    return np.fft.irfft(spec * f ** (-beta / 2), n=N, axis=1)


@pytest.mark.parametrize("beta", [0.0, 1.0, 2.0])
def test_psd_slope_of_power_law_noise(beta):
    f, p = rs.welch_psd(_colored(beta), FS)
    assert np.median(rs.psd_slope(f, p)) == pytest.approx(-beta, abs=0.08)


def test_alpha_peak_of_a_10hz_sine_and_of_10_7hz():
    t = np.arange(N) / FS
    rng = np.random.default_rng(1)
    x = np.stack([np.sin(2 * np.pi * 10.0 * t), np.sin(2 * np.pi * 10.7 * t)]) + 0.1 * rng.standard_normal((2, N))
    f, p = rs.welch_psd(x, FS)
    peak = rs.alpha_peak(f, p)
    assert peak[0] == pytest.approx(10.0, abs=0.1)
    assert peak[1] == pytest.approx(10.7, abs=0.1)


def test_relative_band_power_of_a_sine_falls_in_its_band():
    t = np.arange(N) / FS
    x = np.stack([np.sin(2 * np.pi * fr * t) for fr in (2.0, 6.0, 10.0, 20.0)])
    f, p = rs.welch_psd(x, FS)
    rel = rs.relative_band_power(f, p)
    for i, band in enumerate(("delta", "theta", "alpha", "beta")):
        assert rel[band][i] > 0.95
    total = sum(rel.values())
    assert np.all(total <= 1.0 + 1e-9)


def test_moments_of_gaussian_and_exponential():
    rng = np.random.default_rng(2)
    st = rs.segment_stats(rng.standard_normal((10, N)))
    assert np.median(st["kurtosis"]) == pytest.approx(0.0, abs=0.15)  # Fisher
    assert np.median(st["skewness"]) == pytest.approx(0.0, abs=0.08)
    e = rng.exponential(size=(10, N))
    st = rs.segment_stats(e)
    assert np.median(st["skewness"]) == pytest.approx(2.0, abs=0.3)
    assert np.median(st["kurtosis"]) == pytest.approx(6.0, abs=2.0)


def test_line_length_of_white_noise_and_of_a_sine():
    rng = np.random.default_rng(3)
    assert np.median(rs.line_length(rng.standard_normal((10, N)))) == pytest.approx(2 / np.sqrt(np.pi), abs=0.01)
    t = np.arange(N) / FS
    fr = 10.0
    ll = rs.line_length(np.sin(2 * np.pi * fr * t)[None])
    assert ll[0] == pytest.approx(4 * np.sqrt(2) / np.pi * np.sin(np.pi * fr / FS), rel=0.01)
    # scale-free
    assert rs.line_length(1e-6 * np.sin(2 * np.pi * fr * t)[None])[0] == pytest.approx(ll[0])


def test_spike_detector_finds_inserted_spikes_and_little_in_background():
    rng = np.random.default_rng(4)
    x = _colored(1.5, n_seg=1, seed=4)[0]
    x /= x.std()
    spike = -8 * signal_spike(FS)
    onsets = np.arange(500, N - 200, 600)  # 6 spikes, ~3.5 s apart
    y = x.copy()
    for o in onsets:
        y[o: o + len(spike)] += spike
    det = rs.detect_spikes(y[None], FS)[0]
    assert len(det) == len(onsets)
    assert np.all(np.min(np.abs(det[:, None] - onsets[None, :]), axis=0) < 20)
    assert len(rs.detect_spikes(x[None], FS)[0]) <= 2
    # scale-free
    np.testing.assert_array_equal(rs.detect_spikes(1e-6 * y[None], FS)[0], det)
    del rng


def signal_spike(sfreq: float) -> np.ndarray:
    """A 70-ms triangular sharp transient, unit peak."""
    n = int(round(0.07 * sfreq))
    return 1 - np.abs(np.linspace(-1, 1, n))


def test_to_bonn_rate_band_and_segments():
    fs = 200.0
    t = np.arange(int(60 * fs)) / fs
    x = np.stack([np.sin(2 * np.pi * 10 * t), np.sin(2 * np.pi * 60 * t) + 0.01 * np.sin(2 * np.pi * 10 * t)])
    y = rs.to_bonn(x, fs)
    assert y.shape == (2, int(round(len(t) * FS / fs)))
    assert y[0, 2000:].std() == pytest.approx(1 / np.sqrt(2), rel=0.05)  # 10 Hz in the pass band
    # 2nd-order (12 dB/octave) low-pass at 40 Hz, as Bonn's acquisition filter: 60 Hz at about -7 dB
    assert 0.1 < y[1, 2000:].std() < 0.2
    seg = rs.segments(y, skip=100)
    assert seg.shape == (2 * ((y.shape[1] - 100) // N), N)
    np.testing.assert_array_equal(seg[0], y[0, 100: 100 + N])


def test_segment_stats_keys_and_shapes():
    rng = np.random.default_rng(5)
    st = rs.segment_stats(rng.standard_normal((3, N)))
    assert set(st) == {"psd_slope", "rel_delta", "rel_theta", "rel_alpha", "rel_beta", "alpha_peak_hz",
                       "kurtosis", "skewness", "line_length", "spikes_per_min", "rms"}
    assert all(v.shape == (3,) for v in st.values())
