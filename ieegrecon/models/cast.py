"""CAST: cross-subject multi-scale cross-attention transformer (scalp EEG -> iEEG).

A re-implementation, at CPU size, of the CAST idea (cross-subject
multi-scale cross-attention transformer, 2026): a multi-scale temporal
encoder over any set of 10-20 scalp channels (each embedded from its 3-D
position on MNE's ``colin27_1005`` montage) and a channel-aware decoder
whose queries are built from each target contact's MNI coordinates, atlas
region and depth class, so that any electrode layout can be decoded,
including zero-shot. The torch modules are in
:mod:`ieegrecon.models._cast_nn`; training utilities in
:mod:`ieegrecon.training`.

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

from .. import training as tr
from ..channels import normalize_ch_name
from .base import ContactInfo, PairedSegment, ReconModel, register
from .ridge import RidgeModel, apply_lagged, fit_residual_ridge, lag_prior_cov, ls_gain

#: Residual-ridge settings of calibration: lags ±100 ms every 5 ms (as ``ridge``), grid, folds.
RES_MAX_LAG_S, RES_LAG_STEP_S = 0.1, 0.005
RES_ALPHAS = np.logspace(-4, 2, 13)
RES_FOLDS = 5

#: Desikan-Killiany cortical structures (FreeSurfer ``aparc``), plus insula.
DK_CORTICAL = (
    "bankssts", "caudalanteriorcingulate", "caudalmiddlefrontal", "cuneus", "entorhinal", "fusiform",
    "inferiorparietal", "inferiortemporal", "isthmuscingulate", "lateraloccipital", "lateralorbitofrontal",
    "lingual", "medialorbitofrontal", "middletemporal", "parahippocampal", "paracentral", "parsopercularis",
    "parsorbitalis", "parstriangularis", "pericalcarine", "postcentral", "posteriorcingulate", "precentral",
    "precuneus", "rostralanteriorcingulate", "rostralmiddlefrontal", "superiorfrontal", "superiorparietal",
    "superiortemporal", "supramarginal", "frontalpole", "temporalpole", "transversetemporal", "insula",
)
#: Subcortical structures (FreeSurfer ``aseg``) and white matter.
SUBCORTICAL = (
    "hippocampus", "amygdala", "thalamus", "putamen", "caudate", "pallidum", "accumbens", "ventraldc",
    "whitematter",
)
#: Fixed region vocabulary: ``'unknown'`` first, then every structure x L/R.
REGIONS = ("unknown",) + tuple(f"{s}_{h}" for s in DK_CORTICAL + SUBCORTICAL for h in ("L", "R"))
_REGION_INDEX = {r.lower(): i for i, r in enumerate(REGIONS)}
#: Depth classes.
DEPTHS = ("unknown", "superficial", "deep")


def region_index(regions: list[str]) -> np.ndarray:
    """Map region keys like ``'precentral_L'`` to :data:`REGIONS` indices (unknown keys -> 0)."""
    out = []
    for r in regions:
        key = str(r).strip().lower().replace(" ", "").replace("-", "")
        out.append(_REGION_INDEX.get(key, 0))
    return np.asarray(out, dtype=np.int64)


def depth_index(depths: list[str]) -> np.ndarray:
    """Map depth classes to :data:`DEPTHS` indices (anything else -> 0)."""
    return np.asarray([DEPTHS.index(d) if d in DEPTHS else 0 for d in depths], dtype=np.int64)


def scalp_positions(names: list[str]) -> np.ndarray:
    """MNI positions (metres) of scalp electrodes on MNE's ``colin27_1005`` montage.

    Parameters
    ----------
    names : list of str
        Electrode labels (normalized with :func:`ieegrecon.channels.normalize_ch_name`).

    Returns
    -------
    pos : ndarray, shape (n_scalp, 3)

    Raises
    ------
    ValueError
        If a name is not an electrode of the montage.
    """
    ch_pos = _montage_positions()
    out = []
    for n in names:
        key = normalize_ch_name(n)
        if key not in ch_pos:
            raise ValueError(f"scalp channel {n!r} is not a 10-05 electrode of the colin27_1005 montage")
        out.append(ch_pos[key])
    return np.asarray(out, dtype=float).reshape(len(names), 3)


_MONTAGE_CACHE: dict[str, np.ndarray] = {}


def _montage_positions() -> dict[str, np.ndarray]:
    if not _MONTAGE_CACHE:
        import mne

        _MONTAGE_CACHE.update(mne.channels.make_standard_montage("colin27_1005").get_positions()["ch_pos"])
    return _MONTAGE_CACHE


@register
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
        self._device = "cpu"

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

    def _windows(self, z: np.ndarray, stride: int) -> tuple[np.ndarray, np.ndarray]:
        starts = tr.window_starts(z.shape[1], self.win, stride)
        return starts, tr.cut_windows(z, starts, self.win)

    def _infer_overlap(self) -> int:
        return min(max(round(self.infer_overlap_s * self.sfreq), 0), self.win // 2)

    def _encode_all(self, zscalp: np.ndarray, ch_pos: np.ndarray, dev: Any, stride: int | None = None,
                    starts: np.ndarray | None = None, batch: int = 64) -> tuple[np.ndarray, Any, Any]:
        """Encode every window (eval mode, no grad).

        Returns starts, features Tensor (n_win, C, n_out, d) and the scalp windows Tensor (n_win, C, W).
        """
        import torch

        if starts is None:
            starts = tr.window_starts(zscalp.shape[1], self.win, stride or self.win - self._infer_overlap())
        wins = torch.as_tensor(tr.cut_windows(zscalp, starts, self.win), device=dev)
        pos_t = torch.as_tensor(ch_pos, dtype=torch.float32, device=dev)
        was_training = self.net.training
        self.net.eval()
        with torch.no_grad():
            feats = torch.cat([self.net.encode(wins[i:i + batch], pos_t) for i in range(0, len(wins), batch)])
        self.net.train(was_training)
        return starts, feats, wins

    def _decode_all(self, starts: np.ndarray, feats: Any, wins: Any, q: Any, n_times: int,
                    batch: int = 64) -> np.ndarray:
        """Decode cached features (eval mode, no grad) and overlap-add: (K, n_times), standardized."""
        import torch

        was_training = self.net.training
        self.net.eval()
        with torch.no_grad():
            outs = [self.net.decode(feats[i:i + batch], q, wins[i:i + batch]).cpu().numpy()
                    for i in range(0, len(feats), batch)]
        self.net.train(was_training)
        return tr.overlap_add(np.concatenate(outs), starts, n_times, tr.taper(self.win, self._infer_overlap()))

    def _predict_std(self, zscalp: np.ndarray, ch_pos: np.ndarray, q: Any) -> np.ndarray:
        """Standardized scalp (C, n) -> standardized contacts (K, n), no grad, overlap-add."""
        return self._decode_all(*self._encode_all(zscalp, ch_pos, q.device), q, zscalp.shape[1])

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
        import torch

        if not segments:
            raise ValueError("pretrain needs at least one PairedSegment")
        t0 = time.perf_counter()
        rng = tr.set_seed(seed)
        dev = tr.choose_device(device)
        val_subjects = set(val_subjects or [])
        data, train_idx, val_idx, scales = [], [], [], []
        stride = max(1, round(stride_s * self.sfreq))
        for si, seg in enumerate(segments):
            self._check_sfreq(seg)
            if seg.scalp.shape[1] < self.win:
                continue
            zx = tr.robust_standardize(seg.scalp)[0]
            zy, _, sy = tr.robust_standardize(seg.ieeg)
            ch_pos = scalp_positions(seg.scalp_names)
            data.append((zx, zy, ch_pos, seg.contacts))
            di = len(data) - 1
            n = seg.scalp.shape[1]
            if seg.subject in val_subjects:
                val_idx += [(di, s) for s in tr.window_starts(n, self.win, self.win)]
                continue
            scales.append(sy)
            n_tr = n if val_fraction <= 0 else int(n * (1 - val_fraction))
            if n - n_tr >= self.win:
                val_idx += [(di, s) for s in tr.window_starts(n - n_tr, self.win, self.win) + n_tr]
            else:
                n_tr = n
            if n_tr >= self.win:
                train_idx += [(di, s) for s in tr.window_starts(n_tr, self.win, stride)]
        if not train_idx:
            raise ValueError(f"no training window of {self.win} samples in the pretraining segments")
        self.zero_shot_scale = float(np.median(np.concatenate(scales)))
        with tr.deterministic():
            self.net = self._build(seed).to(dev)
            opt = torch.optim.AdamW(self.net.parameters(), lr=lr, weight_decay=weight_decay)
            per_epoch = len(train_idx) if max_windows_per_epoch is None else min(len(train_idx), max_windows_per_epoch)
            total_steps = max(1, epochs * int(np.ceil(per_epoch / batch_size)))
            sched = torch.optim.lr_scheduler.LambdaLR(
                opt, lambda k: min(1.0, (k + 1) / 50) * 0.5 * (1 + np.cos(np.pi * min(k, total_steps) / total_steps)))
            stopper = tr.EarlyStopping(patience=patience)
            hist_tr, hist_va = [], []
            for ep in range(epochs):
                self.net.train()
                order = rng.permutation(len(train_idx))[:per_epoch]
                batches = self._group(train_idx, order, batch_size)
                losses = []
                for b in (batches[i] for i in rng.permutation(len(batches))):
                    di = train_idx[b[0]][0]
                    zx, zy, ch_pos, contacts = data[di]
                    starts = np.array([train_idx[j][1] for j in b])
                    ch = np.arange(zx.shape[0])
                    if channel_dropout > 0 and len(ch) > 4 and rng.random() < channel_dropout:
                        ch = np.sort(rng.choice(len(ch), int(rng.integers(4, len(ch) + 1)), replace=False))
                    ks = np.arange(zy.shape[0])
                    if len(ks) > max_contacts:
                        ks = np.sort(rng.choice(len(ks), max_contacts, replace=False))
                    loss = self._step_loss(zx[ch], zy[ks], ch_pos[ch], contacts.subset(list(ks)), starts, dev)
                    opt.zero_grad()
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(self.net.parameters(), 1.0)
                    opt.step()
                    sched.step()
                    losses.append(float(loss.detach()))
                va = self._eval_loss(data, val_idx, dev) if val_idx else float(np.mean(losses))
                hist_tr.append(float(np.mean(losses)))
                hist_va.append(va)
                stopper.step(va, ep, self.net.state_dict())
                if progress is not None:
                    progress(ep, hist_tr[-1], va)
                if stopper.stop:
                    break
            if stopper.best_state is not None:
                self.net.load_state_dict(stopper.best_state)
        self.net = self.net.cpu().eval()
        self.gain = self.offset = self.adapter = self.res_coef = None
        self.scalp_center = self.scalp_scale = None
        self.contacts = None
        prior_info = self._learn_lag_prior([s for s in segments if s.subject not in val_subjects],
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

    def _learn_lag_prior(self, segments: list[PairedSegment], minutes: float) -> dict[str, Any]:
        """Set :attr:`lag_cov` from within-subject ridge filters of ``segments`` (None if ``minutes`` <= 0)."""
        self.lag_cov = None
        if minutes <= 0:
            return {"used": False}
        t0 = time.perf_counter()
        ridge = RidgeModel(self.sfreq, max_lag_ms=RES_MAX_LAG_S * 1000, lag_step_ms=RES_LAG_STEP_S * 1000)
        coefs = []
        for seg in segments:
            seg = seg.crop_samples(0, round(minutes * 60 * self.sfreq))
            if seg.scalp.shape[1] >= 2 * ridge.n_folds * self.sfreq:
                ridge.calibrate(seg)
                coefs.append(ridge.coef_)
        if not coefs:
            return {"used": False, "reason": f"no training segment of {2 * ridge.n_folds} s or more"}
        self.lag_cov = lag_prior_cov(coefs, len(self.res_lags))
        return {"used": True, "segments": len(coefs), "filters": int(sum(len(c) for c in coefs)),
                "minutes_per_segment": minutes, "seconds": round(time.perf_counter() - t0, 2)}

    @staticmethod
    def _group(index: list[tuple[int, int]], order: np.ndarray, batch_size: int) -> list[list[int]]:
        """Group window indices (in ``order``) into batches from a single segment each."""
        by_seg: dict[int, list[int]] = {}
        for j in order:
            by_seg.setdefault(index[j][0], []).append(int(j))
        return [v[i:i + batch_size] for k in sorted(by_seg) for v in [by_seg[k]] for i in range(0, len(v), batch_size)]

    def _step_loss(self, zx: np.ndarray, zy: np.ndarray, ch_pos: np.ndarray, contacts: ContactInfo,
                   starts: np.ndarray, dev: Any, adapter: Any = None) -> Any:
        import torch

        xb = torch.as_tensor(tr.cut_windows(zx, starts, self.win), device=dev)
        yb = torch.as_tensor(tr.cut_windows(zy, starts, self.win), device=dev)
        q = self._queries(contacts, dev, adapter)
        pred = self.net(xb, torch.as_tensor(ch_pos, dtype=torch.float32, device=dev), q)
        return tr.waveform_spectral_loss(pred, yb, self.spectral_weight)

    def _eval_loss(self, data: list, index: list[tuple[int, int]], dev: Any, adapter: Any = None,
                   batch_size: int = 32) -> float:
        import torch

        self.net.eval()
        tot, cnt = 0.0, 0
        with torch.no_grad():
            for b in self._group(index, np.arange(len(index)), batch_size):
                zx, zy, ch_pos, contacts = data[index[b[0]][0]]
                starts = np.array([index[j][1] for j in b])
                tot += float(self._step_loss(zx, zy, ch_pos, contacts, starts, dev, adapter)) * len(b)
                cnt += len(b)
        self.net.train()
        return tot / max(cnt, 1)

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
        import torch

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
        n_hold = int(n * holdout_fraction)
        stride = max(1, round(stride_s * self.sfreq))
        has_hold = n_hold >= self.win // 2 and n - n_hold >= self.win
        if has_hold:
            n_tr = n - n_hold
        else:
            n_tr, epochs = n, min(epochs, 5)
            info["note"] = (f"segment too short for a hold-out ({n / self.sfreq:.1f} s): "
                            f"trained {epochs} epochs on all of it without early stopping")
        train_idx = [(0, s) for s in tr.window_starts(n_tr, self.win, stride)]
        with tr.deterministic():
            self.net = self.net.to(dev)
            adapter = torch.zeros(len(contacts.ch_names), self.d_model, device=dev, requires_grad=True)
            enc = self.net.encoder_parameters()
            for p in enc:
                p.requires_grad_(not freeze_encoder)
            params = self.net.decoder_parameters() + ([] if freeze_encoder else enc)
            opt = torch.optim.AdamW([{"params": params}, {"params": [adapter], "weight_decay": 0.0}],
                                    lr=lr, weight_decay=1e-2)
            hold_r = None
            if has_hold:
                hold = self._encode_all(zx[:, n_tr:], ch_pos, dev)
                with torch.no_grad():
                    q0 = self._queries(contacts, dev)
                hold_r = tr.pearson_r(self._decode_all(*hold, q0, n - n_tr), zy[:, n_tr:])
                info["heldout_r_before"] = _tolist(hold_r)
            stopper = tr.EarlyStopping(patience=patience)
            # the pretrained decoder is a candidate too: calibration never worsens the hold-out
            if has_hold:
                stopper.step(-float(np.nanmean(hold_r)), -1, dict(self.net.state_dict(), __adapter__=adapter))
            cache = None
            if freeze_encoder and epochs > 0:  # the encoder is fixed: encode every training window once
                tr_starts = np.array([s for _, s in train_idx])
                cache = self._encode_all(zx, ch_pos, dev, starts=tr_starts)[1:]
            hist = []
            for ep in range(epochs):
                self.net.train()
                order = rng.permutation(len(train_idx))[:max_windows_per_epoch]
                losses = []
                for b in self._group(train_idx, order, batch_size):
                    starts = np.array([train_idx[j][1] for j in b])
                    if cache is None:
                        loss = self._step_loss(zx, zy, ch_pos, contacts, starts, dev, adapter)
                    else:
                        yb = torch.as_tensor(tr.cut_windows(zy, starts, self.win), device=dev)
                        pred = self.net.decode(cache[0][b], self._queries(contacts, dev, adapter), cache[1][b])
                        loss = tr.waveform_spectral_loss(pred, yb, self.spectral_weight)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    losses.append(float(loss.detach()))
                hist.append(float(np.mean(losses)))
                if has_hold:
                    self.net.eval()
                    with torch.no_grad():
                        q = self._queries(contacts, dev, adapter)
                        if not freeze_encoder:
                            hold = self._encode_all(zx[:, n_tr:], ch_pos, dev)
                    val = -float(np.nanmean(tr.pearson_r(self._decode_all(*hold, q, n - n_tr), zy[:, n_tr:])))
                    state = dict(self.net.state_dict(), __adapter__=adapter)
                    stopper.step(val, ep, state)
                    if stopper.stop:
                        break
            if has_hold and stopper.best_state is not None:
                best = dict(stopper.best_state)
                with torch.no_grad():
                    adapter.copy_(best.pop("__adapter__"))
                self.net.load_state_dict(best)
            for p in self.net.parameters():
                p.requires_grad_(True)
            self.net = self.net.cpu().eval()
            self.adapter = adapter.detach().cpu().numpy().astype(np.float32)
            with torch.no_grad():
                q = self._queries(contacts, "cpu", torch.as_tensor(self.adapter))
            if has_hold:
                hold_r = tr.pearson_r(self._predict_std(zx[:, n_tr:], ch_pos, q), zy[:, n_tr:])
            zp = self._predict_std(zx, ch_pos, q)
        y = np.asarray(segment.ieeg, float)
        self.res_coef = None
        if residual_ridge and n >= 2 * RES_FOLDS * self.sfreq:
            # stage three: lagged ridge on what the network leaves unexplained, shrunk towards the
            # network (alpha = inf keeps it alone) or plain ridge (gain 0), per contact by blocked CV
            fit = fit_residual_ridge(zx, self.res_lags, y.T, zp.T, RES_ALPHAS, RES_FOLDS, lag_cov=self.lag_cov)
            self.gain, self.offset = fit["gain"], fit["intercept"]
            self.res_coef = fit["coef"].astype(np.float32)
            info["residual_ridge"] = {"alpha_relative": [None if not np.isfinite(a) else float(a)
                                                         for a in fit["alpha"]],
                                      "cv_r": _tolist(fit["cv_r"]), "cv_r_network": _tolist(fit["cv_r_prior"]),
                                      "cv_r_ridge": _tolist(fit["cv_r_ridge"]),
                                      "uses_network": [bool(u) for u in fit["uses_prior"]],
                                      "lag_prior": self.lag_cov is not None,
                                      "cv_median_r": float(np.nanmedian(fit["cv_r"]))}
        else:  # per-contact least-squares gain and offset in volts, on the whole segment
            if residual_ridge:
                info["residual_ridge"] = f"skipped: needs at least {2 * RES_FOLDS} s of calibration data"
            self.gain = ls_gain(zp.T, y.T)
            self.offset = y.mean(1) - self.gain * zp.mean(1)
        self.scalp_names = [normalize_ch_name(s) for s in segment.scalp_names]
        self.scalp_center, self.scalp_scale = x_center, x_scale
        self.contacts = contacts
        self.trained_on["calibration"] = {"subject": segment.subject, "minutes": info["minutes"],
                                          "freeze_encoder": bool(freeze_encoder), "seed": seed}
        # best_epoch -1: the pretrained decoder stayed best on the hold-out
        info.update(epochs_run=len(hist), best_epoch=stopper.best_epoch if has_hold else len(hist) - 1,
                    train_loss=hist, seconds=round(time.perf_counter() - t0, 2), device=str(dev))
        if hold_r is not None:
            info["heldout_r"] = _tolist(hold_r)
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
        zp = self._predict_std(zx, scalp_positions(self.scalp_names), q)
        gain = self.gain if self.gain is not None else np.full(zp.shape[0], self.zero_shot_scale)
        off = self.offset if self.offset is not None else np.zeros(zp.shape[0])
        out = zp * gain[:, None] + off[:, None]
        if self.res_coef is not None:
            out += apply_lagged(self.res_coef.astype(np.float64), zx, self.res_lags)
        return out

    def get_params(self) -> dict[str, Any]:
        """Architecture hyper-parameters (``CastModel(**params)`` rebuilds it)."""
        return {"sfreq": self.sfreq, "d_model": self.d_model, "n_heads": self.n_heads, "n_layers": self.n_layers,
                "n_dec_layers": self.n_dec_layers, "patch_sizes": list(self.patch_sizes),
                "window_s": self.window_s, "n_freqs": self.n_freqs, "dropout": self.dropout,
                "spectral_weight": self.spectral_weight, "infer_overlap_s": self.infer_overlap_s,
                "n_lin": self.n_lin, "lin_taps": self.lin_taps}

    def state_dict(self) -> dict[str, np.ndarray]:
        """Network weights (``net.*``, float32) plus scale arrays (float64)."""
        out = {f"net.{k}": v.detach().cpu().numpy().copy() for k, v in self.net.state_dict().items()}
        out["zero_shot_scale"] = np.array([self.zero_shot_scale], dtype=np.float64)
        if self.gain is not None:
            out["out_gain"] = np.asarray(self.gain, np.float64)
            out["out_offset"] = np.asarray(self.offset, np.float64)
        if self.adapter is not None:
            out["contact_adapter"] = np.asarray(self.adapter, np.float32)
        if self.res_coef is not None:
            out["residual_coef"] = np.asarray(self.res_coef, np.float32)
        if self.lag_cov is not None:
            out["lag_prior_cov"] = np.asarray(self.lag_cov, np.float64)
        if self.scalp_center is not None:
            out["scalp_center"] = np.asarray(self.scalp_center, np.float64)
            out["scalp_scale"] = np.asarray(self.scalp_scale, np.float64)
        return out

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore :meth:`state_dict` output.

        Raises
        ------
        KeyError
            A network tensor is missing.
        ValueError
            Per-contact arrays do not match :attr:`contacts`.
        """
        import torch

        net_state = {k[4:]: torch.as_tensor(np.array(v)) for k, v in state.items() if k.startswith("net.")}
        self.net.load_state_dict(net_state, strict=True)
        self.net.eval()
        self.zero_shot_scale = float(np.asarray(state["zero_shot_scale"]).ravel()[0])
        k = None if self.contacts is None else len(self.contacts.ch_names)
        self.gain = self.offset = self.adapter = self.res_coef = self.lag_cov = None
        self.scalp_center = self.scalp_scale = None
        if "scalp_center" in state:  # absent in models calibrated before session 4: per-input standardization
            if len(state["scalp_center"]) != len(self.scalp_names) or len(state["scalp_scale"]) != len(self.scalp_names):
                raise ValueError(f"scalp_center/scalp_scale have {len(state['scalp_center'])} entries for "
                                 f"{len(self.scalp_names)} scalp channels")
            self.scalp_center = np.array(state["scalp_center"], np.float64)
            self.scalp_scale = np.array(state["scalp_scale"], np.float64)
        if "lag_prior_cov" in state:  # absent in models pretrained before the lag prior
            n_lags = len(self.res_lags)
            if np.shape(state["lag_prior_cov"]) != (n_lags, n_lags):
                raise ValueError(f"lag_prior_cov has shape {np.shape(state['lag_prior_cov'])}; "
                                 f"expected ({n_lags}, {n_lags})")
            self.lag_cov = np.array(state["lag_prior_cov"], np.float64)
        if "out_gain" in state:
            if k is not None and len(state["out_gain"]) != k:
                raise ValueError(f"out_gain has {len(state['out_gain'])} entries for {k} contacts")
            self.gain = np.array(state["out_gain"], np.float64)
            self.offset = np.array(state["out_offset"], np.float64)
        if "contact_adapter" in state:
            if k is not None and state["contact_adapter"].shape[0] != k:
                raise ValueError("contact_adapter does not match the contacts")
            self.adapter = np.array(state["contact_adapter"], np.float32)
        if "residual_coef" in state:
            n_feat = len(self.scalp_names) * len(self.res_lags)
            coef = np.array(state["residual_coef"], np.float32)
            if (k is not None and coef.shape[0] != k) or coef.shape[1] != n_feat:
                raise ValueError(f"residual_coef has shape {coef.shape}; expected ({k}, {n_feat})")
            self.res_coef = coef


def _tolist(a: np.ndarray) -> list[float | None]:
    return [None if not np.isfinite(v) else round(float(v), 6) for v in a]
