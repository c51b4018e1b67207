"""Noise, artifacts and local activity added to the forward-modelled signals.

All generators take a :class:`numpy.random.Generator` and return volts.

* sensor noise: white Gaussian;
* line noise: 50 Hz (and 150 Hz where below Nyquist) with per-channel
  amplitude and phase;
* eye blinks: 200-400 ms monophasic waves, Poisson-timed, with a frontal
  spatial gain that decays with distance from the eyes;
* muscle (EMG) bursts: broadband 20-100 Hz noise bursts of 0.5-2 s over the
  temporal muscles;
* local field activity at each iEEG contact that no region-level dipole
  carries, so that scalp EEG cannot see it linearly: an independent 1/f^β
  process per contact, and near hippocampus/amygdala/parahippocampal sources
  a 60-100 Hz gamma whose amplitude follows the local theta phase
  (phase-amplitude coupling; Canolty et al. 2006; Tort et al. 2010).
"""

from __future__ import annotations

import numpy as np
from scipy import signal

#: MNI positions (m) of the eyes (Colin27 orbits) and the temporal muscles.
EYES_M = np.array([[-0.032, 0.062, -0.035], [0.032, 0.062, -0.035]])
TEMPORALIS_M = np.array([[-0.072, -0.005, 0.0], [0.072, -0.005, 0.0]])


def powerlaw_noise(rng: np.random.Generator, n_ch: int, n_times: int, sfreq: float,
                   exponent: float = 1.0, fmin: float = 0.5) -> np.ndarray:
    """Independent 1/f^exponent processes, unit variance, shape (n_ch, n_times)."""
    white = rng.standard_normal((n_ch, n_times))
    spec = np.fft.rfft(white, axis=1)
    f = np.fft.rfftfreq(n_times, 1.0 / sfreq)
    spec *= np.maximum(f, fmin) ** (-exponent / 2.0)
    x = np.fft.irfft(spec, n=n_times, axis=1)
    x -= x.mean(axis=1, keepdims=True)
    return x / (x.std(axis=1, keepdims=True) + 1e-30)


def line_noise(rng: np.random.Generator, n_ch: int, n_times: int, sfreq: float,
               amp_v: tuple[float, float], freq: float = 50.0) -> np.ndarray:
    """Mains interference (V), shape (n_ch, n_times): 50 Hz and a weaker 3rd harmonic."""
    t = np.arange(n_times) / sfreq
    out = np.zeros((n_ch, n_times))
    for harm, rel in ((1, 1.0), (3, 0.2)):
        if harm * freq < sfreq / 2:
            amp = rng.uniform(*amp_v, size=n_ch) * rel
            ph = rng.uniform(0, 2 * np.pi, size=n_ch)
            # a sin(wt + ph) = a cos(ph) sin(wt) + a sin(ph) cos(wt)
            base = np.vstack([np.sin(2 * np.pi * harm * freq * t), np.cos(2 * np.pi * harm * freq * t)])
            out += np.column_stack([amp * np.cos(ph), amp * np.sin(ph)]) @ base
    return out


def distance_gain(pos_m: np.ndarray, centres_m: np.ndarray, scale_m: float) -> np.ndarray:
    """exp(-d/scale) to the nearest centre, shape (n_positions,)."""
    d = np.min(np.linalg.norm(pos_m[:, None] - centres_m[None], axis=2), axis=1)
    return np.exp(-d / scale_m)


def blinks(rng: np.random.Generator, gain: np.ndarray, n_times: int, sfreq: float,
           rate_hz: float, amp_v: float) -> np.ndarray:
    """Eye blinks (V), shape (n_ch, n_times); ``gain`` shape (n_ch,) from :func:`distance_gain`."""
    wave = np.zeros(n_times)
    dur = n_times / sfreq
    for onset in rng.uniform(0, dur, size=rng.poisson(rate_hz * dur)):
        width = rng.uniform(0.2, 0.4)
        i0, n = int(onset * sfreq), int(width * sfreq)
        w = np.sin(np.pi * np.arange(n) / n) ** 2 * amp_v * rng.uniform(0.6, 1.2)
        seg = w[: max(0, n_times - i0)]
        wave[i0:i0 + len(seg)] += seg
    return gain[:, None] * wave[None, :]


def muscle(rng: np.random.Generator, gain: np.ndarray, n_times: int, sfreq: float,
           rate_hz: float, amp_v: float) -> np.ndarray:
    """Temporal muscle bursts (V), shape (n_ch, n_times)."""
    out = np.zeros((len(gain), n_times))
    dur = n_times / sfreq
    hi = min(100.0, 0.45 * sfreq)
    if hi <= 25.0:
        return out
    sos = signal.butter(4, [20.0, hi], btype="bandpass", fs=sfreq, output="sos")
    for onset in rng.uniform(0, dur, size=rng.poisson(rate_hz * dur)):
        n = int(rng.uniform(0.5, 2.0) * sfreq)
        i0 = int(onset * sfreq)
        n = max(0, min(n, n_times - i0))
        if n < 8:
            continue
        burst = signal.sosfilt(sos, rng.standard_normal((len(gain), n)), axis=1)
        burst /= burst.std() + 1e-30
        env = np.sin(np.pi * np.arange(n) / n) ** 0.5
        side = rng.uniform(0.3, 1.0, size=(len(gain), 1))
        out[:, i0:i0 + n] += amp_v * side * gain[:, None] * burst * env
    return out


def pac_gamma(rng: np.random.Generator, theta_source: np.ndarray, amp_v: np.ndarray, sfreq: float,
              band: tuple[float, float] = (60.0, 100.0), depth: float = 0.8) -> np.ndarray:
    """Gamma whose envelope follows theta phase (V), shape (n_ch, n_times).

    Parameters
    ----------
    theta_source : ndarray, shape (n_ch, n_times)
        The local slow signal whose 4-8 Hz phase modulates gamma (any unit).
    amp_v : ndarray, shape (n_ch,)
        Gamma amplitude (V, standard deviation at maximal modulation).
    sfreq : float
        Sampling rate (Hz).
    band : (float, float)
        Gamma band (Hz), clipped below Nyquist.
    depth : float
        Modulation depth in [0, 1].
    """
    n_ch, n_times = theta_source.shape
    out = np.zeros((n_ch, n_times))
    hi = min(band[1], 0.45 * sfreq)
    if hi <= band[0] + 5 or not np.any(amp_v > 0):
        return out
    sos_t = signal.butter(3, [4.0, 8.0], btype="bandpass", fs=sfreq, output="sos")
    sos_g = signal.butter(4, [band[0], hi], btype="bandpass", fs=sfreq, output="sos")
    rows = np.flatnonzero(amp_v > 0)
    phase = np.angle(signal.hilbert(signal.sosfiltfilt(sos_t, theta_source[rows], axis=1), axis=1))
    g = signal.sosfilt(sos_g, rng.standard_normal((len(rows), n_times)), axis=1)
    g /= g.std(axis=1, keepdims=True) + 1e-30
    env = 1.0 - depth + depth * 0.5 * (1.0 + np.cos(phase - rng.uniform(0, 2 * np.pi, size=(len(rows), 1))))
    out[rows] = amp_v[rows, None] * env * g
    return out
