"""Within-subject lagged ridge regression, the field's baseline.

Each contact is a linear function of all scalp channels at lags from
``-max_lag_ms`` to ``+max_lag_ms`` (a multichannel FIR filter, as in
temporal response function / backward models: Crosse et al. 2016, mTRF).
The regularization is chosen per contact by blocked (contiguous) K-fold
cross-validation over a log grid, solved in closed form via the
eigendecomposition of the lagged Gram matrix.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..metrics import pearson_r  # noqa: F401  (re-exported: long-standing import path)
from .base import PairedSegment, ReconModel, register


def lag_matrix(x: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """Stack time-shifted copies of ``x`` (zeros outside the signal).

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
    n_ch, n_t = x.shape
    out = np.zeros((n_t, n_ch, len(lags)), dtype=float)
    for j, lag in enumerate(lags):
        if lag >= 0:
            out[lag:, :, j] = x[:, : n_t - lag].T
        else:
            out[: n_t + lag, :, j] = x[:, -lag:].T
    return out.reshape(n_t, n_ch * len(lags))


@register
class RidgeModel(ReconModel):
    """Lagged ridge regression from scalp EEG to each contact.

    Parameters
    ----------
    sfreq : float
        Model rate in Hz.
    max_lag_ms : float
        Largest lag, both directions, in ms.
    lag_step_ms : float
        Spacing of lags in ms.
    alphas : list of float | None
        Relative regularization grid (multiplied by the mean eigenvalue of
        the Gram matrix); default ``logspace(-4, 2, 13)``.
    n_folds : int
        Blocked cross-validation folds for choosing alpha.
    """

    method = "ridge"

    def __init__(self, sfreq: float = 200.0, max_lag_ms: float = 100.0, lag_step_ms: float = 5.0,
                 alphas: list[float] | None = None, n_folds: int = 5) -> None:
        super().__init__(sfreq)
        self.max_lag_ms = float(max_lag_ms)
        self.lag_step_ms = float(lag_step_ms)
        self.alphas = list(alphas) if alphas is not None else np.logspace(-4, 2, 13).tolist()
        self.n_folds = int(n_folds)
        self.coef_: np.ndarray | None = None  # (n_contacts, n_features)
        self.intercept_: np.ndarray | None = None  # (n_contacts,)
        self.x_mean_: np.ndarray | None = None  # (n_scalp,)
        self.x_scale_: np.ndarray | None = None  # (n_scalp,)
        self.alpha_: np.ndarray | None = None  # (n_contacts,)

    @property
    def lags(self) -> np.ndarray:
        """Lags in samples (positive = past)."""
        step = max(1, int(round(self.lag_step_ms * self.sfreq / 1000)))
        m = int(round(self.max_lag_ms * self.sfreq / 1000))
        return np.arange(-m, m + 1, step)

    def _features(self, scalp: np.ndarray) -> np.ndarray:
        z = (scalp - self.x_mean_[:, None]) / self.x_scale_[:, None]
        return lag_matrix(z, self.lags)

    def calibrate(self, segment: PairedSegment, **kwargs: Any) -> dict[str, Any]:
        """Fit on ``segment``, choosing alpha per contact by blocked CV.

        Raises
        ------
        ValueError
            If the segment is shorter than ``2 * n_folds`` seconds.
        """
        x, y = np.asarray(segment.scalp, float), np.asarray(segment.ieeg, float)
        n_t = x.shape[1]
        if n_t < 2 * self.n_folds * self.sfreq:
            raise ValueError(f"calibration data too short for ridge: {n_t / self.sfreq:.1f} s "
                             f"(need at least {2 * self.n_folds} s)")
        self.scalp_names = list(segment.scalp_names)
        self.contacts = segment.contacts
        self.x_mean_ = x.mean(axis=1)
        self.x_scale_ = x.std(axis=1) + 1e-30
        X = self._features(x)
        y_mean = y.mean(axis=1)
        Y = (y - y_mean[:, None]).T  # (n_t, n_contacts)
        alphas = np.asarray(self.alphas)
        folds = np.array_split(np.arange(n_t), self.n_folds)
        score = np.zeros((len(alphas), y.shape[0]))
        for test in folds:
            train = np.setdiff1d(np.arange(n_t), test)
            preds = _ridge_path(X[train], Y[train], X[test], alphas)
            for a in range(len(alphas)):
                score[a] += np.nan_to_num(pearson_r(Y[test].T, preds[a].T))
        best = score.argmax(axis=0)
        self.alpha_ = alphas[best]
        G = X.T @ X
        evals, evecs = np.linalg.eigh(G)
        evals = np.clip(evals, 0, None)
        scale = evals.mean()
        XtY = evecs.T @ (X.T @ Y)
        coef = np.empty((X.shape[1], Y.shape[1]))
        for a_i in np.unique(best):
            cols = best == a_i
            coef[:, cols] = evecs @ (XtY[:, cols] / (evals + alphas[a_i] * scale)[:, None])
        self.coef_ = coef.T
        self.intercept_ = y_mean
        return {"alpha_relative": self.alpha_.tolist(), "cv_folds": self.n_folds,
                "n_features": int(X.shape[1]), "lags_samples": self.lags.tolist()}

    def predict(self, scalp: np.ndarray) -> np.ndarray:
        """Reconstruct contacts; see :meth:`ReconModel.predict`."""
        if self.coef_ is None:
            raise RuntimeError("ridge model is not calibrated")
        scalp = self.check_scalp(scalp)
        z = (scalp - self.x_mean_[:, None]) / self.x_scale_[:, None]
        lags = self.lags
        # the same as coef_ @ lag_matrix(z).T, one lag at a time: memory O(n_contacts * n_times)
        w = self.coef_.reshape(self.coef_.shape[0], z.shape[0], len(lags))
        n_t = z.shape[1]
        y = np.tile(self.intercept_[:, None], (1, n_t))
        for j, lag in enumerate(lags):
            if lag >= 0:
                y[:, lag:] += w[:, :, j] @ z[:, : n_t - lag]
            else:
                y[:, : n_t + lag] += w[:, :, j] @ z[:, -lag:]
        return y

    def get_params(self) -> dict[str, Any]:
        return {"sfreq": self.sfreq, "max_lag_ms": self.max_lag_ms, "lag_step_ms": self.lag_step_ms,
                "alphas": self.alphas, "n_folds": self.n_folds}

    def state_dict(self) -> dict[str, np.ndarray]:
        if self.coef_ is None:
            raise RuntimeError("ridge model is not calibrated")
        return {"coef": self.coef_, "intercept": self.intercept_, "x_mean": self.x_mean_,
                "x_scale": self.x_scale_, "alpha": self.alpha_}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        n_feat = len(self.scalp_names) * len(self.lags)
        if state["coef"].shape[1] != n_feat:
            raise ValueError(f"coef has {state['coef'].shape[1]} features, expected {n_feat}")
        self.coef_ = state["coef"]
        self.intercept_ = state["intercept"]
        self.x_mean_ = state["x_mean"]
        self.x_scale_ = state["x_scale"]
        self.alpha_ = state["alpha"]


def _ridge_path(X: np.ndarray, Y: np.ndarray, Xtest: np.ndarray, alphas: np.ndarray) -> np.ndarray:
    """Test predictions for every alpha: shape (n_alphas, n_test, n_targets)."""
    xm, ym = X.mean(axis=0), Y.mean(axis=0)
    Xc, Yc = X - xm, Y - ym
    evals, evecs = np.linalg.eigh(Xc.T @ Xc)
    evals = np.clip(evals, 0, None)
    scale = evals.mean()
    P = (Xtest - xm) @ evecs  # (n_test, p)
    Q = evecs.T @ (Xc.T @ Yc)  # (p, n_targets)
    return np.stack([P @ (Q / (evals + a * scale)[:, None]) + ym for a in alphas])
