"""CAST: cross-subject multi-scale cross-attention transformer (scalp EEG -> iEEG).

A re-implementation, at CPU size, of the CAST idea (cross-subject
multi-scale cross-attention transformer, 2026): a multi-scale temporal
encoder over any set of 10-20 scalp channels (each embedded from its 3-D
position on MNE's ``colin27_1005`` montage) and a channel-aware decoder
whose queries are built from each target contact's MNI coordinates, atlas
region and depth class, so that any electrode layout can be decoded,
including zero-shot. The torch modules are in
:mod:`ieegrecon.models._cast_nn`; the training stages in
:mod:`ieegrecon.models._cast_train`; generic training utilities in
:mod:`ieegrecon.models.training`.

Stage one (:meth:`CastModel.pretrain`) trains encoder and decoder across
subjects on standardized signals; stage two (:meth:`CastModel.calibrate`)
adapts the decoder (encoder frozen by default) to one patient and fits the
per-contact output scale.

Amplitude
---------
The network predicts a standardized waveform (targets are divided by their
robust per-contact standard deviation in training). Volts come from a
per-contact affine map ``gain * z + offset``:

* after :meth:`~CastModel.calibrate`: least-squares gain and offset of the
  patient's iEEG on the model output over the calibration segment (the
  MSE-optimal amplitude; it does not change Pearson r);
* zero-shot (:meth:`~CastModel.set_targets`): ``gain`` = the median robust
  standard deviation (volts) of all contacts seen in pretraining, offset 0.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..atlas.vocab import DEPTHS, REGIONS, depth_index, region_index
from ..channels import normalize_ch_name
from ..headmodel import scalp_positions
from . import _cast_train as stages
from . import training as tr
from ._cast_infer import add_lagged_blocked, predict_std
from ._cast_state import cast_state_dict, load_cast_state
from ._cast_train import RES_LAG_STEP_S, RES_MAX_LAG_S
from .base import ContactInfo, PairedSegment, ReconModel


class CastModel(ReconModel):
    """CAST: multi-scale cross-attention transformer, pretrained across subjects.

    Parameters
    ----------
    sfreq : float
        Sampling rate in Hz (200).
    d_model : int
        Width of every token.
    n_heads : int
        Attention heads.
    n_layers : int
        Factorized (time, channel) encoder blocks.
    n_dec_layers : int
        Temporal refinement blocks of the decoder.
    patch_sizes : list of int
        Encoder patch lengths in samples; the first is also the output patch.
    window_s : float
        Window length in seconds (2 s = 400 samples).
    n_freqs : int
        Octaves of the positional Fourier features (2: periods of 10 and
        5 cm; higher octaves let the decoder memorize training contacts,
        which measurably hurt zero-shot r on a held-out subject).
    dropout : float
        Dropout in the transformer blocks.
    spectral_weight : float
        Weight of the log-magnitude spectrum L1 term of the loss.
    infer_overlap_s : float
        Overlap between consecutive inference windows (cross-faded).
    n_lin : int
        Temporal kernels of the linear readout (0: no linear readout).
    lin_taps : int
        Length of each kernel in samples (odd; 21 = ±50 ms at 200 Hz).
    """

    method = "cast"
    supports_pretrain = True
    requires_pretrain = True
    supports_zero_shot = True
    supports_distributed = True

    def __init__(self, sfreq: float = 200.0, d_model: int = 32, n_heads: int = 4, n_layers: int = 1,
                 n_dec_layers: int = 1, patch_sizes: list[int] | tuple[int, ...] = (8, 16, 32),
                 window_s: float = 2.0, n_freqs: int = 2, dropout: float = 0.1,
                 spectral_weight: float = 0.02, infer_overlap_s: float = 0.2, n_lin: int = 8,
                 lin_taps: int = 21) -> None:
        super().__init__(sfreq)
        self.d_model, self.n_heads, self.n_layers, self.n_dec_layers = d_model, n_heads, n_layers, n_dec_layers
        self.patch_sizes = [int(p) for p in patch_sizes]
        self.window_s, self.n_freqs, self.dropout = float(window_s), int(n_freqs), float(dropout)
        self.spectral_weight, self.infer_overlap_s = float(spectral_weight), float(infer_overlap_s)
        self.n_lin, self.lin_taps = int(n_lin), int(lin_taps)
        self.win = round(self.window_s * self.sfreq)
        self.net = self._build(seed=0)
        self.zero_shot_scale = 1e-4  # volts; replaced by pretraining
        self.gain: np.ndarray | None = None
        self.offset: np.ndarray | None = None
        self.adapter: np.ndarray | None = None
        self.res_coef: np.ndarray | None = None  # (n_contacts, n_scalp * n_lags), volts per unit
        self.lag_cov: np.ndarray | None = None  # (n_lags, n_lags): cross-subject prior of the residual ridge
        # (n_scalp,) median and robust SD of the calibration scalp, in volts: predict() standardizes with
        # these, so that every chunk of a long recording gets the same gain (None: zero-shot, per input)
        self.scalp_center: np.ndarray | None = None
        self.scalp_scale: np.ndarray | None = None

    # ------------------------------------------------------------ helpers
    @property
    def res_lags(self) -> np.ndarray:
        """Lags of the calibration residual ridge, in samples (positive = past)."""
        step = max(1, round(RES_LAG_STEP_S * self.sfreq))
        m = round(RES_MAX_LAG_S * self.sfreq)
        return np.arange(-m, m + 1, step)

    def _build(self, seed: int) -> Any:
        import torch

        from ._cast_nn import CastNet

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return CastNet(d_model=self.d_model, n_heads=self.n_heads, n_layers=self.n_layers,
                           n_dec_layers=self.n_dec_layers, patch_sizes=tuple(self.patch_sizes), win=self.win,
                           out_patch=self.patch_sizes[0], n_freqs=self.n_freqs, n_regions=len(REGIONS),
                           n_depth=len(DEPTHS), dropout=self.dropout, n_lin=self.n_lin,
                           lin_taps=self.lin_taps)

    def _check_sfreq(self, seg: PairedSegment) -> None:
        if abs(seg.sfreq - self.sfreq) > 1e-6:
            raise ValueError(f"segment of subject {seg.subject!r} is at {seg.sfreq} Hz; CAST works at {self.sfreq} Hz")

    @staticmethod
    def _contact_tensors(contacts: ContactInfo, device: Any) -> tuple[Any, Any, Any]:
        import torch

        pos = np.nan_to_num(np.asarray(contacts.positions, float), nan=0.0)
        return (torch.as_tensor(pos, dtype=torch.float32, device=device),
                torch.as_tensor(region_index(contacts.regions), device=device),
                torch.as_tensor(depth_index(contacts.depth_class), device=device))

    def _queries(self, contacts: ContactInfo, device: Any, adapter: Any = None) -> Any:
        pos, reg, dep = self._contact_tensors(contacts, device)
        return self.net.queries(pos, reg, dep, adapter)

    # ---------------------------------------------------------------- API
    def pretrain(self, segments: list[PairedSegment], *, epochs: int = 20, seed: int = 0, device: str | None = None,
                 val_subjects: list[str] | None = None, val_fraction: float = 0.1, batch_size: int = 16,
                 lr: float = 3e-3, weight_decay: float = 1e-2, patience: int = 4, stride_s: float = 1.0,
                 max_contacts: int = 48, max_windows_per_epoch: int | None = None, channel_dropout: float = 0.5,
                 lag_prior_minutes: float = 5.0,
                 progress: Callable[[int, float, float], None] | None = None) -> dict[str, Any]:
        """Train encoder and decoder across subjects (stage one).

        Parameters
        ----------
        segments : list of PairedSegment
            One per subject/session, each at :attr:`sfreq`; contact sets and
            scalp channel sets may differ.
        epochs : int
            Maximum passes over the training windows.
        seed : int
            Seeds initialization, data order, contact/channel subsampling and dropout.
        device : str | None
            ``'cuda'`` to train on a GPU if available; CPU otherwise.
        val_subjects : list of str | None
            Subjects held out entirely for early stopping; if None, the last
            ``val_fraction`` of every segment is held out.
        val_fraction : float
            Tail fraction held out per segment when ``val_subjects`` is None.
        batch_size : int
            Windows per step (all from one segment).
        lr, weight_decay : float
            AdamW settings (cosine-decayed learning rate).
        patience : int
            Epochs without validation improvement before stopping.
        stride_s : float
            Hop between training windows in seconds.
        max_contacts : int
            Contacts per step (a random subset when a segment has more).
        max_windows_per_epoch : int | None
            Cap on the training windows drawn per epoch (random subset).
        channel_dropout : float
            Probability that a step sees a random subset (>= 4) of the scalp
            channels, so that small montages (8 channels) work.
        lag_prior_minutes : float
            After the network, learn the cross-subject lag prior of the
            calibration's residual ridge (:attr:`lag_cov`): a lagged
            :class:`~ieegrecon.models.ridge.RidgeModel` is fitted on the first
            ``lag_prior_minutes`` of every training segment (not of
            ``val_subjects``) and :func:`~ieegrecon.models.ridge.lag_prior_cov`
            pools the lag profiles of its filters. 0: no lag prior (plain
            ridge penalty at calibration).
        progress : callable | None
            Called as ``progress(epoch, train_loss, val_loss)`` after each epoch.

        Returns
        -------
        info : dict
            ``epochs_run``, ``best_epoch``, ``train_loss``/``val_loss`` histories,
            ``n_train_windows``, ``n_val_windows``, ``seconds``, ``zero_shot_scale``,
            ``lag_prior`` (segments and filters it pooled, seconds).

        Raises
        ------
        ValueError
            No segment, wrong sfreq, unknown scalp channel, or no training window.
        """
        if not segments:
            raise ValueError("pretrain needs at least one PairedSegment")
        t0 = time.perf_counter()
        rng = tr.set_seed(seed)
        dev = tr.choose_device(device)
        val_subjects = set(val_subjects or [])
        data, train_idx, val_idx, scales = stages.pretrain_windows(self, segments, val_subjects, val_fraction,
                                                                   stride_s)
        if not train_idx:
            raise ValueError(f"no training window of {self.win} samples in the pretraining segments")
        self.zero_shot_scale = float(np.median(np.concatenate(scales)))
        hist_tr, hist_va, stopper = stages.train_network(
            self, data, train_idx, val_idx, rng=rng, dev=dev, seed=seed, epochs=epochs, batch_size=batch_size,
            lr=lr, weight_decay=weight_decay, patience=patience, max_windows_per_epoch=max_windows_per_epoch,
            max_contacts=max_contacts, channel_dropout=channel_dropout, progress=progress)
        self.net = self.net.cpu().eval()
        self.gain = self.offset = self.adapter = self.res_coef = None
        self.scalp_center = self.scalp_scale = None
        self.contacts = None
        prior_info = stages.learn_lag_prior(self, [s for s in segments if s.subject not in val_subjects],
                                            lag_prior_minutes)
        self.trained_on["pretrain"] = {
            "subjects": sorted({s.subject for s in segments}),
            "n_segments": len(segments),
            "minutes": round(sum(s.scalp.shape[1] for s in segments) / self.sfreq / 60, 3),
            "val_subjects": sorted(val_subjects),
            "epochs_run": len(hist_tr), "best_epoch": stopper.best_epoch, "seed": seed,
            "lag_prior": prior_info,
        }
        return {"epochs_run": len(hist_tr), "best_epoch": stopper.best_epoch, "train_loss": hist_tr,
                "val_loss": hist_va, "n_train_windows": len(train_idx), "n_val_windows": len(val_idx),
                "seconds": round(time.perf_counter() - t0, 2), "zero_shot_scale": self.zero_shot_scale,
                "device": str(dev), "lag_prior": prior_info}

    def calibrate(self, segment: PairedSegment, *, minutes: float | None = None, epochs: int = 0,
                  freeze_encoder: bool = True, seed: int = 0, lr: float = 1e-3, batch_size: int = 16,
                  patience: int = 5, stride_s: float = 0.25, holdout_fraction: float = 0.2,
                  residual_ridge: bool = True, max_windows_per_epoch: int = 320,
                  device: str | None = None) -> dict[str, Any]:
        """Adapt the decoder to one patient (stage two) and fit the output scale.

        The last ``holdout_fraction`` of the (cropped) segment is held out for
        early stopping and for the reported per-contact Pearson r; the
        per-contact gain/offset are then fitted on the whole segment.

        Parameters
        ----------
        segment : PairedSegment
            The patient's paired scalp/iEEG at :attr:`sfreq`.
        minutes : float | None
            Use only the first ``minutes`` of the segment (None: all of it).
            Zero minutes is zero-shot: call :meth:`set_targets` instead.
        epochs : int
            Maximum epochs of decoder adaptation (at most 5 when the segment is
            too short for a hold-out). Default 0: the pretrained network stays
            fixed and calibration is the residual ridge plus the output gain.
            Adapting the decoder overfitted the calibration minutes and, since
            the residual ridge then trusts an in-sample prediction, lowered
            test r at every length we measured (docs/cast.md).
        freeze_encoder : bool
            Train only the decoder (and the per-contact adapters).
        seed : int
            Seeds data order and dropout.
        lr : float
            AdamW learning rate.
        batch_size, patience : int
            Windows per step; epochs without improvement before stopping.
        stride_s : float
            Hop between calibration windows in seconds.
        holdout_fraction : float
            Tail fraction held out.
        max_windows_per_epoch : int
            Windows drawn per epoch (a random subset when there are more), so
            that long calibrations cost minutes, not hours.
        residual_ridge : bool
            After adapting the decoder, fit a lagged ridge (±100 ms, as
            ``ridge``) on the residual with the network output as an
            unpenalized regressor, regularization chosen by 5-fold blocked CV
            with "network alone" as a candidate
            (:func:`~ieegrecon.models.ridge.fit_residual_ridge`). Needs >= 10 s.
        device : str | None
            ``'cuda'`` if available, else CPU.

        Returns
        -------
        info : dict
            ``epochs_run``, ``best_epoch``, ``heldout_r`` (per contact, after),
            ``heldout_r_before`` (pretrained decoder), ``heldout_median_r``,
            ``note`` when no hold-out was possible, ``residual_ridge``
            (chosen regularization and CV r per contact, or why skipped).

        Raises
        ------
        ValueError
            Wrong sfreq, ``minutes <= 0``, a segment shorter than one window,
            or an unknown scalp channel.
        """
        self._check_sfreq(segment)
        if minutes is not None:
            if minutes <= 0:
                raise ValueError("calibration on 0 minutes is zero-shot: use set_targets() instead")
            segment = segment.crop_samples(0, round(minutes * 60 * self.sfreq))
        n = segment.scalp.shape[1]
        if n < self.win:
            raise ValueError(f"calibration segment has {n} samples; CAST needs at least one {self.win}-sample window")
        t0 = time.perf_counter()
        rng = tr.set_seed(seed)
        dev = tr.choose_device(device)
        zx, x_center, x_scale = tr.robust_standardize(segment.scalp)
        zy = tr.robust_standardize(segment.ieeg)[0]
        ch_pos = scalp_positions(segment.scalp_names)
        contacts = segment.contacts
        info: dict[str, Any] = {"n_samples": int(n), "minutes": round(n / self.sfreq / 60, 3)}
        n_tr, epochs, has_hold, train_idx = stages.calibration_split(self, n, holdout_fraction, stride_s, epochs,
                                                                     info)
        zp, hold_r, hist, stopper = stages.adapt_decoder(
            self, zx, zy, ch_pos, contacts, train_idx, n_tr, has_hold, rng=rng, dev=dev, epochs=epochs,
            freeze_encoder=freeze_encoder, lr=lr, batch_size=batch_size, patience=patience,
            max_windows_per_epoch=max_windows_per_epoch, info=info)
        stages.fit_output(self, zx, np.asarray(segment.ieeg, float), zp, residual_ridge, info)
        self.scalp_names = [normalize_ch_name(s) for s in segment.scalp_names]
        self.scalp_center, self.scalp_scale = x_center, x_scale
        self.contacts = contacts
        self.trained_on["calibration"] = {"subject": segment.subject, "minutes": info["minutes"],
                                          "freeze_encoder": bool(freeze_encoder), "seed": seed}
        # best_epoch -1: the pretrained decoder stayed best on the hold-out
        info.update(epochs_run=len(hist), best_epoch=stopper.best_epoch if has_hold else len(hist) - 1,
                    train_loss=hist, seconds=round(time.perf_counter() - t0, 2), device=str(dev))
        if hold_r is not None:
            info["heldout_r"] = stages.tolist(hold_r)
            info["heldout_median_r"] = float(np.nanmedian(hold_r))
        return info

    def set_targets(self, contacts: ContactInfo, scalp_names: list[str] | None = None) -> None:
        """Decode new contacts zero-shot (no calibration).

        Drops any calibration (adapters, gains); outputs are scaled by the
        pretraining median amplitude :attr:`zero_shot_scale`.

        Parameters
        ----------
        contacts : ContactInfo
            Targets: MNI positions (metres), regions, depth classes. May be
            contacts or atlas-region centroids.
        scalp_names : list of str | None
            Scalp channels :meth:`predict` will receive (None keeps the current ones).

        Raises
        ------
        ValueError
            If a scalp name is not on the ``colin27_1005`` montage.
        """
        if scalp_names is not None:
            scalp_positions(scalp_names)
            self.scalp_names = [normalize_ch_name(s) for s in scalp_names]
        self.contacts = contacts
        k = len(contacts.ch_names)
        self.gain = np.full(k, self.zero_shot_scale)
        self.offset = np.zeros(k)
        self.adapter = None
        self.res_coef = None
        self.scalp_center = self.scalp_scale = None

    def predict(self, scalp: np.ndarray) -> np.ndarray:
        """Reconstruct the target contacts.

        Parameters
        ----------
        scalp : ndarray, shape (n_scalp, n_times)
            Scalp EEG in volts at :attr:`sfreq`, rows in :attr:`scalp_names`
            order; standardized per channel with the median / robust SD of the
            calibration recording (:attr:`scalp_center`, :attr:`scalp_scale`), so
            that consecutive chunks of one recording get the same gain; zero-shot
            (not calibrated), with those of this input.

        Returns
        -------
        ieeg : ndarray, shape (n_contacts, n_times)
            Volts; windows of 2 s cross-faded over :attr:`infer_overlap_s`,
            the tail zero-padded.

        Raises
        ------
        ValueError
            Wrong number of scalp rows, or no targets (neither calibrated nor
            :meth:`set_targets` called).
        """
        import torch

        scalp = self.check_scalp(scalp)
        if self.contacts is None or not self.scalp_names:
            raise ValueError("CAST has no targets: calibrate() or set_targets(contacts, scalp_names) first")
        if scalp.shape[1] == 0:
            return np.zeros((len(self.contacts.ch_names), 0))
        if self.scalp_center is None:
            zx = tr.robust_standardize(scalp)[0]
        else:
            zx = tr.standardize(scalp, self.scalp_center, self.scalp_scale)
        ad = None if self.adapter is None else torch.as_tensor(self.adapter, dtype=torch.float32)
        self.net.eval()
        with torch.no_grad():
            q = self._queries(self.contacts, "cpu", ad)
        zp = predict_std(self, zx, scalp_positions(self.scalp_names), q)
        gain = self.gain if self.gain is not None else np.full(zp.shape[0], self.zero_shot_scale)
        off = self.offset if self.offset is not None else np.zeros(zp.shape[0])
        out = np.add(np.multiply(zp, gain[:, None], out=zp), off[:, None], out=zp)  # zp * gain + off, in place
        if self.res_coef is not None:
            add_lagged_blocked(out, self.res_coef.astype(np.float64), zx, self.res_lags)  # = += apply_lagged
        return out

    def get_params(self) -> dict[str, Any]:
        """Architecture hyper-parameters (``CastModel(**params)`` rebuilds it)."""
        return {"sfreq": self.sfreq, "d_model": self.d_model, "n_heads": self.n_heads, "n_layers": self.n_layers,
                "n_dec_layers": self.n_dec_layers, "patch_sizes": list(self.patch_sizes),
                "window_s": self.window_s, "n_freqs": self.n_freqs, "dropout": self.dropout,
                "spectral_weight": self.spectral_weight, "infer_overlap_s": self.infer_overlap_s,
                "n_lin": self.n_lin, "lin_taps": self.lin_taps}

    def state_dict(self) -> dict[str, np.ndarray]:
        """Network weights (``net.*``, float32) plus scale arrays (float64); see :mod:`~ieegrecon.models._cast_state`."""
        return cast_state_dict(self)

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore :meth:`state_dict` output (:func:`~ieegrecon.models._cast_state.load_cast_state`).

        Raises
        ------
        KeyError
            A network tensor is missing.
        ValueError
            Per-contact arrays do not match :attr:`contacts`.
        """
        load_cast_state(self, state)
