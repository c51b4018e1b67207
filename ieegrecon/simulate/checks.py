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
