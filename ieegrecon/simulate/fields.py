"""Local fields of world v2: spatially correlated shaft activity and predictable nonlinearity.

* :func:`correlate_along_shafts`: the local 1/f activity of v1 is independent
  per contact; in v2 it is mixed with an exponential spatial kernel
  ``exp(-d / length)`` over contact distances (within and across shafts), as
  LFP correlations decay over millimetres (Kajikawa & Schroeder 2011; Lindén
  et al. 2011).
* :func:`nonlinear_terms`: a term whose conditional mean given the scalp is
  a nonlinear function of scalp-visible activity: of the dominant cortical
  mode of the scalp (:func:`dominant_mode`), a rectified / second-harmonic
  waveform (non-sinusoidal oscillations; Cole & Voytek 2017), an
  alpha-envelope baseline shift and envelope-dependent gain (Nikulin et al.
  2007; Mazaheri & Jensen 2008) and threshold-triggered transients (the
  firing-rate sigmoid of the neural mass), mixed per contact. The scalp sums
  many columns whose nonlinear parts differ in sign and phase; a contact sees
  a local one.
"""

from __future__ import annotations

import numpy as np
from scipy import signal


def contact_distances(pos_m: np.ndarray) -> np.ndarray:
    """Pairwise distances (m), shape (n_contacts, n_contacts)."""
    return np.linalg.norm(pos_m[:, None] - pos_m[None], axis=2)


def correlate_along_shafts(local: np.ndarray, pos_m: np.ndarray, length_m: float) -> np.ndarray:
    """Mix independent unit processes with an exponential spatial kernel.

    Parameters
    ----------
    local : ndarray, shape (n_contacts, n_times)
        Independent processes of equal variance (V).
    pos_m : ndarray, shape (n_contacts, 3)
        Contact positions (m).
    length_m : float
        Length constant (m) of ``exp(-d / length)``.

    Returns
    -------
    ndarray, shape (n_contacts, n_times)
        Same per-contact variance, correlation ``exp(-d_ij / length)`` between contacts.
    """
    cov = np.exp(-contact_distances(pos_m) / length_m)
    chol = np.linalg.cholesky(cov + 1e-9 * np.eye(len(cov)))
    return chol @ local


def _smooth(x: np.ndarray, sfreq: float, seconds: float) -> np.ndarray:
    """Moving average (zero phase) along the last axis."""
    n = max(1, int(seconds * sfreq))
    return signal.filtfilt(np.ones(n) / n, [1.0], x, axis=-1)


def alpha_envelope(z: np.ndarray, sfreq: float, alpha_hz: float) -> np.ndarray:
    """Alpha-band amplitude envelope normalised to mean 1, smoothed over 0.25 s; shape of ``z``."""
    sos = signal.butter(3, [max(1.0, alpha_hz - 2.0), alpha_hz + 2.0], btype="bandpass", fs=sfreq, output="sos")
    env = np.abs(signal.hilbert(signal.sosfiltfilt(sos, z, axis=-1), axis=-1))
    env = _smooth(env, sfreq, 0.25)
    return env / (env.mean(axis=-1, keepdims=True) + 1e-30)


def dominant_mode(scalp_clean: np.ndarray) -> np.ndarray:
    """Time course of the first principal component of a clean scalp signal, unit SD, shape (n_times,)."""
    x = scalp_clean - scalp_clean.mean(axis=1, keepdims=True)
    _, vec = np.linalg.eigh(x @ x.T)
    d = vec[:, -1] @ x
    return d / (d.std() + 1e-30)


def nonlinear_terms(d: np.ndarray, amp: np.ndarray, sfreq: float, alpha_hz: float,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Nonlinear functions of the dominant scalp-visible cortical mode and their per-contact mix.

    Parameters
    ----------
    d : ndarray, shape (n_times,)
        The dominant cortical mode seen on the scalp (unit SD), at ``sfreq``
        (:func:`dominant_mode`).
    amp : ndarray, shape (n_contacts,)
        SD of the term at each contact (V).
    sfreq : float
        Sampling rate (Hz).
    alpha_hz : float
        Subject's alpha frequency (Hz).
    rng : numpy.random.Generator
        Per-contact mixing weights and signs of the four terms.

    Returns
    -------
    mix : ndarray, shape (n_contacts, 4)
        Mixing matrix (V): the term at the contacts is ``mix @ terms``, with SD ``amp``.
    terms : ndarray, shape (4, n_times)
        Unit-SD terms: ``d² − 1`` (rectification, 2nd harmonic), transients
        triggered when ``d > 1.5``, the alpha-envelope baseline shift, and
        envelope × ``d`` (state-dependent gain).
    """
    env = alpha_envelope(d[None], sfreq, alpha_hz)[0]
    n_k = int(0.08 * sfreq)
    t = np.arange(n_k) / sfreq
    kernel = np.sin(np.pi * t / t[-1]) * np.exp(-t / 0.03)
    trig = signal.lfilter(kernel / kernel.sum(), [1.0], np.maximum(d - 1.5, 0.0))
    terms = np.vstack([d ** 2 - 1.0, trig, env - 1.0, (env - 1.0) * d])
    terms -= terms.mean(axis=1, keepdims=True)
    terms /= terms.std(axis=1, keepdims=True) + 1e-30
    w = rng.uniform(0.5, 1.0, size=(len(amp), 4)) * rng.choice([-1.0, 1.0], size=(len(amp), 4))
    sd = np.sqrt(np.einsum("ck,kl,cl->c", w, np.cov(terms, bias=True), w)) + 1e-30
    return amp[:, None] * w / sd[:, None], terms
