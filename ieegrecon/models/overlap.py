"""Overlap-add of window predictions into continuous signals (CAST, the flow's draws).

:func:`add_windows` is the one overlap-add loop of the package, vectorized:
windows at a regular hop are added part by part (one numpy operation per
``hop`` samples of the window, not one per window), in an order that gives
each output sample its contributions in window order, so the sums are those
of the plain loop bit for bit (tests/test_training.py).
"""

from __future__ import annotations

import numpy as np


#: Fewest regular windows added with strided operations (fewer: the loop; measured faster for 2 windows).
VECTOR_MIN = 4


def taper(win: int, overlap: int) -> np.ndarray:
    """Flat-top window with raised-cosine ramps of ``overlap`` samples.

    Used as overlap-add weights; with windows every ``win - overlap``
    samples the ramps of neighbours sum to one.

    Returns
    -------
    w : ndarray, shape (win,)
    """
    w = np.ones(win)
    if overlap > 0:
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(overlap) + 0.5) / overlap)
        w[:overlap] = ramp
        w[-overlap:] = ramp[::-1]
    return w


def add_windows(out: np.ndarray, windows: np.ndarray, starts: np.ndarray,
                weights: np.ndarray | None = None) -> None:
    """``out[..., s:s + win] += windows[j] * weights`` for every window ``j`` in order, in place.

    The leading run of windows at a regular hop (every run :func:`~ieegrecon.models.training.window_starts`
    makes, but for its last window) is added with ``ceil(win / hop)`` strided numpy operations,
    the rest window by window. Parts are added from the window's end to its start, so every sample
    receives its contributions in increasing window order, as the loop adds them: the result is
    identical to the loop's, bit for bit, whatever the overlap.

    Parameters
    ----------
    out : ndarray, shape (..., total)
        Accumulator, written in place; ``total >= starts.max() + win``.
    windows : ndarray, shape (n_windows, ..., win)
        Window values; the middle axes match ``out``'s leading axes.
    starts : ndarray of int, shape (n_windows,)
        Start sample of each window in ``out``, increasing.
    weights : ndarray, shape (win,) | None
        Multiplies every window before it is added (None: added as is).

    Raises
    ------
    ValueError
        If a window would end past ``out``.
    """
    starts = np.asarray(starts, dtype=np.int64)
    n, win = len(starts), windows.shape[-1]
    if n == 0:
        return
    if int(starts.max()) + win > out.shape[-1]:
        raise ValueError(f"windows end at {int(starts.max()) + win}, past the {out.shape[-1]} samples of out")
    steps = np.diff(starts)
    hop = int(steps[0]) if n > 1 else 0
    n_reg = 1 + int(np.argmin(steps == hop)) if n > 1 and not np.all(steps == hop) else n
    if n_reg >= VECTOR_MIN and 0 < hop:
        w = None if weights is None else np.asarray(weights)
        item, s0 = out.strides[-1], int(starts[0])
        for p in reversed(range(-(-win // hop))):  # the window's last part first: window order per sample
            a, b = p * hop, min((p + 1) * hop, win)
            part = np.moveaxis(windows[:n_reg, ..., a:b], 0, -2)  # (..., n_reg, b - a)
            if w is not None:
                part = part * w[a:b]
            view = out[..., s0 + a:]
            target = np.lib.stride_tricks.as_strided(
                view, shape=view.shape[:-1] + (n_reg, b - a), strides=view.strides[:-1] + (hop * item, item),
                writeable=True)
            target += part
    else:
        n_reg = 0
    for j in range(n_reg, n):
        s = int(starts[j])
        out[..., s:s + win] += windows[j] if weights is None else windows[j] * weights


def weight_sum(weights: np.ndarray, starts: np.ndarray, total: int) -> np.ndarray:
    """The overlap-add's divisor: ``weights`` added at every start, shape (total,), float64.

    ``out[s:s + win] += weights`` for each ``s`` in ``starts``, in order (:func:`add_windows`), on
    ``np.zeros(total)``.
    """
    out = np.zeros(total)
    add_windows(out, np.broadcast_to(weights, (len(starts), len(weights))), starts)
    return out


def overlap_add(windows: np.ndarray, starts: np.ndarray, n_times: int, weights: np.ndarray) -> np.ndarray:
    """Blend window predictions into one continuous signal.

    Parameters
    ----------
    windows : ndarray, shape (n_windows, n_channels, win)
    starts : ndarray of int, shape (n_windows,)
    n_times : int
        Length of the output (samples past it are dropped).
    weights : ndarray, shape (win,)
        Per-sample weights (e.g. :func:`taper`); the weighted sum is divided by
        the summed weights, so any positive window works.

    Returns
    -------
    out : ndarray, shape (n_channels, n_times)
    """
    _n_win, n_ch, win = windows.shape
    total = max(n_times, int(starts.max()) + win)
    out = np.zeros((n_ch, total))
    w = np.maximum(np.asarray(weights, float), 1e-3)
    add_windows(out, windows, starts, w)
    return out[:, :n_times] / weight_sum(w, starts, total)[:n_times]
