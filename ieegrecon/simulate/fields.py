"""Local fields of world v2: spatially correlated shaft activity and predictable nonlinearity.

* :func:`correlate_along_shafts`: the local 1/f activity of v1 is independent
  per contact; in v2 it is mixed with an exponential spatial kernel
  ``exp(-d / length)`` over contact distances (within and across shafts), as
  LFP correlations decay over millimetres (Kajikawa & Schroeder 2011; Lindén
  et al. 2011).
* :func:`predictable_nonlinearity`: a term whose conditional mean given the
  scalp is a nonlinear function of scalp-visible activity: from each
  contact's own open-field (cortical) signal ``u``, a rectified / second
  harmonic waveform (non-sinusoidal oscillations; Cole & Voytek 2017), an
  alpha-envelope baseline shift and envelope-dependent gain (Nikulin et al.
  2007; Mazaheri & Jensen 2008) and threshold-triggered transients (the
  firing-rate sigmoid of the neural mass). The scalp sums many columns whose
  nonlinear parts differ in sign and phase; a contact sees one column's.
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


def predictable_nonlinearity(u: np.ndarray, sfreq: float, alpha_hz: float, gain: float,
                             rng: np.random.Generator) -> np.ndarray:
    """Nonlinear function of each contact's own cortical signal.

    Parameters
    ----------
    u : ndarray, shape (n_contacts, n_times)
        The part of each contact's signal from open-field (scalp-visible)
        regions (V), at ``sfreq``.
    sfreq : float
        Sampling rate (Hz).
    alpha_hz : float
        Subject's alpha frequency (Hz).
    gain : float
        SD of the returned term relative to the SD of ``u``, per contact.
    rng : numpy.random.Generator
        Per-contact mixing weights of the four terms.

    Returns
    -------
    ndarray, shape (n_contacts, n_times)
        The nonlinear term (V).
    """
    sd = u.std(axis=-1, keepdims=True) + 1e-30
    z = u / sd
    env = alpha_envelope(z, sfreq, alpha_hz)
    harmonic = z ** 2 - 1.0                      # rectification, 2nd harmonic
    n_k = int(0.08 * sfreq)
    t = np.arange(n_k) / sfreq
    kernel = np.sin(np.pi * t / t[-1]) * np.exp(-t / 0.03)
    kernel /= kernel.sum()
    above = np.maximum(z - 1.5, 0.0)             # threshold-triggered transient
    trig = signal.lfilter(kernel, [1.0], above, axis=-1)
    shift = env - 1.0                             # envelope baseline shift
    gain_mod = (env - 1.0) * z                    # envelope-dependent gain
    terms = [harmonic, trig, shift, gain_mod]
    n_c = len(u)
    w = rng.uniform(0.5, 1.0, size=(4, n_c)) * rng.choice([-1.0, 1.0], size=(4, n_c))
    out = np.zeros_like(z)
    for k, term in enumerate(terms):
        term = term - term.mean(axis=-1, keepdims=True)
        out += w[k][:, None] * term / (term.std(axis=-1, keepdims=True) + 1e-30)
    out /= out.std(axis=-1, keepdims=True) + 1e-30
    return gain * sd * out
