"""Lagged linear filters: the lag matrix, chunked Gram sums, blocked-CV ridge and the lag prior.

Shared by :class:`~ieegrecon.models.ridge.RidgeModel` (within-subject lagged
ridge) and the residual ridge of :class:`~ieegrecon.models.cast.CastModel`.
A contact is a linear function of all scalp channels at lags from
``-max_lag`` to ``+max_lag`` (a multichannel FIR filter, as in temporal
response function / backward models: Crosse et al. 2016, mTRF). The lag
matrix is never built whole: per-fold sums (Gram matrices) are accumulated
over chunks of :data:`CHUNK_ROWS` rows, so memory does not grow with the
recording length.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..metrics import pearson_r
from .lag_pieces import piece_ids, same_piece
from .lag_windows import apply_windows, consecutive

#: Rows of the lag matrix built at once by the chunked ridge fit (60 s at 200 Hz).
CHUNK_ROWS = 12_000


def lag_matrix(x: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """Stack time-shifted copies of ``x`` (zeros outside the signal, and across pieces: :mod:`.lag_pieces`).

    Parameters
    ----------
    x : ndarray, shape (n_channels, n_times)
    lags : ndarray of int, shape (n_lags,)
        Positive lag = the past (``x[t - lag]``).

    Returns
    -------
    ndarray, shape (n_times, n_channels * n_lags)
        Column ``c * n_lags + j`` holds channel ``c`` at lag ``lags[j]``.
    """
    return lag_rows(x, lags, 0, x.shape[1])


def apply_lagged(coef: np.ndarray, x: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """Apply lagged weights: the same as ``coef @ lag_matrix(x, lags).T``, one lag at a time.

    Parameters
    ----------
    coef : ndarray, shape (n_out, n_channels * n_lags)
        Weights in :func:`lag_matrix` column order.
    x : ndarray, shape (n_channels, n_times)
    lags : ndarray of int, shape (n_lags,)

    Returns
    -------
    ndarray, shape (n_out, n_times)
        The lag matrix is never built (consecutive lags: :func:`.lag_windows.apply_windows`).
    """
    n_ch, n_t = x.shape
    ids = piece_ids(n_t)
    if ids is None and consecutive(lags):
        return apply_windows(coef, x, lags)
    w, y = np.asarray(coef).reshape(coef.shape[0], n_ch, len(lags)), np.zeros((coef.shape[0], n_t))
    for j, lag in enumerate(lags):
        lo, hi = max(0, lag), min(n_t, n_t + lag)  # outputs t with 0 <= t - lag < n_t
        src = x[:, lo - lag: hi - lag]
        if hi > lo:
            y[:, lo:hi] += w[:, :, j] @ (src if ids is None else src * same_piece(ids, lo, hi, lag))
    return y


def lag_prior_cov(coefs: list[np.ndarray], n_lags: int) -> np.ndarray:
    """Population second moment of the lag profiles of lagged filters: a cross-subject prior.

    Each filter (one contact's weights over channels x lags) is scaled to
    unit norm, so that every contact counts once whatever its amplitude; the
    lag profile of every (contact, channel) pair then contributes its outer
    product. The result, scaled to trace ``n_lags``, is the prior covariance
    of a profile: used as the ridge penalty ``w' (I (x) S)^-1 w``
    (:func:`fit_residual_ridge`, ``lag_cov``), it is empirical-Bayes ridge
    regression with a prior learned on other subjects (multi-task /
    hierarchical ridge; Hastie, Tibshirani & Friedman 2009, §3.4; Crosse et
    al. 2016 regularize mTRF filters in lag for the same reason).

    Parameters
    ----------
    coefs : list of ndarray, each shape (n_contacts, n_channels * n_lags)
        Filters in :func:`lag_matrix` column order (e.g.
        ``RidgeModel.coef_`` of several subjects); channel sets may differ.
    n_lags : int

    Returns
    -------
    ndarray, shape (n_lags, n_lags)
        Symmetric positive semi-definite, trace ``n_lags``.

    Raises
    ------
    ValueError
        No filter, or a filter length that is not a multiple of ``n_lags``.
    """
    rows = []
    for c in coefs:
        c = np.asarray(c, float)
        if c.ndim != 2 or c.shape[1] % n_lags:
            raise ValueError(f"filters of shape {c.shape} do not split into {n_lags} lags")
        norm = np.linalg.norm(c, axis=1)
        c = c[norm > 0] / norm[norm > 0, None]
        rows.append(c.reshape(-1, n_lags))
    prof = np.concatenate(rows) if rows else np.zeros((0, n_lags))
    if not len(prof):
        raise ValueError("lag_prior_cov needs at least one non-zero filter")
    S = prof.T @ prof
    return S * (n_lags / np.trace(S))


def _psd_sqrt(S: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric positive semi-definite matrix."""
    evals, evecs = np.linalg.eigh(S)
    return (evecs * np.sqrt(np.clip(evals, 0, None))) @ evecs.T


def _in_basis(A: np.ndarray, T: np.ndarray) -> np.ndarray:
    """``(I (x) T') @ A`` for A of shape (n_channels * n_lags, ...) and T of shape (n_lags, n_basis).

    T symmetric and square (a lag prior's square root): ``(I (x) T) @ A``, shape unchanged. T
    rectangular (a truncated basis): the result has ``n_channels * n_basis`` rows.
    """
    L = T.shape[0]
    out = np.einsum("cik,il->clk", A.reshape(-1, L, int(np.prod(A.shape[1:], dtype=int))), T)
    return out.reshape((-1,) + A.shape[1:])


def _stats_in_basis(st: dict[str, np.ndarray], T: np.ndarray) -> dict[str, np.ndarray]:
    """Fold sums of the features ``X (I (x) T)`` from those of ``X``."""
    return {"n": st["n"], "y": st["y"], "x": _in_basis(st["x"], T), "xy": _in_basis(st["xy"], T),
            "xx": _in_basis(_in_basis(st["xx"], T).T, T).T}


def fit_residual_ridge(z: np.ndarray, lags: np.ndarray, Y: np.ndarray, P: np.ndarray, alphas: np.ndarray,
                       n_folds: int = 5, lag_cov: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Lagged ridge shrunk towards a prior prediction or towards zero, chosen per target by blocked CV.

    Two families of candidates per target, compared by the cross-validated
    Pearson r of ``n_folds`` contiguous folds:

    * shrunk towards the prior: ``Y ≈ gain * P + X @ coef + intercept`` with
      ``gain`` unpenalized and ``coef`` ridge-penalized, for every alpha and
      ``alpha = inf`` (the rescaled prior alone);
    * plain lagged ridge, ``Y ≈ X @ coef + intercept`` (``gain = 0``), for
      every alpha: what :class:`RidgeModel` fits on the same features.

    With too little data the prior alone wins; where the prior does not help
    a target, plain ridge does, so the result is not worse than ridge beyond
    the noise of the CV choice. ``X`` (the lag matrix of ``z``) is never built
    whole: per-fold Gram sums are accumulated over chunks, so memory does not
    grow with the calibration length.

    Parameters
    ----------
    z : ndarray, shape (n_channels, n_times)
        Standardized predictors (scalp).
    lags : ndarray of int
        Lags in samples (:func:`lag_matrix`).
    Y : ndarray, shape (n_times, n_targets)
        Targets.
    P : ndarray, shape (n_times, n_targets)
        Prior prediction of each target.
    alphas : ndarray, shape (n_alphas,)
        Relative regularization grid (times the mean Gram eigenvalue).
    n_folds : int
        Contiguous cross-validation folds.
    lag_cov : ndarray, shape (n_lags, n_lags) | None
        Prior covariance of each channel's lag profile (:func:`lag_prior_cov`,
        learned on other subjects): the penalty becomes
        ``alpha * w' (I (x) lag_cov)^-1 w`` instead of ``alpha * |w|^2``, for
        both families. None: the plain ridge penalty.

    Returns
    -------
    dict
        ``coef`` (n_targets, n_features), ``gain`` (n_targets,; 0 where plain
        ridge won), ``intercept`` (n_targets,), ``alpha`` (n_targets,; inf =
        prior only), ``uses_prior`` (n_targets,; bool), ``cv_r`` (n_targets,;
        cross-validated Pearson r of the chosen candidate), ``cv_r_prior``
        (of the prior alone), ``cv_r_ridge`` (of the best plain ridge).
    """
    n_t, k = Y.shape
    alphas = np.asarray(alphas, float)
    n_a = len(alphas)
    bounds = [(f[0], f[-1] + 1) for f in np.array_split(np.arange(n_t), n_folds)]
    T = None if lag_cov is None else _psd_sqrt(np.asarray(lag_cov, float))
    stats = [_fold_stats(z, np.hstack([Y, P]), lags, a, b) for a, b in bounds]
    if T is not None:  # ridge on X (I (x) T) = ridge on X with the penalty w' (I (x) T^2)^-1 w
        stats = [_stats_in_basis(st, T) for st in stats]
    pp = [np.array([(P[a:b] ** 2).sum(0), (P[a:b] * Y[a:b]).sum(0)]) for a, b in bounds]
    total = {key: sum(st[key] for st in stats) for key in stats[0]}
    pp_total = sum(pp)
    # scores: rows 0..n_a-1 towards the prior, n_a = prior alone, n_a+1.. plain ridge
    score = np.zeros((2 * n_a + 1, k))
    for f, (a, b) in enumerate(bounds):
        tr = _minus(total, stats[f])
        g = _gain_from_sums(tr, pp_total - pp[f], k)
        fit_t = _residual_sums(tr, g, k)
        offset = g * P[a:b]
        score[:n_a] += np.nan_to_num(_cv_scores(z, Y, lags, a, b, fit_t, alphas, offset=offset, basis=T))
        score[n_a] += np.nan_to_num(pearson_r(Y[a:b].T, (offset + fit_t["y"] / fit_t["n"]).T))
        plain = {**tr, "y": tr["y"][:k], "xy": tr["xy"][:, :k]}
        score[n_a + 1:] += np.nan_to_num(_cv_scores(z, Y, lags, a, b, plain, alphas, basis=T))
    best = score.argmax(axis=0)
    uses_prior = best <= n_a
    g = np.where(uses_prior, _gain_from_sums(total, pp_total, k), 0.0)
    G, XtR, xm, rm = _centred(_residual_sums(total, g, k))
    grid = np.concatenate([alphas, [np.inf], alphas])
    coef = _solve(G, XtR, grid, best)
    intercept = rm - xm @ coef
    if T is not None:  # back to weights on the lag matrix of z
        coef = _in_basis(coef, T)
    cols = np.arange(k)
    return {"coef": coef.T, "gain": g, "intercept": intercept, "alpha": grid[best], "uses_prior": uses_prior,
            "cv_r": score[best, cols] / n_folds, "cv_r_prior": score[n_a] / n_folds,
            "cv_r_ridge": score[n_a + 1:].max(axis=0) / n_folds}


def _gain_from_sums(st: dict[str, np.ndarray], pp: np.ndarray, k: int) -> np.ndarray:
    """Least-squares gain of Y on P per target (both centred) from sums; ``st`` over [Y, P] columns."""
    n, sy, sp = st["n"], st["y"][:k], st["y"][k:]
    var = pp[0] - sp * sp / n
    cov = pp[1] - sp * sy / n
    return np.where(var > 0, cov / np.where(var > 0, var, 1.0), 0.0)


def _residual_sums(st: dict[str, np.ndarray], g: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """Fold sums of the target ``Y - g * P`` from the sums over [Y, P] columns."""
    return {"n": st["n"], "x": st["x"], "xx": st["xx"], "y": st["y"][:k] - g * st["y"][k:],
            "xy": st["xy"][:, :k] - st["xy"][:, k:] * g}


def ls_gain(P: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Least-squares gain of each column of Y on the same column of P (both centred).

    Parameters
    ----------
    P, Y : ndarray, shape (n_times, n_targets)

    Returns
    -------
    ndarray, shape (n_targets,)
        0 where a column of P is constant.
    """
    pc, yc = P - P.mean(axis=0), Y - Y.mean(axis=0)
    den = (pc * pc).sum(axis=0)
    return np.where(den > 0, (pc * yc).sum(axis=0) / np.where(den > 0, den, 1.0), 0.0)


def _solve(G: np.ndarray, XtY: np.ndarray, alphas: np.ndarray, choice: np.ndarray) -> np.ndarray:
    """Ridge weights (n_features, n_targets) from a Gram matrix, target j with ``alphas[choice[j]]``.

    Regularization is relative to the mean eigenvalue of ``G``; an infinite alpha gives zero weights.
    """
    evals, evecs = np.linalg.eigh(G)
    evals = np.clip(evals, 0, None)
    Q = evecs.T @ XtY
    coef = np.zeros((G.shape[0], XtY.shape[1]))
    for a_i in np.unique(choice):
        if np.isfinite(alphas[a_i]):
            cols = choice == a_i
            coef[:, cols] = evecs @ (Q[:, cols] / (evals + alphas[a_i] * evals.mean())[:, None])
    return coef


def lag_rows(x: np.ndarray, lags: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of :func:`lag_matrix` ``(x, lags)``, without building the others.

    Returns
    -------
    ndarray, shape (stop - start, n_channels * n_lags)
    """
    n_ch, n_t = x.shape
    out = np.zeros((stop - start, n_ch, len(lags)))
    ids = piece_ids(n_t)
    for j, lag in enumerate(lags):
        lo, hi = max(start, lag), min(stop, n_t + lag)  # rows t with 0 <= t - lag < n_t
        if hi > lo:
            out[lo - start: hi - start, :, j] = x[:, lo - lag: hi - lag].T
            if ids is not None:  # a lagged copy never reaches into another piece (trial, session)
                out[lo - start: hi - start, :, j][~same_piece(ids, lo, hi, lag)] = 0.0
    return out.reshape(stop - start, n_ch * len(lags))


def _minus(total: dict[str, np.ndarray], part: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Sums over the rows outside a fold: the totals minus that fold's sums."""
    return {k: total[k] - part[k] for k in total}


def _centred(st: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Centred normal equations from sums: ``Xc'Xc``, ``Xc'Yc``, the feature means and the target means."""
    n = st["n"]
    xm, ym = st["x"] / n, st["y"] / n
    return st["xx"] - n * np.outer(xm, xm), st["xy"] - n * np.outer(xm, ym), xm, ym


def _chunks(start: int, stop: int) -> list[tuple[int, int]]:
    return [(a, min(stop, a + CHUNK_ROWS)) for a in range(start, stop, CHUNK_ROWS)]


def _fold_stats(z: np.ndarray, Y: np.ndarray, lags: np.ndarray, start: int, stop: int) -> dict[str, np.ndarray]:
    """Sums over rows start:stop: n, sum x, sum y, X'X, X'Y (X the lag matrix of z)."""
    p = z.shape[0] * len(lags)
    st = {"n": np.zeros(()), "x": np.zeros(p), "y": np.zeros(Y.shape[1]), "xx": np.zeros((p, p)),
          "xy": np.zeros((p, Y.shape[1]))}
    for a, b in _chunks(start, stop):
        X, Yc = lag_rows(z, lags, a, b), Y[a:b]
        st["n"] += b - a
        st["x"] += X.sum(axis=0)
        st["y"] += Yc.sum(axis=0)
        st["xx"] += X.T @ X
        st["xy"] += X.T @ Yc
    return st


def _cv_scores(z: np.ndarray, Y: np.ndarray, lags: np.ndarray, start: int, stop: int,
               train: dict[str, np.ndarray], alphas: np.ndarray, offset: np.ndarray | None = None,
               basis: np.ndarray | None = None) -> np.ndarray:
    """Pearson r on rows start:stop of ridge fitted on the ``train`` sums, per alpha: (n_alphas, n_targets).

    The same as fitting ridge on the centred training rows in memory; r is accumulated chunk by chunk.
    ``offset`` (stop - start, n_targets), when given, is added to every prediction (a prior).
    ``basis`` (n_lags, n_lags, symmetric), when given: the features are ``X (I (x) basis)``
    (:func:`_stats_in_basis` gave the ``train`` sums).
    """
    G, XtY, xm, ym = _centred(train)
    evals, evecs = np.linalg.eigh(G)
    evals = np.clip(evals, 0, None)
    Q = evecs.T @ XtY
    Ws = [evecs @ (Q / (evals + a * evals.mean())[:, None]) for a in alphas]
    k = Y.shape[1]
    acc = np.zeros((len(alphas), 5, k))  # sums of p, y, p*p, y*y, p*y
    for a, b in _chunks(start, stop):
        X = lag_rows(z, lags, a, b)
        if basis is not None:
            X = _in_basis(X.T, basis).T
        X, Yc = X - xm, Y[a:b]
        off = ym if offset is None else ym + offset[a - start:b - start]
        for i, W in enumerate(Ws):
            P = X @ W + off
            acc[i] += [P.sum(0), Yc.sum(0), (P * P).sum(0), (Yc * Yc).sum(0), (P * Yc).sum(0)]
    m = stop - start
    sp, sy, spp, syy, spy = acc[:, 0], acc[:, 1], acc[:, 2], acc[:, 3], acc[:, 4]
    cov = spy - sp * sy / m
    var = (spp - sp ** 2 / m) * (syy - sy ** 2 / m)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(var > 0, cov / np.sqrt(np.where(var > 0, var, 1.0)), np.nan)


def _fold_bounds(n_t: int, n_folds: int) -> list[tuple[int, int]]:
    return [(f[0], f[-1] + 1) for f in np.array_split(np.arange(n_t), n_folds)]


def fold_sums(z: np.ndarray, Y: np.ndarray, lags: np.ndarray, n_folds: int
              ) -> tuple[list[dict[str, np.ndarray]], list[tuple[int, int]]]:
    """Per-fold sums (n, sum x, sum y, X'X, X'Y) of the lag matrix of ``z`` over ``n_folds`` contiguous folds.

    Returns
    -------
    stats : list of dict
    bounds : list of (start, stop)
    """
    bounds = _fold_bounds(z.shape[1], n_folds)
    return [_fold_stats(z, Y, lags, a, b) for a, b in bounds], bounds


def blocked_cv(z: np.ndarray, Y: np.ndarray, lags: np.ndarray, alphas: np.ndarray, n_folds: int,
               basis: np.ndarray | None = None, stats: list[dict] | None = None
               ) -> tuple[np.ndarray, list[dict], list[tuple[int, int]]]:
    """Blocked K-fold cross-validated Pearson r of lagged ridge, per alpha and target.

    Parameters
    ----------
    z : ndarray, shape (n_channels, n_times)
        Standardized predictors.
    Y : ndarray, shape (n_times, n_targets)
    lags : ndarray of int
    alphas : ndarray, shape (n_alphas,)
        Relative regularization grid.
    n_folds : int
        Contiguous folds.
    basis : ndarray, shape (n_lags, n_lags) | None
        Features ``X (I (x) basis)``: a lag prior's square root (:func:`fit_residual_ridge`) or a
        truncated basis (n_lags, n_basis).
    stats : list of dict | None
        Per-fold sums of the plain features (:func:`fold_sums`), reused if given.

    Returns
    -------
    score : ndarray, shape (n_alphas, n_targets)
        Sum over folds of the held-out fold's r (NaN counted as 0).
    stats : list of dict
        Per-fold sums in the basis used.
    bounds : list of (start, stop)
    """
    if stats is None:
        stats, bounds = fold_sums(z, Y, lags, n_folds)
    else:
        bounds = _fold_bounds(z.shape[1], n_folds)
    if basis is not None:
        stats = [_stats_in_basis(st, basis) for st in stats]
    total = {k: sum(st[k] for st in stats) for k in stats[0]}
    score = np.zeros((len(alphas), Y.shape[1]))
    for (a, b), st in zip(bounds, stats):
        score += np.nan_to_num(_cv_scores(z, Y, lags, a, b, _minus(total, st), alphas, basis=basis))
    return score, stats, bounds


def _sub_stats(st: dict[str, np.ndarray], idx: np.ndarray) -> dict[str, np.ndarray]:
    """Fold sums restricted to the feature columns ``idx``."""
    return {"n": st["n"], "y": st["y"], "x": st["x"][idx], "xy": st["xy"][idx], "xx": st["xx"][np.ix_(idx, idx)]}


def standardize_segment(model: Any, segment: Any) -> tuple[np.ndarray, np.ndarray]:
    """Calibration inputs of a lagged-ridge model: sets its scalp names, contacts and scalp standardization.

    Parameters
    ----------
    model : RidgeModel
        Gets ``scalp_names``, ``contacts``, ``x_mean_`` and ``x_scale_`` (volts) from ``segment``.
    segment : PairedSegment

    Returns
    -------
    z : ndarray, shape (n_scalp, n_times)
        Standardized scalp.
    Y : ndarray, shape (n_times, n_contacts)
        iEEG, volts.

    Raises
    ------
    ValueError
        If the segment is shorter than ``2 * model.n_folds`` seconds.
    """
    x, y = np.asarray(segment.scalp, float), np.asarray(segment.ieeg, float)
    n_t = x.shape[1]
    if n_t < 2 * model.n_folds * model.sfreq:
        raise ValueError(f"calibration data too short for {model.method}: {n_t / model.sfreq:.1f} s "
                         f"(need at least {2 * model.n_folds} s)")
    model.scalp_names = list(segment.scalp_names)
    model.contacts = segment.contacts
    model.x_mean_ = x.mean(axis=1)
    model.x_scale_ = x.std(axis=1) + 1e-30
    return (x - model.x_mean_[:, None]) / model.x_scale_[:, None], y.T
