"""``ridge-gauss``: lagged ridge plus Gaussian residual draws, the baseline of every distributional metric.

The point estimate is ``ridge``'s. The posterior adds to it a stationary
Gaussian process fitted to the calibration residual: each contact's residual
is an autoregressive process of order ``ar_order`` (Yule-Walker, so its
spectrum follows the residual's; Brockwell & Davis 1991, §8.1), driven by
innovations correlated across contacts, mixed so that the draws' zero-lag
covariance across contacts equals the calibration residual covariance. The
residual is ridge's cross-fitted (out-of-fold) error, so it is not shrunk by
overfitting. This is what a sampler must beat to claim that its draws carry
more than "point estimate + noise of the right covariance" (the Gaussian
linear model's predictive distribution; Rasmussen & Williams 2006, §2.2).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import PairedSegment
from .posterior import Posterior
from .ridge import RidgeModel


def yule_walker(r: np.ndarray, order: int) -> tuple[np.ndarray, float]:
    """AR coefficients of one residual from its biased autocovariance (Levinson-Durbin via Toeplitz solve).

    Parameters
    ----------
    r : ndarray, shape (n_times,)
    order : int

    Returns
    -------
    a : ndarray, shape (order + 1,)
        ``[1, -phi_1, ..., -phi_p]``: the whitening filter (stable: the biased
        autocovariance is positive definite).
    sigma2 : float
        Innovation variance.
    """
    from scipy.linalg import solve_toeplitz

    r = np.asarray(r, float) - np.mean(r)
    n = len(r)
    acov = np.array([r[: n - k] @ r[k:] / n for k in range(order + 1)])
    if acov[0] <= 0:
        return np.r_[1.0, np.zeros(order)], 0.0
    phi = solve_toeplitz(acov[:-1], acov[1:])
    return np.r_[1.0, -phi], float(acov[0] - phi @ acov[1:])


def impulse_responses(a: np.ndarray, n: int) -> np.ndarray:
    """First ``n`` samples of the impulse response of ``1 / A_c(q)`` for every row of ``a`` (n_contacts, p + 1)."""
    from scipy.signal import lfilter

    imp = np.zeros(n)
    imp[0] = 1.0
    return np.stack([lfilter([1.0], row, imp) for row in a])


class RidgeGaussModel(RidgeModel):
    """Lagged ridge with Gaussian residual draws (calibration residual covariance and spectra).

    Parameters
    ----------
    sfreq, max_lag_ms, lag_step_ms, alphas, n_folds
        As :class:`~ieegrecon.models.ridge.RidgeModel`.
    ar_order : int
        Order of each contact's autoregressive residual model (temporal structure).
    burn_in_s : float
        Seconds of each draw discarded while the AR filters settle.
    """

    method = "ridge-gauss"
    supports_posterior = True
    exact_bands = True

    def __init__(self, sfreq: float = 200.0, max_lag_ms: float = 100.0, lag_step_ms: float = 5.0,
                 alphas: list[float] | None = None, n_folds: int = 5, ar_order: int = 10,
                 burn_in_s: float = 2.0) -> None:
        super().__init__(sfreq, max_lag_ms, lag_step_ms, alphas, n_folds)
        self.ar_order = int(ar_order)
        self.burn_in_s = float(burn_in_s)
        self.res_ar_: np.ndarray | None = None  # (n_contacts, ar_order + 1), whitening filters
        self.res_mix_: np.ndarray | None = None  # (n_contacts, n_contacts), innovation mixing, volts

    def calibrate(self, segment: PairedSegment, **kwargs: Any) -> dict[str, Any]:
        """Fit ridge, then the residual process on ridge's out-of-fold residual.

        Returns
        -------
        info : dict
            :meth:`RidgeModel.calibrate`'s (without the out-of-fold array), plus
            ``residual_sd_uv`` (per contact) and ``ar_order``.

        Raises
        ------
        ValueError
            If the segment is shorter than ``2 * n_folds`` seconds.
        """
        info = super().calibrate(segment, out_of_fold=True)
        resid = np.asarray(segment.ieeg, float) - info.pop("out_of_fold")
        self.fit_residual(resid)
        info.update(residual_sd_uv=(resid.std(axis=1) * 1e6).tolist(), ar_order=self.ar_order)
        return info

    def fit_residual(self, resid: np.ndarray) -> None:
        """Set the residual model from a residual (n_contacts, n_times), volts.

        The innovations ``e_c = A_c(q) r_c`` are mixed by ``M`` with
        ``M M' = C ./ H`` corrected so that the filtered draws' zero-lag
        covariance ``(M M') .* H`` (``H_ij = sum_t h_i(t) h_j(t)``, the AR
        impulse responses) equals the residual covariance ``C``; where ``C ./ H``
        is not positive semi-definite, its nearest PSD matrix (negative
        eigenvalues clipped) is used.
        """
        resid = np.asarray(resid, float)
        k = resid.shape[0]
        self.res_ar_ = np.stack([yule_walker(r, self.ar_order)[0] for r in resid])
        C = np.atleast_2d(np.cov(resid))
        h = self._impulse_responses()
        H = h @ h.T
        target = C / H
        evals, evecs = np.linalg.eigh((target + target.T) / 2)
        self.res_mix_ = evecs * np.sqrt(np.clip(evals, 0, None))
        if k == 0:
            self.res_mix_ = np.zeros((0, 0))

    def _impulse_responses(self) -> np.ndarray:
        """The AR filters' impulse responses over the burn-in (at least 64 samples), (n_contacts, n).

        The horizon of ``H`` in :meth:`fit_residual` and of :meth:`residual_sd`: one horizon, so that the
        closed-form bands have the variance the mixing was fitted for.
        """
        return impulse_responses(self.res_ar_, max(64, int(self.burn_in_s * self.sfreq)))

    def residual_draws(self, k: int, n_times: int, seed: int, around: np.ndarray | None = None) -> np.ndarray:
        """``k`` draws of the residual process (plus ``around``), shape (k, n_contacts, n_times), volts.

        Parameters
        ----------
        k, n_times, seed : int
        around : ndarray, shape (n_contacts, n_times) | None
            Added to every draw (the point estimate); None: zero.

        Returns
        -------
        ndarray, float32 (draws of long recordings are large)
        """
        from scipy.signal import lfilter

        if self.res_ar_ is None:
            raise RuntimeError("ridge-gauss model is not calibrated")
        rng = np.random.default_rng(seed)
        burn = int(self.burn_in_s * self.sfreq)
        n_c = self.res_ar_.shape[0]
        out = np.empty((k, n_c, n_times), np.float32)
        for d in range(k):
            e = self.res_mix_ @ rng.standard_normal((n_c, n_times + burn))
            for c in range(n_c):
                out[d, c] = lfilter([1.0], self.res_ar_[c], e[c])[burn:]
            if around is not None:
                out[d] += around
        return out

    def residual_sd(self) -> np.ndarray:
        """Standard deviation of the residual process at every sample, per contact, shape (n_contacts,), volts.

        ``sqrt(((M M') .* H)_cc)`` (see :meth:`fit_residual`): the draws' variance
        by construction, which is the calibration residual's variance wherever
        no eigenvalue of the mixing target was clipped.

        Raises
        ------
        RuntimeError
            If the model is not calibrated.
        """
        if self.res_ar_ is None or self.res_mix_ is None:
            raise RuntimeError("ridge-gauss model is not calibrated")
        h = self._impulse_responses()
        var = np.einsum("ij,ij->i", self.res_mix_, self.res_mix_) * np.einsum("ij,ij->i", h, h)
        return np.sqrt(var)

    def band_offsets(self, levels: list[float] | tuple[float, ...]) -> np.ndarray:
        """Offsets of the posterior's quantiles from the point estimate, the same at every sample.

        ``Phi^-1(q) sd_c`` (:meth:`residual_sd`): the quantile ``q`` of contact
        ``c`` at time ``t`` is ``predict(scalp)[c, t] + offsets[i, c]``. This is
        what lets ``reconstruct --samples`` keep the bands of any length as a
        half-width per contact beside the EDF's trace
        (:func:`~ieegrecon.workflow.uncertainty.write_band_offsets_h5`).

        Parameters
        ----------
        levels : sequence of float
            Quantile levels in (0, 1).

        Returns
        -------
        ndarray, shape (len(levels), n_contacts)
            Volts; zero for the median.

        Raises
        ------
        RuntimeError
            If the model is not calibrated.
        """
        from scipy.special import ndtri

        sd = self.residual_sd()
        return np.stack([float(ndtri(q)) * sd for q in levels]) if len(levels) else np.zeros((0, len(sd)))

    def posterior(self, scalp: np.ndarray, n_samples: int = 32, seed: int = 0) -> Posterior:
        """The predictive distribution given ``scalp``: ridge's prediction plus residual draws.

        Parameters
        ----------
        scalp : ndarray, shape (n_scalp, n_times)
            Volts at :attr:`sfreq`.
        n_samples : int
            Draws the quantiles are computed from.
        seed : int

        Returns
        -------
        Posterior
            ``.mean`` and the median are :meth:`predict`; ``.quantiles`` are exact, in closed form
            (``mean + Phi^-1(q) sd_c``, :meth:`residual_sd`; no draw is made, ``n_samples`` only
            sets ``.sample()``): the quantiles of 32 draws would under-cover (a new value falls
            inside the 5-95 % quantiles of 32 Gaussian draws 85.3 % of the time) and put Monte
            Carlo noise into the median.
        """
        mean = self.predict(scalp)
        n_c, n_t = mean.shape

        def exact(levels: list[float]) -> np.ndarray:
            out = np.empty((len(levels), n_c, n_t))
            for i, (q, off) in enumerate(zip(levels, self.band_offsets(levels))):
                out[i] = mean if q == 0.5 else mean + off[:, None]  # the median is the point estimate, bit for bit
            return out

        return Posterior(lambda k: self.residual_draws(k, n_t, seed, around=mean), lambda: mean,
                         lambda a: a, np.ones((n_c, 1)), n_samples, exact_quantiles=exact)

    def get_params(self) -> dict[str, Any]:
        return {**super().get_params(), "ar_order": self.ar_order, "burn_in_s": self.burn_in_s}

    def state_dict(self) -> dict[str, np.ndarray]:
        if self.res_ar_ is None:
            raise RuntimeError("ridge-gauss model is not calibrated")
        return {**super().state_dict(), "res_ar": self.res_ar_, "res_mix": self.res_mix_}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        super().load_state_dict(state)
        k = state["coef"].shape[0]
        if state["res_ar"].shape != (k, self.ar_order + 1) or state["res_mix"].shape != (k, k):
            raise ValueError("residual model does not match the contacts or ar_order")
        self.res_ar_, self.res_mix_ = state["res_ar"], state["res_mix"]
