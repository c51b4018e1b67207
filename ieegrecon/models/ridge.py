"""Within-subject lagged ridge regression, the field's baseline.

Each contact is a linear function of all scalp channels at lags from
``-max_lag_ms`` to ``+max_lag_ms`` (a multichannel FIR filter, as in
temporal response function / backward models: Crosse et al. 2016, mTRF).
The regularization is chosen per contact by blocked (contiguous) K-fold
cross-validation over a log grid, solved in closed form via the
eigendecomposition of the lagged Gram matrix (:mod:`ieegrecon.models.lagged`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import PairedSegment, ReconModel
from .lagged import _centred, _chunks, _cv_scores, _fold_stats, _minus, _solve, apply_lagged, lag_matrix, lag_rows


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
    reads_ahead = True  # a light predict: the next chunk is read while this one is reconstructed (base.py)

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

    def calibrate(self, segment: PairedSegment, *, out_of_fold: bool = False, **kwargs: Any) -> dict[str, Any]:
        """Fit on ``segment``, choosing alpha per contact by blocked CV.

        Parameters
        ----------
        segment : PairedSegment
        out_of_fold : bool
            Also return, under ``"out_of_fold"``, the cross-fitted prediction
            (n_contacts, n_times) in volts: each CV block predicted by the
            ridge fitted on the other blocks with the chosen alphas (honest
            residuals for a model stacked on this one, e.g. ``flow``).

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
        z = (x - self.x_mean_[:, None]) / self.x_scale_[:, None]
        y_mean = y.mean(axis=1)
        # the lag matrix is never built whole: per-fold sums (Gram matrices) are accumulated over
        # chunks, so memory is O(n_features^2 + chunk), whatever the calibration length
        lags, alphas = self.lags, np.asarray(self.alphas)
        bounds = [(f[0], f[-1] + 1) for f in np.array_split(np.arange(n_t), self.n_folds)]
        stats = [_fold_stats(z, y.T, lags, a, b) for a, b in bounds]
        total = {k: sum(st[k] for st in stats) for k in stats[0]}
        score = np.zeros((len(alphas), y.shape[0]))
        for (a, b), st in zip(bounds, stats):
            train = _minus(total, st)
            score += np.nan_to_num(_cv_scores(z, y.T, lags, a, b, train, alphas))
        best = score.argmax(axis=0)
        self.alpha_ = alphas[best]
        XtY = total["xy"] - np.outer(total["x"], total["y"]) / total["n"]  # X.T @ (Y - mean)
        self.coef_ = _solve(total["xx"], XtY, alphas, best).T
        self.intercept_ = y_mean
        info: dict[str, Any] = {"alpha_relative": self.alpha_.tolist(), "cv_folds": self.n_folds,
                                "n_features": int(XtY.shape[0]), "lags_samples": lags.tolist()}
        if out_of_fold:
            oof = np.empty_like(y)
            for (a, b), st in zip(bounds, stats):
                G, XtY_f, xm, ym = _centred(_minus(total, st))
                W = _solve(G, XtY_f, alphas, best)
                for c0, c1 in _chunks(a, b):
                    oof[:, c0:c1] = ((lag_rows(z, lags, c0, c1) - xm) @ W + ym).T
            info["out_of_fold"] = oof
        return info

    def predict(self, scalp: np.ndarray) -> np.ndarray:
        """Reconstruct contacts; see :meth:`ReconModel.predict`."""
        if self.coef_ is None:
            raise RuntimeError("ridge model is not calibrated")
        scalp = self.check_scalp(scalp)
        z = (scalp - self.x_mean_[:, None]) / self.x_scale_[:, None]
        y = apply_lagged(self.coef_, z, self.lags)
        y += self.intercept_[:, None]  # in place: no second (n_contacts, n_times) array
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
