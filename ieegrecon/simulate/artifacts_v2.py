"""Non-Gaussian artifacts of world v2 (Urigüen & Garcia-Zapirain 2015; Tatum et al. 2011).

* electrode pops: a step on one channel decaying over 0.2-1 s (a sudden
  impedance change of one electrode);
* slow drifts: below 0.1 Hz (sweat, electrode polarisation), per channel;
* ECG: a QRS-like complex at 55-85 beats/min with heart-rate variability, with a
  left-right spatial gain on the scalp and much weaker on iEEG;
* movement bursts: 1-3 s of large 0.5-6 Hz deflections on many channels;
* a channel dropping out mid-recording: from a time on, flat (0 V) or noise.

Each function returns volts and the ground-truth events (BIDS rows).
"""

from __future__ import annotations

import numpy as np
from scipy import signal


def pops(rng: np.random.Generator, names: list[str], n_times: int, sfreq: float, rate_per_min: float,
         amp_uv: tuple[float, float]) -> tuple[np.ndarray, list[dict]]:
    """Electrode pops (V), shape (n_ch, n_times), and their events."""
    out = np.zeros((len(names), n_times))
    dur = n_times / sfreq
    rows = []
    for onset in np.sort(rng.uniform(0, dur, size=rng.poisson(rate_per_min / 60 * dur))):
        ch = int(rng.integers(len(names)))
        tau = rng.uniform(0.2, 1.0)
        i0 = int(onset * sfreq)
        t = np.arange(n_times - i0) / sfreq
        amp = rng.uniform(*amp_uv) * rng.choice([-1, 1]) * 1e-6
        out[ch, i0:] += amp * np.exp(-t / tau)
        rows.append({"onset": float(onset), "duration": float(3 * tau), "trial_type": "artifact/pop",
                     "channels": names[ch], "peak_uv": abs(amp) * 1e6})
    return out, rows


def drifts(rng: np.random.Generator, n_ch: int, n_times: int, sfreq: float, amp_uv: float) -> np.ndarray:
    """Slow drifts below 0.1 Hz (V), shape (n_ch, n_times), SD ``amp_uv`` µV per channel."""
    n_slow = max(4, int(n_times / sfreq * 0.4))   # knots every 2.5 s
    knots = np.cumsum(rng.standard_normal((n_ch, n_slow)), axis=1)
    n_mid = max(n_slow, int(n_times / sfreq * 4.0))  # band-limited at 4 Hz, then linear to the full rate
    mid = signal.resample(knots, n_mid, axis=1)
    mid -= mid.mean(axis=1, keepdims=True)
    mid *= amp_uv * 1e-6 * rng.uniform(0.3, 1.0, (n_ch, 1)) / (mid.std(axis=1, keepdims=True) + 1e-30)
    grid = np.linspace(0, n_mid - 1, n_times)
    return np.vstack([np.interp(grid, np.arange(n_mid), row) for row in mid])


def ecg(rng: np.random.Generator, gain: np.ndarray, n_times: int, sfreq: float, amp_uv: float) -> np.ndarray:
    """ECG (V), shape (n_ch, n_times): QRS + T wave at 55-85 bpm with ±5 % beat-to-beat variability."""
    hr = rng.uniform(55, 85) / 60.0
    beats, t = [], rng.uniform(0, 1 / hr)
    while t < n_times / sfreq:
        beats.append(t)
        t += (1 / hr) * (1 + 0.05 * rng.standard_normal())
    tt = np.arange(int(0.5 * sfreq)) / sfreq
    wave = (np.exp(-0.5 * ((tt - 0.05) / 0.010) ** 2) - 0.25 * np.exp(-0.5 * ((tt - 0.07) / 0.012) ** 2)
            + 0.3 * np.exp(-0.5 * ((tt - 0.30) / 0.05) ** 2))
    x = np.zeros(n_times)
    for b in beats:
        i0 = int(b * sfreq)
        seg = wave[: max(0, n_times - i0)]
        x[i0:i0 + len(seg)] += seg
    return gain[:, None] * x[None, :] * amp_uv * 1e-6


def movements(rng: np.random.Generator, names: list[str], n_times: int, sfreq: float, rate_per_min: float,
              amp_uv: float) -> tuple[np.ndarray, list[dict]]:
    """Movement bursts (V), shape (n_ch, n_times): 1-3 s of 0.5-6 Hz deflections on most channels."""
    out = np.zeros((len(names), n_times))
    dur = n_times / sfreq
    sos = signal.butter(2, [0.5, min(6.0, 0.4 * sfreq)], btype="bandpass", fs=sfreq, output="sos")
    rows = []
    for onset in np.sort(rng.uniform(0, dur, size=rng.poisson(rate_per_min / 60 * dur))):
        n = int(rng.uniform(1.0, 3.0) * sfreq)
        i0 = int(onset * sfreq)
        n = max(0, min(n, n_times - i0))
        if n < 16:
            continue
        common = signal.sosfiltfilt(sos, rng.standard_normal(n))
        own = signal.sosfiltfilt(sos, rng.standard_normal((len(names), n)), axis=1)
        burst = common[None] * rng.uniform(-1, 1, (len(names), 1)) + 0.5 * own
        burst *= np.hanning(n)[None] / (burst.std() + 1e-30) * amp_uv * 1e-6
        out[:, i0:i0 + n] += burst
        rows.append({"onset": float(onset), "duration": float(n / sfreq), "trial_type": "artifact/movement",
                     "channels": "all", "peak_uv": float(np.abs(burst).max() * 1e6)})
    return out, rows


def dropout(rng: np.random.Generator, data: np.ndarray, names: list[str], sfreq: float
            ) -> tuple[int, int, np.ndarray, list[dict], dict]:
    """One channel drops out from a random time on (30-80 % of the recording).

    Returns
    -------
    ch, i0 : int
        Channel index and first sample of the dropout.
    new : ndarray, shape (n_times - i0,)
        What the channel records from then on: 0 V (flat) or 50 µV white noise (V).
    events : list of dict
        The BIDS event row.
    status : dict
        Channel name -> ``status_description`` for channels.tsv.
    """
    n_ch, n_times = data.shape
    ch = int(rng.integers(n_ch))
    i0 = int(rng.uniform(0.3, 0.8) * n_times)
    kind = str(rng.choice(["flat", "noise"]))
    new = np.zeros(n_times - i0) if kind == "flat" else rng.standard_normal(n_times - i0) * 50e-6
    onset = i0 / sfreq
    row = {"onset": onset, "duration": (n_times - i0) / sfreq, "trial_type": f"artifact/dropout_{kind}",
           "channels": names[ch], "peak_uv": 0.0}
    return ch, i0, new, [row], {names[ch]: f"dropped out at {onset:.3f} s ({kind})"}
