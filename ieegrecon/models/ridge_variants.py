"""Within-subject linear baselines beside lagged ridge: no lags, a lag window chosen by CV, a smooth lag prior.

Each is a :class:`~ieegrecon.models.ridge.RidgeModel` (the same standardized
features, per-contact regularization by blocked cross-validation, the same
``predict`` and saved tensors); only how the lags and their penalty are
chosen differs:

* ``ridge0`` (:class:`Ridge0Model`): no lags, an instantaneous spatial map
  (the classical linear scalp-to-intracranial regression; e.g. Kaur et al.
  2014 for ridge-type spatial maps).
* ``ridge-cv`` (:class:`RidgeCVModel`): the lag window (0, ±25, ±50, ±100 ms)
  chosen by blocked cross-validation on the calibration data (Bergmeir &
  Benitez 2012 on blocked CV for dependent data; Crosse et al. 2016 choose
  the mTRF lag window by CV).
* ``ridge-prior`` (:class:`RidgePriorModel`): ±100 ms lags with a data-free
  Gaussian-process prior on each channel's lag profile (squared-exponential
  smoothness times a Gaussian envelope), its two length scales and the
  regularization chosen by blocked cross-validation (Rasmussen & Williams
  2006, ch. 4-5 for the kernels; Sahani & Linden 2003, "Evidence optimization
  techniques for estimating stimulus-response functions", for smoothness
  priors on linear filters).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import PairedSegment
from .lagged import _centred, _in_basis, _solve, _sub_stats, blocked_cv, fold_sums, standardize_segment
from .ridge import RidgeModel

#: Lag windows (ms, both directions) ``ridge-cv`` chooses from.
LAG_WINDOWS_MS = (0.0, 25.0, 50.0, 100.0)


class Ridge0Model(RidgeModel):
    """Instantaneous ridge: every contact a linear combination of the scalp channels at the same sample.

    Parameters
    ----------
    sfreq : float
        Model rate in Hz.
    max_lag_ms : float
        Largest lag in ms (0: no lags; the method's definition).
    lag_step_ms, alphas, n_folds
        As :class:`~ieegrecon.models.ridge.RidgeModel`.
    """

    method = "ridge0"

    def __init__(self, sfreq: float = 200.0, max_lag_ms: float = 0.0, lag_step_ms: float = 5.0,
                 alphas: list[float] | None = None, n_folds: int = 5) -> None:
        super().__init__(sfreq, max_lag_ms, lag_step_ms, alphas, n_folds)


class RidgeCVModel(RidgeModel):
    """Lagged ridge whose lag window is chosen by blocked cross-validation on the calibration data.

    Every window of ``lag_windows_ms`` is scored by the blocked ``n_folds``-fold
    cross-validated Pearson r (each contact at its best alpha, averaged over
    contacts); the best window (the shortest on ties) is then fitted exactly
    as ``ridge`` with ``max_lag_ms`` set to it. One window per patient.

    Parameters
    ----------
    sfreq : float
        Model rate in Hz.
    max_lag_ms : float
        The chosen window (set by :meth:`calibrate`; saved so that a loaded model rebuilds its lags).
    lag_step_ms, alphas, n_folds
        As :class:`~ieegrecon.models.ridge.RidgeModel`.
    lag_windows_ms : list of float
        Candidate windows, ms (both directions).
    """

    method = "ridge-cv"

    def __init__(self, sfreq: float = 200.0, max_lag_ms: float = 100.0, lag_step_ms: float = 5.0,
                 alphas: list[float] | None = None, n_folds: int = 5,
                 lag_windows_ms: list[float] | tuple[float, ...] = LAG_WINDOWS_MS) -> None:
        super().__init__(sfreq, max_lag_ms, lag_step_ms, alphas, n_folds)
        self.lag_windows_ms = sorted(float(w) for w in lag_windows_ms)

    def calibrate(self, segment: PairedSegment, **kwargs: Any) -> dict[str, Any]:
        """Choose the lag window by blocked CV, then fit ``ridge`` with it on the whole segment.

        The Gram sums are computed once, for the widest window; a narrower
        window's are a sub-block of them. Alpha is chosen per contact by the
        same cross-validation (as :meth:`RidgeModel.calibrate`).

        Parameters
        ----------
        segment : PairedSegment

        Returns
        -------
        info : dict
            ``alpha_relative`` (per contact), ``lag_window_ms`` (chosen),
            ``lag_window_cv_r`` (window -> mean over contacts of the CV r at
            each contact's best alpha), ``n_features``, ``lags_samples``.

        Raises
        ------
        ValueError
            If the segment is shorter than ``2 * n_folds`` seconds.
        """
        z, Y = standardize_segment(self, segment)
        self.max_lag_ms = max(self.lag_windows_ms)
        lags, alphas = self.lags, np.asarray(self.alphas)
        full, _ = fold_sums(z, Y, lags, self.n_folds)
        best = None
        cv_r = {}
        for w in self.lag_windows_ms:
            keep = np.flatnonzero(np.abs(lags) <= round(w * self.sfreq / 1000))
            idx = (np.arange(z.shape[0])[:, None] * len(lags) + keep[None, :]).ravel()
            stats = [_sub_stats(st, idx) for st in full]
            score, _, _ = blocked_cv(z, Y, lags[keep], alphas, self.n_folds, stats=stats)
            cv_r[f"{w:g}"] = float(np.mean(score.max(axis=0) / self.n_folds))
            if best is None or cv_r[f"{w:g}"] > best[0]:
                best = (cv_r[f"{w:g}"], w, score, stats)
        _, self.max_lag_ms, score, stats = best
        choice = score.argmax(axis=0)
        total = {k: sum(st[k] for st in stats) for k in stats[0]}
        XtY = total["xy"] - np.outer(total["x"], total["y"]) / total["n"]  # as RidgeModel.calibrate
        self.coef_ = _solve(total["xx"], XtY, alphas, choice).T
        self.intercept_ = Y.mean(axis=0)
        self.alpha_ = alphas[choice]
        return {"alpha_relative": self.alpha_.tolist(), "cv_folds": self.n_folds, "lag_window_ms": self.max_lag_ms,
                "lag_window_cv_r": cv_r, "n_features": int(XtY.shape[0]), "lags_samples": self.lags.tolist()}

    def get_params(self) -> dict[str, Any]:
        return {**super().get_params(), "lag_windows_ms": list(self.lag_windows_ms)}


def smooth_lag_prior(lags_ms: np.ndarray, length_ms: float, envelope_ms: float) -> np.ndarray:
    """Gaussian-process prior covariance of one lag profile: smooth in lag, concentrated near lag 0.

    ``K_ij = exp(-(l_i - l_j)^2 / (2 length^2)) * e_i e_j`` with the envelope
    ``e_i = exp(-l_i^2 / (2 envelope^2))``, scaled to trace ``n_lags``. Uses no data.

    Parameters
    ----------
    lags_ms : ndarray, shape (n_lags,)
        Lags in ms.
    length_ms : float
        Smoothness length scale (ms).
    envelope_ms : float
        Width of the envelope (ms).

    Returns
    -------
    ndarray, shape (n_lags, n_lags)
        Symmetric positive semi-definite.
    """
    lags_ms = np.asarray(lags_ms, float)
    env = np.exp(-0.5 * (lags_ms / envelope_ms) ** 2)
    K = np.exp(-0.5 * ((lags_ms[:, None] - lags_ms[None, :]) / length_ms) ** 2) * np.outer(env, env)
    return K * (len(lags_ms) / np.trace(K))


def prior_basis(K: np.ndarray, keep: float = 1e-4) -> np.ndarray:
    """Square root of a lag prior truncated to its leading eigenvectors: ``U_r sqrt(L_r)``, shape (n_lags, r).

    Eigenvalues below ``keep`` times the largest are dropped: ridge on the
    features ``X (I (x) T)`` is then the prior's penalty restricted to the
    lag profiles the prior gives weight to (its dominant eigenfunctions), at
    the cost of an eigendecomposition of ``n_channels * r`` features instead
    of ``n_channels * n_lags``.
    """
    evals, evecs = np.linalg.eigh(K)
    sel = evals > keep * evals.max()
    return evecs[:, sel] * np.sqrt(evals[sel])


class RidgePriorModel(RidgeModel):
    """Lagged ridge with a data-free smooth Gaussian-process prior over each channel's lag profile.

    The penalty is ``alpha * w' (I (x) K)^-1 w`` with ``K`` from
    :func:`smooth_lag_prior`; the prior's (length, envelope) pair is chosen
    among ``length_ms`` x ``envelope_ms`` by the blocked cross-validated r
    (mean over contacts, each at its best alpha), alpha per contact. The same
    as ``cast``'s calibration penalty (a lag prior), with the prior written
    down instead of learned on other subjects. ``K`` is truncated to its
    leading eigenvectors (:func:`prior_basis`), so each candidate costs the
    eigendecomposition of ``n_channels * r`` features (r of the order of 10)
    rather than of all ``n_channels * n_lags``.

    Parameters
    ----------
    sfreq : float
        Model rate in Hz.
    max_lag_ms, lag_step_ms, alphas, n_folds
        As :class:`~ieegrecon.models.ridge.RidgeModel` (±100 ms, 5 ms).
    length_ms : list of float
        Candidate smoothness length scales (ms).
    envelope_ms : list of float
        Candidate envelope widths (ms).
    """

    method = "ridge-prior"

    def __init__(self, sfreq: float = 200.0, max_lag_ms: float = 100.0, lag_step_ms: float = 5.0,
                 alphas: list[float] | None = None, n_folds: int = 5,
                 length_ms: list[float] | tuple[float, ...] = (10.0, 25.0),
                 envelope_ms: list[float] | tuple[float, ...] = (30.0, 100.0)) -> None:
        super().__init__(sfreq, max_lag_ms, lag_step_ms, alphas, n_folds)
        self.length_ms = [float(v) for v in length_ms]
        self.envelope_ms = [float(v) for v in envelope_ms]
        self.prior_: tuple[float, float] | None = None

    def calibrate(self, segment: PairedSegment, **kwargs: Any) -> dict[str, Any]:
        """Choose the prior and alphas by blocked CV; fit on the whole segment.

        Returns
        -------
        info : dict
            ``alpha_relative`` (per contact), ``prior_length_ms``, ``prior_envelope_ms``
            (chosen), ``prior_cv_r`` ("length/envelope" -> mean CV r), ``n_features``.

        Raises
        ------
        ValueError
            If the segment is shorter than ``2 * n_folds`` seconds.
        """
        z, Y = standardize_segment(self, segment)
        lags, alphas = self.lags, np.asarray(self.alphas)
        lags_ms = lags * 1000.0 / self.sfreq
        plain, _ = fold_sums(z, Y, lags, self.n_folds)
        best: tuple[float, Any] | None = None
        cv_r = {}
        for ell in self.length_ms:
            for env in self.envelope_ms:
                T = prior_basis(smooth_lag_prior(lags_ms, ell, env))
                score, stats, _ = blocked_cv(z, Y, lags, alphas, self.n_folds, basis=T, stats=plain)
                mean_r = float(np.mean(score.max(axis=0) / self.n_folds))
                cv_r[f"{ell:g}/{env:g}"] = mean_r
                if best is None or mean_r > best[0]:
                    best = (mean_r, (ell, env, T, score, stats))
        ell, env, T, score, stats = best[1]
        choice = score.argmax(axis=0)
        G, XtY, xm, ym = _centred({k: sum(st[k] for st in stats) for k in stats[0]})
        W = _solve(G, XtY, alphas, choice)  # weights on X (I (x) T)
        self.coef_ = _in_basis(W, T.T).T  # weights on the lag matrix of z: X (I (x) T) W = X coef
        self.intercept_ = ym - xm @ W
        self.alpha_ = alphas[choice]
        self.prior_ = (ell, env)
        return {"alpha_relative": self.alpha_.tolist(), "cv_folds": self.n_folds, "n_features": int(self.coef_.shape[1]),
                "prior_length_ms": ell, "prior_envelope_ms": env, "prior_cv_r": cv_r}

    def get_params(self) -> dict[str, Any]:
        return {**super().get_params(), "length_ms": list(self.length_ms), "envelope_ms": list(self.envelope_ms)}
