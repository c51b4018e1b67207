"""Per-segment statistics of single-channel EEG, for comparing simulated and real recordings.

Used by ``benchmarks/realism.py`` (issue #16) on the Bonn EEG database (Andrzejak et al.
2001) and on simulated scalp and depth channels brought to Bonn's band and rate. Every
statistic is scale-free except :func:`rms_uv`, so that the unknown amplitude calibration
of the Bonn A/D values does not enter the comparison.

References
----------
Andrzejak RG, Lehnertz K, Mormann F, Rieke C, David P, Elger CE (2001). Indications of
nonlinear deterministic and finite-dimensional structures in time series of brain electrical
activity. Phys Rev E 64:061907.
Janca R, Jezdik P, Cmejla R, et al. (2015). Detection of interictal epileptiform discharges
using signal envelope distribution modelling: application to epileptic and non-epileptic
intracranial recordings. Brain Topogr 28:172-183.
Esteller R, Echauz J, Tcheng T, Litt B, Pless B (2001). Line length: an efficient feature
for seizure onset detection. Proc 23rd IEEE EMBS 2:1707-1710.
"""

from __future__ import annotations

import numpy as np
from scipy import signal, stats

#: Bonn's sampling rate (Hz), segment length (samples) and band (Hz).
BONN_SFREQ = 173.61
BONN_N_TIMES = 4097
BONN_BAND = (0.53, 40.0)

#: Bands for relative power (Hz); the total is the power in 0.53-40 Hz.
BANDS = {"delta": (0.53, 4.0), "theta": (4.0, 8.0), "alpha": (8.0, 13.0), "beta": (13.0, 30.0)}


def to_bonn(x: np.ndarray, sfreq: float, *, sfreq_out: float = BONN_SFREQ,
            band: tuple[float, float] = BONN_BAND) -> np.ndarray:
    """Bring signals to Bonn's rate and band.

    FFT resampling (:func:`scipy.signal.resample`, which also removes everything above the
    new Nyquist frequency), then a 2nd-order Butterworth band-pass, applied forward only
    (12 dB/octave per edge, as the acquisition filter that Andrzejak et al. 2001 report).

    Parameters
    ----------
    x : ndarray, shape (n_channels, n_times)
        Signals (any unit) at ``sfreq``.
    sfreq : float
        Their sampling rate (Hz).
    sfreq_out : float
        Target rate (Hz), Bonn's 173.61 by default.
    band : tuple of float
        Band-pass edges (Hz).

    Returns
    -------
    ndarray, shape (n_channels, round(n_times * sfreq_out / sfreq))
    """
    x = np.atleast_2d(np.asarray(x, float))
    n_out = int(round(x.shape[1] * sfreq_out / sfreq))
    y = signal.resample(x - x.mean(axis=1, keepdims=True), n_out, axis=1)
    sos = signal.butter(2, band, btype="bandpass", fs=sfreq_out, output="sos")
    return signal.sosfilt(sos, y, axis=1)


def segments(x: np.ndarray, n_times: int = BONN_N_TIMES, *, skip: int = 0) -> np.ndarray:
    """Cut channels into consecutive non-overlapping segments.

    Parameters
    ----------
    x : ndarray, shape (n_channels, n_total)
    n_times : int
        Segment length (samples); Bonn's 4097 by default (23.6 s at 173.61 Hz).
    skip : int
        Samples dropped at the start (filter transient).

    Returns
    -------
    ndarray, shape (n_channels * n_segments, n_times)
        Channel-major: all segments of channel 0 first.
    """
    x = np.atleast_2d(x)[:, skip:]
    n_seg = x.shape[1] // n_times
    if n_seg == 0:
        return np.empty((0, n_times))
    return x[:, : n_seg * n_times].reshape(x.shape[0] * n_seg, n_times)


def welch_psd(x: np.ndarray, sfreq: float, *, nperseg: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Welch PSD (Hann window, 50 % overlap, mean of periodograms).

    Parameters
    ----------
    x : ndarray, shape (..., n_times)
    sfreq : float
        Sampling rate (Hz).
    nperseg : int
        Window (samples); 512 = 2.95 s at 173.61 Hz, 0.34 Hz resolution.

    Returns
    -------
    freqs : ndarray, shape (n_freqs,)
        Hz.
    psd : ndarray, shape (..., n_freqs)
        Unit² / Hz.
    """
    return signal.welch(x, fs=sfreq, window="hann", nperseg=min(nperseg, np.shape(x)[-1]), axis=-1)


def psd_slope(freqs: np.ndarray, psd: np.ndarray, fmin: float = 2.0, fmax: float = 40.0) -> np.ndarray:
    """Slope of the least-squares line through log10 PSD against log10 frequency.

    Parameters
    ----------
    freqs : ndarray, shape (n_freqs,)
    psd : ndarray, shape (..., n_freqs)
    fmin, fmax : float
        Fit range (Hz), both ends included.

    Returns
    -------
    ndarray, shape (...)
        Exponent: 0 for white noise, −1 for pink (1/f) noise, −2 for brown noise.
    """
    sel = (freqs >= fmin) & (freqs <= fmax)
    lf = np.log10(freqs[sel])
    lp = np.log10(np.maximum(psd[..., sel], 1e-300))
    lf_c = lf - lf.mean()
    return (lp - lp.mean(axis=-1, keepdims=True)) @ lf_c / (lf_c @ lf_c)


def relative_band_power(freqs: np.ndarray, psd: np.ndarray) -> dict[str, np.ndarray]:
    """Power in each of :data:`BANDS` divided by the power in 0.53-40 Hz.

    Parameters
    ----------
    freqs : ndarray, shape (n_freqs,)
    psd : ndarray, shape (..., n_freqs)

    Returns
    -------
    dict of str to ndarray, shape (...)
        Fractions in [0, 1]; bins are summed, a bin belongs to a band when lo ≤ f < hi.
    """
    total = psd[..., (freqs >= BONN_BAND[0]) & (freqs < BONN_BAND[1])].sum(axis=-1)
    return {name: psd[..., (freqs >= lo) & (freqs < hi)].sum(axis=-1) / total
            for name, (lo, hi) in BANDS.items()}


def alpha_peak(freqs: np.ndarray, psd: np.ndarray, fmin: float = 7.0, fmax: float = 14.0) -> np.ndarray:
    """Frequency of the largest PSD value in ``[fmin, fmax]``, refined by a parabola through log power.

    Parameters
    ----------
    freqs : ndarray, shape (n_freqs,)
        Evenly spaced (Hz).
    psd : ndarray, shape (..., n_freqs)
    fmin, fmax : float
        Search range (Hz).

    Returns
    -------
    ndarray, shape (...)
        Hz. A peak on the edge of the range is returned unrefined.
    """
    idx = np.flatnonzero((freqs >= fmin) & (freqs <= fmax))
    lp = np.log(np.maximum(psd, 1e-300))
    k = idx[np.argmax(lp[..., idx], axis=-1)]
    df = freqs[1] - freqs[0]
    km, kp = np.clip(k - 1, 0, len(freqs) - 1), np.clip(k + 1, 0, len(freqs) - 1)
    a, b, c = (np.take_along_axis(lp, np.asarray(j)[..., None], -1)[..., 0] for j in (km, k, kp))
    den = a - 2 * b + c
    edge = (k == idx[0]) | (k == idx[-1]) | (den >= 0)
    shift = np.where(edge, 0.0, 0.5 * (a - c) / np.where(den == 0, -1.0, den))
    return freqs[k] + shift * df


def line_length(x: np.ndarray) -> np.ndarray:
    """Normalised line length: mean absolute first difference divided by the standard deviation.

    Line length (Esteller et al. 2001) is the mean |x[n] − x[n−1]|; dividing by the
    segment's standard deviation makes it independent of amplitude calibration, leaving
    its dependence on spectral content: ≈ 2/√π = 1.128 for white Gaussian noise, and
    (4√2/π)·sin(π f / sfreq) for a sine of frequency f.

    Parameters
    ----------
    x : ndarray, shape (..., n_times)

    Returns
    -------
    ndarray, shape (...)
        Dimensionless.
    """
    return np.abs(np.diff(x, axis=-1)).mean(axis=-1) / x.std(axis=-1)


def detect_spikes(x: np.ndarray, sfreq: float, *, band: tuple[float, float] = (10.0, 40.0), k: float = 3.65,
                  window_s: float = 5.0, step_s: float = 1.0, merge_ms: float = 200.0) -> list[np.ndarray]:
    """Interictal spike detection after Janca et al. (2015), simplified.

    As in Janca et al.: band-pass (their 10-60 Hz, here 10-40 Hz, the top of Bonn's band),
    Hilbert envelope, and a threshold that adapts to the background: in 5-s windows moved
    by 1 s the log envelope is fitted by a normal distribution (μ, σ), i.e. the envelope by a
    log-normal one, and the threshold is ``k · (mode + median) = k · (exp(μ − σ²) + exp(μ))``
    with their ``k = 3.65``, interpolated linearly between window centres. A detection is a
    run of envelope above the threshold; runs closer than ``merge_ms`` count once.
    Simplified: no 50 Hz notch (Bonn's band stops at 40 Hz), no second (polyspike) threshold
    and no minimum-duration rule. The threshold is relative, so the detector is scale-free;
    on band-limited Gaussian noise it sits ≈ 6 envelope SDs up (no detections in practice).

    Parameters
    ----------
    x : ndarray, shape (n_segments, n_times)
    sfreq : float
        Hz.
    band : tuple of float
        Band-pass before the envelope (Hz; 4th-order Butterworth, zero phase).
    k : float
        Threshold factor.
    window_s, step_s : float
        Background windows and their step (s).
    merge_ms : float
        Detections closer than this are one (ms).

    Returns
    -------
    list of ndarray
        Onset sample index of each detection, per segment.

    References
    ----------
    Janca R, Jezdik P, Cmejla R, et al. (2015). Detection of interictal epileptiform discharges
    using signal envelope distribution modelling: application to epileptic and non-epileptic
    intracranial recordings. Brain Topogr 28:172-183.
    """
    x = np.atleast_2d(np.asarray(x, float))
    sos = signal.butter(4, band, btype="bandpass", fs=sfreq, output="sos")
    env = np.abs(signal.hilbert(signal.sosfiltfilt(sos, x, axis=1), axis=1))
    n_t = x.shape[1]
    win, step = int(round(window_s * sfreq)), int(round(step_s * sfreq))
    starts = np.arange(0, max(n_t - win, 0) + 1, step)
    centres = starts + min(win, n_t) / 2
    merge = int(round(merge_ms * sfreq / 1000))
    out = []
    for e in env:
        le = np.log(np.maximum(e, 1e-300))
        w = np.lib.stride_tricks.sliding_window_view(le, min(win, n_t))[starts]
        mu, sd = w.mean(axis=1), w.std(axis=1)
        thr = np.interp(np.arange(n_t), centres, k * (np.exp(mu - sd ** 2) + np.exp(mu)))
        above = e > thr
        onsets = np.flatnonzero(above[1:] & ~above[:-1]) + 1
        kept: list[int] = []
        for o in onsets:
            if not kept or o - kept[-1] >= merge:
                kept.append(int(o))
        out.append(np.asarray(kept, int))
    return out


def rms_uv(x: np.ndarray) -> np.ndarray:
    """Root mean square (same unit as ``x``; reported for information, not compared)."""
    return np.sqrt(np.mean(np.square(x - x.mean(axis=-1, keepdims=True)), axis=-1))


def segment_stats(x: np.ndarray, sfreq: float = BONN_SFREQ) -> dict[str, np.ndarray]:
    """Every statistic of ``benchmarks/realism.py`` for each segment.

    Parameters
    ----------
    x : ndarray, shape (n_segments, n_times)
        Segments at Bonn's band and rate.
    sfreq : float
        Hz.

    Returns
    -------
    dict of str to ndarray, shape (n_segments,)
        ``psd_slope``, ``rel_delta`` … ``rel_beta``, ``alpha_peak_hz``, ``kurtosis`` (Fisher,
        0 for a Gaussian), ``skewness``, ``line_length`` (normalised), ``spikes_per_min``
        (:func:`detect_spikes`) and ``rms`` (informative only).
    """
    x = np.atleast_2d(np.asarray(x, float))
    f, p = welch_psd(x, sfreq)
    out = {"psd_slope": psd_slope(f, p)}
    out.update({f"rel_{k}": v for k, v in relative_band_power(f, p).items()})
    out["alpha_peak_hz"] = alpha_peak(f, p)
    out["kurtosis"] = stats.kurtosis(x, axis=-1, fisher=True)
    out["skewness"] = stats.skew(x, axis=-1)
    out["line_length"] = line_length(x)
    minutes = x.shape[-1] / sfreq / 60
    out["spikes_per_min"] = np.array([len(s) / minutes for s in detect_spikes(x, sfreq)])
    out["rms"] = rms_uv(x)
    return out


#: Master seeds from 1000 up are reserved for the sealed cohort (docs/evaluation.md).
MAX_DEV_SEED = 999


def development_parser(doc: str, *, seed: int, subjects: int, minutes: float, subjects_help: str,
                       minutes_help: str):
    """The shared command line of the simulation benchmarks: development seeds only.

    Returns an ``argparse.ArgumentParser`` with ``--world``, ``--subjects``,
    ``--minutes``, ``--seed``, ``--layout`` and ``--json``; call
    :func:`check_development_seed` on the parsed seed.
    """
    import argparse
    from pathlib import Path

    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0] + " Development seeds only (< 1000): "
                                 "the sealed cohort of docs/evaluation.md is never used here.")
    ap.add_argument("--world", choices=["v1", "v2", "both"], default="both")
    ap.add_argument("--subjects", type=int, default=subjects, help=subjects_help)
    ap.add_argument("--minutes", type=float, default=minutes, help=minutes_help)
    ap.add_argument("--seed", type=int, default=seed, help="development master seed, < 1000")
    root = Path(__file__).resolve().parents[1]
    ap.add_argument("--layout", type=Path, default=root.parent / "shared" / "data" / "ds004752")
    ap.add_argument("--json", type=Path, default=None, help="also write every figure to this JSON file")
    return ap


def check_development_seed(ap, seed: int) -> None:
    """Refuse (``ap.error``) a seed of the sealed cohort."""
    if not 0 <= seed <= MAX_DEV_SEED:
        ap.error(f"--seed must be a development seed (0-{MAX_DEV_SEED}); seeds from 1000 up are reserved "
                 "for the sealed cohort (docs/evaluation.md)")
