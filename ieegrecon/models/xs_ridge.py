"""``xs-ridge``: a cross-subject linear model, pretrained on other subjects and calibrated on the patient.

The linear twin of ``cast``. Pretraining fits within-subject lagged ridge
(±100 ms) on the first ``prior_minutes`` of every training session and keeps
a bank of its filters, each in units of its contact's standard deviation,
keyed by what ``cast`` keys contacts by (MNI position, atlas region), plus
the population lag prior of those filters
(:func:`~ieegrecon.models.lagged.lag_prior_cov`, the prior ``cast``'s
calibration uses). For a patient contact the **prior mean filter** is the
Gaussian-kernel average (bandwidth ``bandwidth_mm`` in MNI space) of the bank
filters (same-region average where a position is unknown). Calibration is
empirical-Bayes shrinkage towards that prior: lagged ridge on the patient's
data with the prior mean's prediction as an unpenalized regressor, the lag
prior as the penalty's covariance, and the shrinkage strength (or plain
ridge, or the prior alone) chosen per contact by blocked cross-validation
(:func:`~ieegrecon.models.lagged.fit_residual_ridge`; hierarchical /
multi-task ridge: Hastie, Tibshirani & Friedman 2009, §3.4; Evgeniou &
Pontil 2004, "Regularized multi-task learning"). The result is one lagged
filter per contact, applied like ``ridge``'s.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..atlas.vocab import region_index
from ..channels import normalize_ch_name
from .base import ContactInfo, PairedSegment
from .lagged import apply_lagged, fit_residual_ridge, lag_prior_cov, standardize_segment
from .ridge import RidgeModel

_BANK_KEYS = ("bank_coef", "bank_pos", "bank_has_pos", "bank_region", "bank_mask", "bank_scalp_sd",
              "zero_shot_scale")


class XsRidgeModel(RidgeModel):
    """Cross-subject lagged ridge: a pretrained prior mean and lag prior, shrunk to the patient.

    Parameters
    ----------
    sfreq, max_lag_ms, lag_step_ms, alphas, n_folds
        As :class:`~ieegrecon.models.ridge.RidgeModel` (±100 ms, 5 ms).
    prior_minutes : float
        Minutes of each training session the bank's ridge filters are fitted on.
    bandwidth_mm : float
        Width (SD) of the Gaussian kernel over MNI distance that averages bank filters.
    use_lag_prior : bool
        Penalize with the pretrained lag prior (else the plain ridge penalty).
    bank_scalp_names : list of str | None
        Scalp channels of the bank's filters (set by :meth:`pretrain`).
    """

    method = "xs-ridge"
    supports_pretrain = True
    requires_pretrain = True
    supports_zero_shot = True

    def __init__(self, sfreq: float = 200.0, max_lag_ms: float = 100.0, lag_step_ms: float = 5.0,
                 alphas: list[float] | None = None, n_folds: int = 5, prior_minutes: float = 5.0,
                 bandwidth_mm: float = 15.0, use_lag_prior: bool = True,
                 bank_scalp_names: list[str] | None = None) -> None:
        super().__init__(sfreq, max_lag_ms, lag_step_ms, alphas, n_folds)
        self.prior_minutes = float(prior_minutes)
        self.bandwidth_mm = float(bandwidth_mm)
        self.use_lag_prior = bool(use_lag_prior)
        self.bank_scalp_names = list(bank_scalp_names or [])
        self.bank: dict[str, np.ndarray] = {}
        self.lag_cov: np.ndarray | None = None

    # ------------------------------------------------------------ pretraining
    def pretrain(self, segments: list[PairedSegment], *, seed: int = 0, **kwargs: Any) -> dict[str, Any]:
        """Fit the bank of standardized filters and the lag prior on other subjects' sessions.

        Parameters
        ----------
        segments : list of PairedSegment
            Training sessions at :attr:`sfreq` (contact and channel sets may differ).
        seed : int
            Unused (the fit is deterministic); accepted like every pretrained method's.
        **kwargs
            Training settings of other methods (``epochs``...), ignored.

        Returns
        -------
        info : dict
            ``segments``, ``filters`` (bank size), ``minutes_per_segment``, ``seconds``.

        Raises
        ------
        ValueError
            No segment of at least ``2 * n_folds`` seconds, or a wrong sfreq.
        """
        t0 = time.perf_counter()
        ridge = RidgeModel(self.sfreq, self.max_lag_ms, self.lag_step_ms, self.alphas, self.n_folds)
        names: list[str] = []
        fits = []
        for seg in segments:
            if abs(seg.sfreq - self.sfreq) > 1e-6:
                raise ValueError(f"segment of subject {seg.subject!r} is at {seg.sfreq} Hz, not {self.sfreq} Hz")
            seg = seg.crop_samples(0, round(self.prior_minutes * 60 * self.sfreq))
            if seg.scalp.shape[1] < 2 * self.n_folds * self.sfreq:
                continue
            ridge.calibrate(seg)
            seg_names = [normalize_ch_name(n) for n in seg.scalp_names]
            names += [n for n in seg_names if n not in names]
            fits.append((seg, seg_names, ridge.coef_ / (seg.ieeg.std(axis=1)[:, None] + 1e-30), ridge.x_scale_))
        if not fits:
            raise ValueError(f"xs-ridge pretraining needs a segment of at least {2 * self.n_folds} s")
        self.bank_scalp_names = names
        self.bank = _build_bank(fits, names, len(self.lags))
        self.lag_cov = lag_prior_cov([f[2] for f in fits], len(self.lags))
        self.bank["zero_shot_scale"] = np.array([np.median(np.concatenate([f[0].ieeg.std(axis=1) for f in fits]))])
        self.coef_ = None
        self.contacts, self.scalp_names = None, []
        self.trained_on["pretrain"] = {"subjects": sorted({s.subject for s in segments}),
                                       "n_segments": len(fits), "minutes_per_segment": self.prior_minutes}
        return {"segments": len(fits), "filters": int(len(self.bank["bank_coef"])),
                "minutes_per_segment": self.prior_minutes, "seconds": round(time.perf_counter() - t0, 2)}

    def prior_filters(self, contacts: ContactInfo, scalp_names: list[str]) -> np.ndarray:
        """Prior mean filter of each contact, on the standardized scalp ``scalp_names``.

        Returns
        -------
        ndarray, shape (n_contacts, n_scalp * n_lags)
            In units of the contact's standard deviation per unit standardized
            scalp; zero for a contact without a bank neighbour (or without pretraining).
        """
        L, names = len(self.lags), [normalize_ch_name(n) for n in scalp_names]
        out = np.zeros((len(contacts.ch_names), len(names), L))
        if not self.bank:
            return out.reshape(len(contacts.ch_names), -1)
        w = _contact_weights(self.bank, contacts, self.bandwidth_mm / 1000.0)  # (n_contacts, n_bank)
        coef = self.bank["bank_coef"].reshape(len(w[0]), len(self.bank_scalp_names), L)
        mask = self.bank["bank_mask"]
        for i, n in enumerate(names):
            if n in self.bank_scalp_names:
                c = self.bank_scalp_names.index(n)
                wm = w * mask[None, :, c]
                den = wm.sum(axis=1)
                ok = den > 1e-6
                out[ok, i] = (wm[ok] @ coef[:, c, :]) / den[ok, None]
        return out.reshape(len(contacts.ch_names), -1)

    # ------------------------------------------------------------ calibration
    def calibrate(self, segment: PairedSegment, **kwargs: Any) -> dict[str, Any]:
        """Shrink towards the pretrained prior on the patient's data (blocked CV per contact).

        Returns
        -------
        info : dict
            ``alpha_relative`` (per contact; -1 = the prior alone), ``uses_prior``,
            ``prior_gain`` (per contact, SD units), ``cv_r``, ``cv_r_prior``,
            ``cv_r_ridge`` (per contact), ``pretrained`` (bool).

        Raises
        ------
        ValueError
            If the segment is shorter than ``2 * n_folds`` seconds.
        """
        z, Y = standardize_segment(self, segment)
        lags = self.lags
        W0 = self.prior_filters(segment.contacts, segment.scalp_names)
        P = apply_lagged(W0, z, lags).T
        cov = self.lag_cov if self.use_lag_prior else None
        fit = fit_residual_ridge(z, lags, Y, P, np.asarray(self.alphas), self.n_folds, lag_cov=cov)
        self.coef_ = fit["gain"][:, None] * W0 + fit["coef"]
        self.intercept_ = fit["intercept"]
        self.alpha_ = np.where(np.isfinite(fit["alpha"]), fit["alpha"], -1.0)
        self.trained_on["calibration"] = {"subject": segment.subject,
                                          "minutes": round(segment.scalp.shape[1] / self.sfreq / 60, 3)}
        return {"alpha_relative": self.alpha_.tolist(), "uses_prior": fit["uses_prior"].tolist(),
                "prior_gain": fit["gain"].tolist(), "cv_r": fit["cv_r"].tolist(),
                "cv_r_prior": fit["cv_r_prior"].tolist(), "cv_r_ridge": fit["cv_r_ridge"].tolist(),
                "pretrained": bool(self.bank), "n_features": int(self.coef_.shape[1])}

    def set_targets(self, contacts: ContactInfo, scalp_names: list[str] | None = None) -> None:
        """Decode ``contacts`` zero-shot: the prior mean filters, scaled by the pretraining median SD.

        The scalp is standardized by the pretraining median SD of each channel (no calibration data).

        Raises
        ------
        ValueError
            Without pretraining.
        """
        if not self.bank:
            raise ValueError("xs-ridge has no pretraining: it cannot decode without calibration")
        if scalp_names is not None:
            self.scalp_names = [normalize_ch_name(n) for n in scalp_names]
        self.contacts = contacts
        sd = self.bank["bank_scalp_sd"]
        self.x_scale_ = np.array([sd[self.bank_scalp_names.index(n)] if n in self.bank_scalp_names
                                  else np.median(sd) for n in self.scalp_names])
        self.x_mean_ = np.zeros(len(self.scalp_names))
        self.coef_ = self.prior_filters(contacts, self.scalp_names) * self.bank["zero_shot_scale"][0]
        self.intercept_ = np.zeros(len(contacts.ch_names))
        self.alpha_ = np.full(len(contacts.ch_names), -1.0)

    # ------------------------------------------------------------ state
    def get_params(self) -> dict[str, Any]:
        return {**super().get_params(), "prior_minutes": self.prior_minutes, "bandwidth_mm": self.bandwidth_mm,
                "use_lag_prior": self.use_lag_prior, "bank_scalp_names": list(self.bank_scalp_names)}

    def state_dict(self) -> dict[str, np.ndarray]:
        state = dict(self.bank)
        if self.lag_cov is not None:
            state["lag_cov"] = self.lag_cov
        if self.coef_ is not None:
            state.update(super().state_dict())
        if not state:
            raise RuntimeError("xs-ridge model is neither pretrained nor calibrated")
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        if "coef" in state:
            super().load_state_dict(state)
        self.bank = {k: state[k] for k in _BANK_KEYS if k in state}
        if self.bank and set(self.bank) != set(_BANK_KEYS):
            raise ValueError(f"incomplete xs-ridge bank: has {sorted(self.bank)}")
        if self.bank and self.bank["bank_mask"].shape[1] != len(self.bank_scalp_names):
            raise ValueError("bank_mask does not match bank_scalp_names")
        self.lag_cov = state.get("lag_cov")


def _build_bank(fits: list[tuple], names: list[str], n_lags: int) -> dict[str, np.ndarray]:
    """Bank arrays from ``(segment, scalp names, standardized coef, scalp SD)`` per training segment."""
    coefs, pos, regs, masks = [], [], [], []
    sd = np.zeros((len(fits), len(names)))
    for s, (seg, seg_names, coef, x_scale) in enumerate(fits):
        full = np.zeros((coef.shape[0], len(names), n_lags))
        cols = [names.index(n) for n in seg_names]
        full[:, cols, :] = coef.reshape(coef.shape[0], len(seg_names), n_lags)
        coefs.append(full.reshape(coef.shape[0], -1))
        pos.append(np.asarray(seg.contacts.positions, float))
        regs.append(region_index(seg.contacts.regions))
        m = np.zeros((coef.shape[0], len(names)), bool)
        m[:, cols] = True
        masks.append(m)
        sd[s] = np.nan
        sd[s, cols] = x_scale
    p = np.concatenate(pos)
    return {"bank_coef": np.concatenate(coefs), "bank_pos": np.nan_to_num(p), "bank_has_pos": np.isfinite(p).all(1).astype(np.uint8),
            "bank_region": np.concatenate(regs), "bank_mask": np.concatenate(masks).astype(np.uint8),
            "bank_scalp_sd": np.nan_to_num(np.nanmedian(sd, axis=0), nan=float(np.nanmedian(sd)))}


def _contact_weights(bank: dict[str, np.ndarray], contacts: ContactInfo, bandwidth_m: float) -> np.ndarray:
    """Kernel weights (n_contacts, n_bank): Gaussian in MNI distance; same atlas region where no position."""
    pos = np.asarray(contacts.positions, float)
    has = np.isfinite(pos).all(axis=1)
    d2 = ((np.nan_to_num(pos)[:, None, :] - bank["bank_pos"][None]) ** 2).sum(-1)
    w = np.exp(-0.5 * d2 / bandwidth_m ** 2) * bank["bank_has_pos"][None]
    reg = region_index(contacts.regions)
    same = (reg[:, None] == bank["bank_region"][None]) & (reg[:, None] > 0)
    w[~has] = same[~has].astype(float)
    return w
