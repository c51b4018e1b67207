"""Physics checks of a simulated subject (used by the tests and benchmarks/bench_simulate.py)."""

from __future__ import annotations

import numpy as np


def half_split_ridge_r(x: np.ndarray, y: np.ndarray, lags: range = range(-5, 6), alpha: float = 1.0) -> np.ndarray:
    """Closed-form lagged ridge from ``x`` to ``y``: fit on the first half, Pearson r on the second.

    Both signals are band-passed 1-40 Hz (4th-order Butterworth, zero phase) at 200 Hz first.

    Parameters
    ----------
    x : ndarray, shape (n_scalp, n_times)
        Scalp EEG at 200 Hz.
    y : ndarray, shape (n_contacts, n_times)
        iEEG at 200 Hz.
    lags : range
        Sample lags (``np.roll`` shifts).
    alpha : float
        Ridge penalty relative to the number of training samples.

    Returns
    -------
    ndarray, shape (n_contacts,)
        Pearson r per contact on the second half.
    """
    from scipy import signal

    sos = signal.butter(4, [1.0, 40.0], btype="bandpass", fs=200.0, output="sos")
    x = signal.sosfiltfilt(sos, x, axis=1)
    y = signal.sosfiltfilt(sos, y, axis=1)
    z = np.vstack([np.roll(x, lag, axis=1) for lag in lags])
    n = z.shape[1] // 2
    mu, sd = z[:, :n].mean(1, keepdims=True), z[:, :n].std(1, keepdims=True)
    zt, zv = (z[:, :n] - mu) / sd, (z[:, n:] - mu) / sd
    w = np.linalg.solve(zt @ zt.T + alpha * n * np.eye(len(zt)), zt @ y[:, :n].T)
    pred = w.T @ zv
    return np.array([np.corrcoef(p, t)[0, 1] for p, t in zip(pred, y[:, n:])])


def _band(x: np.ndarray, sfreq: float) -> np.ndarray:
    from scipy import signal

    sos = signal.butter(4, [1.0, 40.0], btype="bandpass", fs=sfreq, output="sos")
    return signal.sosfiltfilt(sos, x, axis=-1)


def _ridge_fit(z: np.ndarray, y: np.ndarray, n: int, alpha: float) -> np.ndarray:
    """Standardize rows of ``z`` on the first ``n`` samples, fit ridge to ``y[:, :n]``; predict all samples."""
    mu, sd = z[:, :n].mean(1, keepdims=True), z[:, :n].std(1, keepdims=True) + 1e-30
    zs = (z - mu) / sd
    w = np.linalg.solve(zs[:, :n] @ zs[:, :n].T + alpha * n * np.eye(len(zs)), zs[:, :n] @ y[:, :n].T)
    return w.T @ zs


def nonlinear_features(x: np.ndarray, n: int, sfreq: float, alpha_hz: float, n_pc: int = 3) -> np.ndarray:
    """Squared, rectified and envelope features of the scalp's leading principal components.

    Parameters
    ----------
    x : ndarray, shape (n_scalp, n_times)
        Band-passed scalp EEG.
    n : int
        Training samples (the components come from them).
    sfreq, alpha_hz : float
        Sampling rate and alpha frequency (Hz).
    n_pc : int
        Components used.

    Returns
    -------
    ndarray, shape (7 * n_pc + 1, n_times)
        Per component ``q``: ``q²``, ``|q|``, ``max(q, 0)`` now and 25 and 50 ms
        later, ``q·e``, ``e`` (its alpha envelope); plus the mean envelope.
    """
    from .fields import alpha_envelope

    xc = x - x[:, :n].mean(axis=1, keepdims=True)
    _, vec = np.linalg.eigh(xc[:, :n] @ xc[:, :n].T)
    q = vec[:, ::-1][:, :n_pc].T @ xc
    q /= q[:, :n].std(axis=1, keepdims=True) + 1e-30
    env = alpha_envelope(q, sfreq, alpha_hz)
    d1, d2 = int(0.025 * sfreq), int(0.05 * sfreq)
    rect = np.maximum(q - 1.0, 0.0)
    feats = [q ** 2, np.abs(q), rect, np.roll(rect, d1, axis=1), np.roll(rect, d2, axis=1), q * env, env]
    return np.vstack(feats + [env.mean(axis=0, keepdims=True)])


def headroom_r(x: np.ndarray, y: np.ndarray, sfreq: float = 200.0, lags: range = range(-5, 6),
               alpha: float = 1.0, alpha_hz: float = 10.0) -> tuple[np.ndarray, np.ndarray]:
    """Lagged ridge vs a simple nonlinear feature regression, fit on the first half, r on the second.

    Both signals are band-passed 1-40 Hz first. The linear model is the
    closed-form lagged ridge of :func:`half_split_ridge_r`. The nonlinear one
    adds a second ridge, fit to the first one's training residual, on
    :func:`nonlinear_features` of the scalp (band-passed like the signals).

    Parameters
    ----------
    x : ndarray, shape (n_scalp, n_times)
        Scalp EEG at ``sfreq``.
    y : ndarray, shape (n_contacts, n_times)
        iEEG at ``sfreq``.
    sfreq : float
        Sampling rate (Hz).
    lags : range
        Sample lags of the linear model.
    alpha : float
        Ridge penalty relative to the number of training samples.
    alpha_hz : float
        Centre of the alpha band of the envelope features (Hz).

    Returns
    -------
    r_linear, r_nonlinear : ndarray, shape (n_contacts,)
        Pearson r per contact on the second half.
    """
    x, y = _band(x, sfreq), _band(y, sfreq)
    n = x.shape[1] // 2
    pred = _ridge_fit(np.vstack([np.roll(x, lag, axis=1) for lag in lags]), y, n, alpha)
    feats = _band(nonlinear_features(x, n, sfreq, alpha_hz), sfreq)
    out = pred + _ridge_fit(feats, y - pred, n, 0.1 * alpha)
    r = [np.array([np.corrcoef(a[n:], b[n:])[0, 1] for a, b in zip(q, y)]) for q in (pred, out)]
    return r[0], r[1]
