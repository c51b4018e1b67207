"""Null-space completion: fill missing BOLD frames, keeping measured frames exactly.

The sampling operator keeps the measured frames ``K``; the missing frames
``M`` are its null space. The output on ``M`` is the Gaussian-process
(kriging) conditional mean with the EEG model as prior mean:

1. the prior mean is the model prediction ``m``, calibrated per vertex on the
   measured frames by least squares (``a m + b``; universal kriging with the
   prediction as a regressor, Cressie 1993 §3.4), the gain optionally shrunk
   towards 1 and the offset optionally fixed at 0 (simple kriging);
2. the residual ``r = y - (a m + b)`` is a stationary Gaussian process in time
   with a Matérn-5/2 correlation of length ``length`` frames plus a white
   ``nugget`` (Rasmussen & Williams 2006, eq. 2.19 and 4.17);
3. optionally (``trend > 0``), slow scanner drift: Legendre polynomials of
   order 1..``trend`` in the frame index over the whole run (the polynomial
   nuisance regressors of fMRI GLMs, e.g. AFNI's ``-polort``), fitted per
   vertex to ``y - (a m + b)`` on the measured frames by ridge
   (:data:`TREND_PENALTY`) and added to the prior mean;
4. ``x_M = a m_M + b + T_M c + C_MK (C_KK + nugget I)^-1 r_K``, and ``x_K = y_K``
   copied bit for bit.

The kernel is shared by all vertices, so one ``|M| x |K|`` matrix serves the
whole mesh. Its parameters (length, nugget, offset, gain shrinkage, trend
order) are chosen in :func:`fit_kernel` by hiding frames of training
subjects, at random and as one contiguous block. With a prior of zeros (no EEG) the same code is
the ``gp-only`` baseline.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

LENGTHS = (1.0, 2.0, 3.0, 5.0, 8.0, 13.0)
NUGGETS = (0.01, 0.05, 0.2, 0.5)
OFFSETS = (True, False)
GAIN_SHRINKS = (0.0, 100.0, 1000.0)
#: Polynomial drift orders searched by :func:`fit_kernel` (0: no trend).
TRENDS = (0, 2)
#: Ridge penalty of the drift coefficients (sum of squares over the measured frames; chosen on development seeds).
TREND_PENALTY = 10.0


def matern52(lag: np.ndarray, length: float) -> np.ndarray:
    """Matérn-5/2 correlation at ``lag`` (frames)."""
    d = np.sqrt(5.0) * np.abs(lag) / length
    return (1.0 + d + d * d / 3.0) * np.exp(-d)


def parse_frames(spec: str, n_frames: int, path: str | None = None) -> np.ndarray:
    """Parse ``'0,5,10-20'`` (inclusive ranges) into sorted unique frame indices.

    Raises
    ------
    ValueError
        On a malformed item or an index outside ``[0, n_frames)``.
    """
    out: list[int] = []
    for item in spec.replace("\n", ",").replace(" ", ",").split(","):
        if not item:
            continue
        if "-" in item[1:]:
            lo, hi = item.split("-", 1)
            a, b = int(lo), int(hi)
            if b < a:
                raise ValueError(f"range {item!r} is decreasing")
            out.extend(range(a, b + 1))
        else:
            out.append(int(item))
    idx = np.unique(np.array(out, dtype=np.int64))
    if idx.size and (idx[0] < 0 or idx[-1] >= n_frames):
        raise ValueError(f"frame indices must lie in 0..{n_frames - 1}")
    return idx


def complete(prior: np.ndarray, known: np.ndarray, known_idx: np.ndarray, *, length: float = 3.0,
             nugget: float = 0.1, calibrate: bool = True, offset: bool = True,
             gain_shrink: float = 0.0, weights: np.ndarray | None = None, trend: int = 0) -> np.ndarray:
    """Complete a frame sequence from a prior prediction and measured frames.

    Parameters
    ----------
    prior : ndarray, shape (n_frames, n_vertices)
        Model (EEG-only) prediction.
    known : ndarray, shape (n_known, n_vertices)
        Measured frames, in the order of ``known_idx``.
    known_idx : ndarray of int, shape (n_known,)
        Their frame indices (distinct).
    length, nugget : float
        Matérn-5/2 length (frames) and white-noise fraction of the residual.
    calibrate : bool
        Fit ``a m + b`` per vertex on the measured frames (needs ≥ 3 of them).
    offset : bool
        Fit the offset ``b``; when False, ``b = 0``: the prediction and the
        frames share their zero (both percent change about the run mean), and
        the missing frames' mean is not re-estimated from the measured ones.
    gain_shrink : float
        Shrink the gain towards 1 as if ``gain_shrink`` extra frames had
        shown gain 1: ``a = (n_K a_ls + gain_shrink) / (n_K + gain_shrink)``.
    weights : ndarray, shape (n_missing, n_known) | None
        :func:`gp_weights` for these frames, ``length`` and ``nugget`` (computed when None).
    trend : int
        Order of the per-vertex polynomial drift fitted on the measured
        frames (:func:`drift_basis`; 0: none).

    Returns
    -------
    ndarray, shape (n_frames, n_vertices)
        ``out[known_idx]`` is ``known`` exactly.

    Raises
    ------
    ValueError
        If shapes disagree or indices repeat / fall outside the sequence.
    """
    prior = np.asarray(prior, dtype=float)
    known = np.asarray(known)
    known_idx = np.asarray(known_idx, dtype=np.int64)
    n, v = prior.shape
    if known.shape != (known_idx.size, v):
        raise ValueError(f"known frames have shape {known.shape}, expected {(known_idx.size, v)}")
    if np.unique(known_idx).size != known_idx.size or (known_idx.size and
                                                      (known_idx.min() < 0 or known_idx.max() >= n)):
        raise ValueError("known frame indices must be distinct and within the sequence")
    out = prior.copy()
    if known_idx.size == 0:
        return out
    miss = np.setdiff1d(np.arange(n), known_idx)
    mk = prior[known_idx]
    yk = known.astype(float)
    a, b = np.ones(v), np.zeros(v)
    if calibrate and known_idx.size >= 3:
        mc = mk - mk.mean(axis=0) if offset else mk
        yc = yk - yk.mean(axis=0) if offset else yk
        a = np.clip((mc * yc).sum(axis=0) / np.maximum((mc * mc).sum(axis=0), 1e-12), 0.0, None)
        a = (known_idx.size * a + gain_shrink) / (known_idx.size + gain_shrink)
        if offset:
            b = yk.mean(axis=0) - a * mk.mean(axis=0)
    base = a * prior + b
    r = yk - base[known_idx]
    if trend > 0:
        t = drift_basis(n, trend)
        tk = t[known_idx]
        base = base + t @ np.linalg.solve(tk.T @ tk + TREND_PENALTY * np.eye(trend), tk.T @ r)
        r = yk - base[known_idx]
    if miss.size:
        g = gp_weights(known_idx, miss, length, nugget) if weights is None else weights
        out[miss] = base[miss] + g @ r
    out = out.astype(np.result_type(known.dtype, np.float32) if known.dtype.kind == "f" else float)
    out[known_idx] = known
    return out


def drift_basis(n_frames: int, order: int) -> np.ndarray:
    """Legendre polynomials of order 1..``order`` over the run (frame index mapped to [-1, 1]).

    Returns
    -------
    ndarray, shape (n_frames, order)
    """
    s = np.linspace(-1.0, 1.0, n_frames)
    return np.polynomial.legendre.legvander(s, order)[:, 1:]


def gp_weights(known_idx: np.ndarray, miss: np.ndarray, length: float, nugget: float) -> np.ndarray:
    """Kriging weights ``C_MK (C_KK + nugget I)^-1`` of the Matérn-5/2 residual process.

    Parameters
    ----------
    known_idx, miss : ndarray of int
        Measured and missing frame indices.
    length, nugget : float

    Returns
    -------
    ndarray, shape (miss.size, known_idx.size)
    """
    ckk = matern52(known_idx[:, None] - known_idx[None, :], length) * (1.0 - nugget)
    ckk[np.diag_indices_from(ckk)] += nugget
    cmk = matern52(miss[:, None] - known_idx[None, :], length) * (1.0 - nugget)
    return np.linalg.solve(ckk, cmk.T).T


def linear_interpolation(known: np.ndarray, known_idx: np.ndarray, n_frames: int) -> np.ndarray:
    """Baseline: per-vertex linear interpolation in time (constant beyond the ends).

    Returns
    -------
    ndarray, shape (n_frames, n_vertices)
    """
    known_idx = np.asarray(known_idx)
    order = np.argsort(known_idx)
    ki, kv = known_idx[order], np.asarray(known, float)[order]
    t = np.arange(n_frames)
    j = np.clip(np.searchsorted(ki, t), 1, max(ki.size - 1, 1))
    if ki.size == 1:
        return np.repeat(kv, n_frames, axis=0)
    t0, t1 = ki[j - 1], ki[j]
    w = np.clip((t - t0) / (t1 - t0), 0.0, 1.0)[:, None]
    return (1 - w) * kv[j - 1] + w * kv[j]


def random_mask(n_frames: int, frac_missing: float, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of the frames kept (measured) when ``frac_missing`` are dropped at random."""
    n_miss = round(frac_missing * n_frames)
    return np.sort(rng.choice(n_frames, n_frames - n_miss, replace=False))


def contiguous_mask(n_frames: int, frac_missing: float, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of the frames kept when one block of ``frac_missing`` frames, at a random start, is dropped."""
    n_miss = round(frac_missing * n_frames)
    start = int(rng.integers(0, n_frames - n_miss + 1))
    return np.setdiff1d(np.arange(n_frames), np.arange(start, start + n_miss))


def fit_kernel(pairs: Sequence[tuple[np.ndarray, np.ndarray]], rng: np.random.Generator, *,
               frac_missing: float = 0.5, max_series: int = 1000) -> dict:
    """Choose the Matérn length and nugget by completing hidden frames of training subjects.

    Each subject is scored twice, with ``frac_missing`` of its frames hidden at
    random and as one contiguous block; the two errors are summed.

    Parameters
    ----------
    pairs : sequence of (prior, truth), each ndarray shape (n_frames, n_series)
        Held-out model predictions and the true BOLD of training subjects.
    rng : numpy.random.Generator
    frac_missing : float
        Fraction of frames hidden.
    max_series : int
        Columns sampled per subject (speed).

    Returns
    -------
    dict
        ``{'length': float, 'nugget': float, 'offset': bool, 'gain_shrink': float, 'trend': int,
        'mse': float}``.
    """
    trials = []
    for prior, truth in pairs:
        cols = rng.choice(truth.shape[1], min(max_series, truth.shape[1]), replace=False)
        cols = cols[np.std(truth[:, cols], axis=0) > 0]
        for mask in (random_mask, contiguous_mask):
            trials.append((prior[:, cols], truth[:, cols], mask(truth.shape[0], frac_missing, rng)))
    flat = all(not np.any(p) for p, _, _ in trials)  # no EEG: the gain is moot
    err: dict = {}
    for prior, truth, keep in trials:
        miss = np.setdiff1d(np.arange(truth.shape[0]), keep)
        for length, nug in itertools.product(LENGTHS, NUGGETS):
            g = gp_weights(keep, miss, length, nug)
            for off, shrink, order in itertools.product(OFFSETS, GAIN_SHRINKS[:1] if flat else GAIN_SHRINKS, TRENDS):
                c = complete(prior, truth[keep], keep, length=length, nugget=nug, offset=off, gain_shrink=shrink,
                             weights=g, trend=order)
                err.setdefault((length, nug, off, shrink, order), []).append(np.mean((c[miss] - truth[miss]) ** 2))
    key = min(err, key=lambda k: float(np.mean(err[k])))
    return {**dict(zip(("length", "nugget", "offset", "gain_shrink", "trend"), key)), "mse": float(np.mean(err[key]))}
