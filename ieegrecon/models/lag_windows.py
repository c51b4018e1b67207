"""Lagged weights applied as one matrix product per block of time (the fast path of ``apply_lagged``).

``y[o, t] = sum_c sum_j w[o, c, j] x[c, t - lags[j]]`` is a multichannel FIR filter.
Applied one lag at a time (:func:`~ieegrecon.models.lagged.apply_lagged`'s general path)
it is ``n_lags`` thin products (inner dimension ``n_channels``) that each sweep the whole
output, which runs far below the machine's matrix-product speed. For consecutive integer
lags the lagged copies of a block of time are a sliding window over the zero-padded
signal (:func:`numpy.lib.stride_tricks.sliding_window_view`): copied once per block into
a (block, n_channels * n_lags) matrix, one product with inner dimension
``n_channels * n_lags`` gives the block's output. The sums are the same up to the order of
additions (relative difference ~1e-15).
"""

from __future__ import annotations

import numpy as np

from .._threads import ordered_map

#: Samples per block: the block's window matrix (block x 779 float64 for 19 channels x 41 lags,
#: 6 MiB) stays in cache-sized pieces.
BLOCK = 1024


def consecutive(lags: np.ndarray) -> bool:
    """Whether ``lags`` are consecutive increasing integers (the fast path's condition)."""
    lags = np.asarray(lags)
    return len(lags) > 1 and bool(np.all(np.diff(lags) == 1))


def apply_windows(coef: np.ndarray, x: np.ndarray, lags: np.ndarray, block: int = BLOCK) -> np.ndarray:
    """``coef @ lag_matrix(x, lags).T`` for consecutive integer lags, block by block.

    Parameters
    ----------
    coef : ndarray, shape (n_out, n_channels * n_lags)
        Weights in :func:`~ieegrecon.models.lagged.lag_matrix` column order.
    x : ndarray, shape (n_channels, n_times)
    lags : ndarray of int, shape (n_lags,)
        Consecutive increasing integers (:func:`consecutive`); positive lag = the past.
    block : int
        Output samples per matrix product.

    Returns
    -------
    ndarray, shape (n_out, n_times), float64
        Samples whose lagged source falls outside ``x`` count as zero, as in
        :func:`~ieegrecon.models.lagged.lag_matrix`.
    """
    from numpy.lib.stride_tricks import sliding_window_view

    n_ch, n_t = x.shape
    n_lags, lag_max = len(lags), int(lags[-1])
    # xp[c, t + lag_max - lag] = x[c, t - lag]: window offset k = lag_max - lag, so lags run backwards
    xp = np.zeros((n_ch, n_t + n_lags - 1))
    s0, s1 = max(0, lag_max), min(n_t + n_lags - 1, n_t + lag_max)
    if s1 > s0:
        xp[:, s0:s1] = x[:, s0 - lag_max: s1 - lag_max]
    w = np.asarray(coef, float).reshape(coef.shape[0], n_ch, n_lags)[:, :, ::-1].reshape(coef.shape[0], -1)
    y = np.empty((coef.shape[0], n_t))

    def one_block(a: int) -> None:  # writes y[:, a:b] only: blocks run side by side on the policy's workers
        b = min(n_t, a + block)
        win = sliding_window_view(xp[:, a: b + n_lags - 1], n_lags, axis=1)  # (n_ch, b - a, n_lags)
        y[:, a:b] = w @ np.ascontiguousarray(win.transpose(1, 0, 2)).reshape(b - a, -1).T

    for _ in ordered_map(one_block, range(0, n_t, block)):
        pass
    return y
