"""The IED detector (Janča et al. 2015) on simulated discharges of known times, and event scoring."""

import numpy as np
import pytest
from scipy.signal import lfilter

from ieegrecon.ied import detect_ieds, event_scores, match_events
from ieegrecon.simulate.ied import complex_waveform

FS = 200.0


def _background(rng, n_ch: int, seconds: float, fs: float = FS) -> np.ndarray:
    """Red (AR(1)) plus white noise, tens of µV (V)."""
    n = int(seconds * fs)
    a = np.exp(-2 * np.pi * 2.0 / fs)  # ~2 Hz corner
    x = lfilter([1.0], [1.0, -a], rng.standard_normal((n_ch, n)), axis=1) * 4e-6
    return x + rng.standard_normal((n_ch, n)) * 5e-6


def _with_spikes(rng, x: np.ndarray, channel: int, n_spikes: int, gain: float, fs: float = FS):
    """Add spike-wave complexes (the simulator's waveform, spikes 20-45 ms wide) at ≥ 1.5 s spacing;
    return their onsets (s). (Sharp waves of 70 ms have little power in the detector's 10-60 Hz band and
    need about twice the amplitude.)"""
    dur = x.shape[1] / fs
    onsets = np.sort(rng.choice(np.arange(2.0, dur - 2.0, 1.5), n_spikes, replace=False))
    sd = x[channel].std()
    for t in onsets:
        w = complex_waveform(fs, rng.uniform(0.02, 0.045), rng.uniform(0.15, 0.35)) * gain * sd
        i = int(round(t * fs))
        x[channel, i:i + len(w)] += w
    return onsets


def test_clear_spikes_found_at_their_times():
    rng = np.random.default_rng(1)
    x = _background(rng, 3, 90.0)
    onsets = _with_spikes(rng, x, 1, 25, gain=6.0)
    ev = detect_ieds(x, FS)
    det = ev.times_of(1)
    hits, correct = match_events(det, onsets, 0.1)
    sens, prec, f1 = event_scores(len(onsets), len(det), hits, correct)
    assert sens >= 0.95 and prec >= 0.9, (sens, prec, len(det))
    # the envelope peak lies on the spike, just after the complex's onset
    lag = det[:, None] - onsets[None]
    lag = lag[np.arange(len(det)), np.argmin(np.abs(lag), axis=1)]
    assert np.all((lag > -0.02) & (lag < 0.08)), lag
    # channels without spikes stay (almost) silent: under 1 detection per minute
    assert len(ev.times_of(0)) + len(ev.times_of(2)) <= 3
    assert np.all(ev.envelope > 0)
    assert ev.amplitude.dtype == float and np.all(np.abs(ev.amplitude[ev.channel == 1]) > x[0].std())


def test_plain_background_gives_few_detections():
    rng = np.random.default_rng(2)
    x = _background(rng, 6, 120.0)
    ev = detect_ieds(x, FS)
    assert len(ev) <= 6 * 2  # at most one per channel-minute
    assert detect_ieds(rng.standard_normal((4, int(60 * FS))) * 1e-5, FS).onset.size <= 2  # white noise


def test_small_spikes_are_missed():
    """Discharges at background level are not 'detected': the test can fail for a detector that fires on noise."""
    rng = np.random.default_rng(3)
    x = _background(rng, 1, 90.0)
    onsets = _with_spikes(rng, x, 0, 25, gain=0.5)
    det = detect_ieds(x, FS).times_of(0)
    hits, _ = match_events(det, onsets, 0.1)
    assert hits <= 5


def test_rate_borders_and_scale():
    rng = np.random.default_rng(4)
    x = _background(rng, 2, 60.0, fs=1000.0)
    onsets = _with_spikes(rng, x, 0, 15, gain=6.0, fs=1000.0)
    ev = detect_ieds(x, 1000.0)
    hits, correct = match_events(ev.times_of(0), onsets, 0.1)
    assert hits >= 14 and correct >= len(ev.times_of(0)) - 1
    assert np.all((ev.onset >= 1.0) & (ev.onset <= 59.0))  # nothing within 1 s of the borders
    ev2 = detect_ieds(x * 1e3, 1000.0)  # scale-free: thresholds follow the background
    np.testing.assert_allclose(ev2.onset, ev.onset)
    np.testing.assert_allclose(ev2.amplitude, ev.amplitude * 1e3, rtol=1e-6)


def test_polyspike_union_merges_close_maxima():
    rng = np.random.default_rng(5)
    x = _background(rng, 1, 30.0)
    sd = x.std()
    w = complex_waveform(FS, 0.03, 0.2) * 8 * sd
    for t in (10.0, 10.08):  # two spikes 80 ms apart: one discharge
        i = int(t * FS)
        x[0, i:i + len(w)] += w
    det = detect_ieds(x, FS).times_of(0)
    assert np.sum(np.abs(det - 10.05) < 0.2) == 1


@pytest.mark.parametrize("seconds", [4.0, 18.0])
def test_short_recording(seconds):
    """Shorter than one 5-s window, or too few windows to smooth the background over 5 of them."""
    rng = np.random.default_rng(6)
    x = _background(rng, 2, seconds)
    ev = detect_ieds(x, FS)
    assert len(ev) <= 2


@pytest.mark.parametrize("det, ref, expect", [
    ([1.0, 2.05, 5.0], [1.1, 2.0, 3.0], (2, 2)),
    ([1.0, 1.05], [1.0], (1, 2)),
    ([], [1.0], (0, 0)),
    ([1.0], [], (0, 0)),
])
def test_match_events(det, ref, expect):
    assert match_events(np.array(det), np.array(ref), 0.15) == expect


def test_event_scores():
    s, p, f = event_scores(4, 5, 3, 4)
    assert (s, p) == (0.75, 0.8)
    assert f == pytest.approx(2 * 0.75 * 0.8 / 1.55)
    assert np.isnan(event_scores(0, 0, 0, 0)[2])
    s, p, f = event_scores(0, 3, 0, 0)  # false alarms only
    assert np.isnan(s) and p == 0 and f == 0
    s, p, f = event_scores(3, 0, 0, 0)  # every event missed
    assert s == 0 and np.isnan(p) and f == 0
