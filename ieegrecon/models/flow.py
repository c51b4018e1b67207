"""Conditional normalizing flow over iEEG windows (NeuroFlowNet-style), with calibrated bands.

Per contact and per window of ``win`` samples (default 64 = 320 ms at
200 Hz, hop 56), the model is a conditional density

    y_window  =  ridge(scalp)_window + L MAF^{-1}(z; c),   z ~ N(0, I)   (default)
    y_window  =  mu(c) + MAF^{-1}(z; c)                                   (location="none", whiten=False)

where ``c`` combines a multi-scale self-attention encoding of the scalp
around the window (±``pad`` samples) with an embedding of the contact's MNI
position (Fourier features), atlas region and depth class, plus a
per-contact adapter learned at calibration. The flow is
``zuko.flows.MAF(passes=2)`` (affine coupling; Papamakarios et al. 2017,
"Masked Autoregressive Flow"; Dinh et al. 2017, "RealNVP"), trained by
maximum likelihood on robustly standardized signals; the idea of a
conditional flow for scalp-to-intracranial mapping follows NeuroFlowNet
(Wang et al. 2023).

**Linear location.** By default (``location="ridge"``) the flow does not
model the iEEG itself but the residual of a lagged ridge regression
(:class:`~ieegrecon.models.ridge.RidgeModel`, ±100 ms) fitted on the same
training minutes: ``y = ridge(scalp) + L MAF^{-1}(z; c)`` (no ``mu`` head:
a learned mean shift was measured to lower the waveform r). The flow
trains on cross-fitted (out-of-fold) ridge residuals, which are as large as
on new data; after the conformal step the ridge is refitted on all the
calibration minutes for the point estimate. The posterior
is then centred on the best linear reconstruction (its mean tracks the
waveform as well as ridge does), and the flow spends its capacity on what a
linear filter cannot give: the missing power, the residual spectrum, the
co-fluctuation of contacts and the uncertainty.

Four additions make samples usable as surrogates:

* **Window whitening.** ``L`` (W x W, per contact) is the Cholesky factor of
  the covariance of the contact's training windows (shrunk 1 %); the flow
  models ``L^{-1}`` of each window. The steep 1/f spectrum of iEEG is then
  carried exactly by ``L`` and the flow only has to model what is
  non-Gaussian or scalp-dependent. Without it the draws had about 10 times
  too much gamma power (docs/flow.md).

* **Cross-contact copula.** The flow treats contacts as conditionally
  independent; at calibration the correlation ``R`` (K x K) of the base-space
  codes ``z`` of the true windows is estimated (shrunk 10 % to identity) and
  samples draw ``z`` with that correlation (a Gaussian copula), so residual
  co-fluctuations among contacts, hence connectivity, are kept.
* **Variance-preserving stitching.** The location ``mu`` is overlap-added with
  a taper summing to one; the random residual with the square root of it
  (weights whose squares sum to one), so overlaps neither halve the variance
  nor leave seams.
* **Split-conformal scale correction** (Lei et al. 2018; Romano et al. 2019
  for the interval-scaling form). The last ``conformal_frac`` of the
  calibration minutes is never trained on. On it, with ``n_samples`` posterior
  draws, the score ``s = max((m - y) / (m - lo), (y - m) / (hi - m))`` of every
  sample (``m`` the median, ``lo``/``hi`` the 5/95 % quantiles) is computed;
  per depth class the ``ceil((n + 1) 0.9) / n`` quantile of ``s`` becomes a
  factor that widens (or narrows) the bands around the median (draws stay
  as the flow made them, so their power is not inflated). The
  factor is calibrated for 90 % bands; other levels reuse it.

Calibration (:meth:`FlowModel.calibrate`) splits the minutes into train /
early-stopping / conformal parts (chronological), freezes the scalp encoder
(when pretrained) and fine-tunes everything else.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..training import (
    EarlyStopping,
    choose_device,
    deterministic,
    robust_standardize,
    set_seed,
    standardize,
    taper,
    window_starts,
)
from .base import ContactInfo, PairedSegment, ReconModel, register
from .cast import DEPTHS, REGIONS, depth_index, region_index
from .ridge import RidgeModel

#: Nominal coverage the conformal factors are calibrated for.
CONFORMAL_LEVEL = 0.90
#: What the flow is centred on (see :class:`FlowModel`).
LOCATIONS = ("ridge", "none")
#: Rows (draws x windows x contacts) per flow call when drawing, bounding memory.
MAX_FLOW_ROWS = 2048
#: Shrinkage of each contact's window covariance towards its mean variance (``whiten``).
WHITEN_SHRINK = 0.01


@register
class FlowModel(ReconModel):
    """Conditional normalizing flow (zuko MAF) over per-contact iEEG windows.

    Parameters
    ----------
    sfreq : float
        Model rate in Hz.
    win : int
        Samples per modelled window.
    hop : int
        Samples between window starts (``win - hop`` samples overlap).
    pad : int
        Scalp context on each side of the window, in samples; ``win + 2 pad``
        must be a multiple of every patch size.
    patch_sizes : list of int
        Scalp patch sizes of the multi-scale encoder.
    d_enc, d_contact, d_ctx : int
        Widths of the scalp encoding, the contact embedding and the flow context.
    transforms, hidden : int
        Coupling transforms of the flow and width of their networks.
    copula_shrink : float
        Shrinkage of the cross-contact latent correlation toward identity.
    location : {"ridge", "none"}
        ``"ridge"`` (default): the flow models the residual of a lagged ridge
        regression (:class:`~ieegrecon.models.ridge.RidgeModel`) fitted on the
        same minutes, so the posterior is centred on the best linear
        reconstruction and the flow supplies what it misses (spectrum,
        cross-contact co-fluctuation, uncertainty). ``"none"``: the flow models
        the standardized iEEG itself.
    device : str | None
        ``'cpu'`` (default), ``'cuda'`` or ``'auto'``.
    """

    method = "flow"
    max_chunk_s = 120.0  # posterior draws hold draws x contacts x samples: bound the chunk
    supports_pretrain = True
    supports_zero_shot = False

    def __init__(self, sfreq: float = 200.0, win: int = 64, hop: int = 56, pad: int = 16,
                 patch_sizes: list[int] | None = None, d_enc: int = 64, d_contact: int = 32, d_ctx: int = 16,
                 transforms: int = 2, hidden: int = 32, copula_shrink: float = 0.1,
                 location: str = "ridge", whiten: bool = True, device: str | None = None) -> None:
        super().__init__(sfreq)
        if location not in LOCATIONS:
            raise ValueError(f"location must be one of {LOCATIONS}, got {location!r}")
        self.location = location
        self.whiten = bool(whiten)
        self.win, self.hop, self.pad = int(win), int(hop), int(pad)
        if not 0 < self.hop <= self.win:
            raise ValueError(f"hop must be in (0, win], got hop={hop}, win={win}")
        self.patch_sizes = [int(p) for p in (patch_sizes or [4, 8, 24])]
        self.d_enc, self.d_contact, self.d_ctx = int(d_enc), int(d_contact), int(d_ctx)
        self.transforms, self.hidden = int(transforms), int(hidden)
        self.copula_shrink = float(copula_shrink)
        self.device = device
        self.net: Any = None
        self.adapter_: np.ndarray | None = None  # (K, d_contact)
        self.x_center_: np.ndarray | None = None  # (n_scalp,) volts
        self.x_scale_: np.ndarray | None = None
        self.y_center_: np.ndarray | None = None  # (K,) volts
        self.y_scale_: np.ndarray | None = None
        self.copula_chol_: np.ndarray | None = None  # (K, K)
        self.conformal_: np.ndarray = np.ones(len(DEPTHS))  # factor per DEPTHS entry
        self.loc_: RidgeModel | None = None  # linear location (location="ridge")
        self.window_chol_: np.ndarray | None = None  # (K, win, win) window covariance factors

    # ---------------------------------------------------------------- build
    @property
    def ctx_len(self) -> int:
        return self.win + 2 * self.pad

    def _build(self, n_scalp: int) -> Any:
        from ._flow_nn import ConditionalWindowFlow

        return ConditionalWindowFlow(n_scalp=n_scalp, ctx_len=self.ctx_len, win=self.win,
                                     n_regions=len(REGIONS), n_depth=len(DEPTHS), d_enc=self.d_enc,
                                     d_contact=self.d_contact, d_ctx=self.d_ctx, transforms=self.transforms,
                                     hidden=self.hidden, patch_sizes=tuple(self.patch_sizes),
                                     use_mu=self.location == "none")

    def _dev(self) -> Any:
        return choose_device(self.device)

    def _contact_emb(self, contacts: ContactInfo, adapter: Any = None) -> Any:
        import torch

        dev = self._dev()
        pos = torch.as_tensor(contacts.positions, dtype=torch.float32, device=dev)
        reg = torch.as_tensor(region_index(contacts.regions), device=dev)
        dep = torch.as_tensor(depth_index(contacts.depth_class), device=dev)
        e = self.net.contact(pos, reg, dep)
        return e if adapter is None else e + adapter

    # ------------------------------------------------------------- windows
    def _scalp_windows(self, zx: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """Scalp context windows (n_win, C, win + 2 pad) around each iEEG window (zero-padded)."""
        n_ch, n_t = zx.shape
        padded = np.zeros((n_ch, n_t + 2 * self.pad + self.win), np.float32)
        padded[:, self.pad:self.pad + n_t] = zx
        idx = starts[:, None] + np.arange(self.ctx_len)[None]
        return np.ascontiguousarray(padded[:, idx].transpose(1, 0, 2))

    def _ieeg_windows(self, zy: np.ndarray, starts: np.ndarray) -> np.ndarray:
        n_ch, n_t = zy.shape
        padded = np.zeros((n_ch, n_t + self.win), np.float32)
        padded[:, :n_t] = zy
        idx = starts[:, None] + np.arange(self.win)[None]
        return np.ascontiguousarray(padded[:, idx].transpose(1, 0, 2))

    # ------------------------------------------------------------ training
    def _fit(self, data: list[tuple[np.ndarray, np.ndarray, ContactInfo]], val: list | None, *, params: list,
             adapter: Any, epochs: int, lr: float, batch_windows: int, patience: int, rng: np.random.Generator,
             max_steps_per_epoch: int | None = None, max_windows_per_epoch: int | None = None) -> dict[str, Any]:
        """Maximum-likelihood training on (scalp windows, iEEG windows, contacts) triples.

        ``max_windows_per_epoch`` draws a fresh random subset of at most that
        many windows of every triple per epoch (bounds the cost of an epoch).
        """
        import torch

        opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
        named = {f"p{i}": p for i, p in enumerate(params)}
        stopper = EarlyStopping(patience=patience, min_delta=1e-3)
        dev = self._dev()
        history = []
        for epoch in range(epochs):
            self.net.train()
            batches = []
            for d, (xw, yw, _) in enumerate(data):
                order = rng.permutation(len(xw))
                if max_windows_per_epoch:
                    order = order[:max_windows_per_epoch]
                batches += [(d, order[i:i + batch_windows]) for i in range(0, len(order), batch_windows)]
            batches = [batches[i] for i in rng.permutation(len(batches))]
            if max_steps_per_epoch:
                batches = batches[:max_steps_per_epoch]
            tot = 0.0
            for d, b in batches:
                xw, yw, contacts = data[d]
                h = self.net.encoder(torch.as_tensor(xw[b], device=dev))
                c = self.net.context(h, self._contact_emb(contacts, adapter if d == 0 else None))
                loss = self.net.nll(c, torch.as_tensor(yw[b], device=dev))
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 5.0)
                opt.step()
                tot += float(loss.detach())
            train_loss = tot / max(len(batches), 1)
            if val is None:
                history.append({"epoch": epoch, "train_nll": train_loss})
                continue
            vl = self._eval_nll(val, adapter)
            history.append({"epoch": epoch, "train_nll": train_loss, "val_nll": vl})
            stopper.step(vl, epoch, named)
            if stopper.stop:
                break
        if val is not None and stopper.best_state is not None:
            with torch.no_grad():
                for k, p in named.items():
                    p.copy_(stopper.best_state[k])
        return {"history": history, "best_epoch": stopper.best_epoch if val is not None else epochs - 1}

    def _eval_nll(self, data: list, adapter: Any) -> float:
        import torch

        dev = self._dev()
        self.net.eval()
        tot, n = 0.0, 0
        with torch.no_grad():
            for d, (xw, yw, contacts) in enumerate(data):
                e = self._contact_emb(contacts, adapter if d == 0 else None)
                for i in range(0, len(xw), 64):
                    c = self.net.context(self.net.encoder(torch.as_tensor(xw[i:i + 64], device=dev)), e)
                    tot += float(self.net.nll(c, torch.as_tensor(yw[i:i + 64], device=dev))) * len(xw[i:i + 64])
                    n += len(xw[i:i + 64])
        return tot / max(n, 1)

    def _fit_location(self, seg: PairedSegment, n_train: int) -> tuple[RidgeModel | None, np.ndarray]:
        """Lagged ridge fitted on the first ``n_train`` samples of ``seg``, and the flow's target.

        The target is ``seg.ieeg`` minus the ridge prediction: cross-fitted
        (out-of-fold) on the training samples, so that their residuals are as
        large as on new data, and out-of-sample after them. With
        ``location="none"`` returns ``(None, seg.ieeg)``.
        """
        if self.location == "none":
            return None, seg.ieeg
        loc = RidgeModel(self.sfreq)
        info = loc.calibrate(seg.crop_samples(0, n_train), out_of_fold=True)
        pred = np.concatenate([info["out_of_fold"], loc.predict(seg.scalp)[:, n_train:]], axis=1)
        return loc, seg.ieeg - pred

    def _base(self, scalp: np.ndarray) -> np.ndarray | float:
        """The location signal (volts, (K, n_times)) the flow's residual is added to; 0 without one."""
        return 0.0 if self.loc_ is None else self.loc_.predict(scalp)

    def _segment_windows(self, seg: PairedSegment, x_center: np.ndarray, x_scale: np.ndarray,
                         y_center: np.ndarray, y_scale: np.ndarray, stride: int,
                         target: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Scalp context windows and iEEG (or ``target``, same shape as ``seg.ieeg``) windows, standardized."""
        zx = ((seg.scalp - x_center[:, None]) / x_scale[:, None]).astype(np.float32)
        y = seg.ieeg if target is None else target
        zy = ((y - y_center[:, None]) / y_scale[:, None]).astype(np.float32)
        n_t = zx.shape[1]
        starts = np.arange(0, max(n_t - self.win, 0) + 1, stride)
        return self._scalp_windows(zx, starts), self._ieeg_windows(zy, starts)

    def _check_segment(self, seg: PairedSegment) -> None:
        if abs(seg.sfreq - self.sfreq) > 1e-6:
            raise ValueError(f"segment sfreq {seg.sfreq} Hz differs from the model's {self.sfreq} Hz")

    def pretrain(self, segments: list[PairedSegment], *, epochs: int = 10, seed: int = 0, lr: float = 2e-3,
                 batch_windows: int = 32, val_frac: float = 0.1, patience: int = 3,
                 max_steps_per_epoch: int | None = None, **kwargs: Any) -> dict[str, Any]:
        """Train the whole model across subjects by maximum likelihood.

        Each segment is standardized on its own (robust median / IQR per
        channel); the last ``val_frac`` of every segment is used for early
        stopping. The encoder uses the scalp channels common to all segments
        (in the first segment's order); calibration data must have them.

        Parameters
        ----------
        segments : list of PairedSegment
            Paired data of several subjects at :attr:`sfreq`.
        epochs, seed, lr, batch_windows, val_frac, patience, max_steps_per_epoch
            Optimization settings.

        Returns
        -------
        info : dict
            Loss history and best epoch.

        Raises
        ------
        ValueError
            Empty list, wrong sfreq or no common scalp channel.
        """
        if not segments:
            raise ValueError("pretrain needs at least one segment")
        rng = set_seed(seed)
        common = set.intersection(*(set(s.scalp_names) for s in segments))
        names = [n for n in segments[0].scalp_names if n in common]
        if not names:
            raise ValueError("the pretraining segments share no scalp channel")
        train, val = [], []
        for seg in segments:
            self._check_segment(seg)
            idx = [seg.scalp_names.index(n) for n in names]
            seg = PairedSegment(seg.scalp[idx], seg.ieeg, seg.sfreq, names, seg.contacts, seg.subject)
            n_t = seg.scalp.shape[1]
            n_val = int(n_t * val_frac)
            cut = n_t - n_val
            _, target = self._fit_location(seg, cut)
            _, xc, xs = robust_standardize(seg.scalp[:, :cut])
            _, yc, ys = robust_standardize(target[:, :cut])
            xw, yw = self._segment_windows(seg.crop_samples(0, cut), xc, xs, yc, ys, self.hop // 2,
                                           target[:, :cut])
            chol = self._window_chol(yw)
            train.append((xw, _whiten(yw, chol), seg.contacts))
            if n_val >= self.win:
                xv, yv = self._segment_windows(seg.crop_samples(cut, n_t), xc, xs, yc, ys, self.hop, target[:, cut:])
                val.append((xv, _whiten(yv, chol), seg.contacts))
        with deterministic():
            self.net = self._build(len(names)).to(self._dev())
            self.scalp_names = names
            # adapter index 0 is unused in pretraining: pass adapter=None
            info = self._fit(train, val or None, params=list(self.net.parameters()), adapter=None, epochs=epochs,
                             lr=lr, batch_windows=batch_windows, patience=patience, rng=rng,
                             max_steps_per_epoch=max_steps_per_epoch)
        self.trained_on["pretrain"] = {"subjects": [s.subject for s in segments],
                                       "seconds": float(sum(s.scalp.shape[1] for s in segments) / self.sfreq)}
        self.net.eval()
        return info

    def calibrate(self, segment: PairedSegment, *, seed: int = 0, epochs: int = 30, lr: float = 1e-3,
                  batch_windows: int = 16, es_frac: float = 0.125, conformal_frac: float = 0.125,
                  patience: int = 4, n_conformal_samples: int = 32, freeze_encoder: bool | None = None,
                  max_windows_per_epoch: int | None = 1200, **kwargs: Any) -> dict[str, Any]:
        """Adapt to one patient, then calibrate the bands on a held-out tail.

        The minutes are split chronologically: the first part trains, the next
        ``es_frac`` drives early stopping, the last ``conformal_frac`` is used
        only for the split-conformal factors and the reported coverage. With a
        pretrained model the scalp encoder is frozen and the rest fine-tuned
        (plus a new per-contact adapter); without one everything is trained
        from scratch.

        Parameters
        ----------
        segment : PairedSegment
            The patient's paired minutes at :attr:`sfreq`.
        seed : int
            Seed for initialization, data order and the conformal draws.
        epochs, lr, batch_windows, patience : optimization settings.
        es_frac, conformal_frac : float
            Fractions of the minutes held out for early stopping / conformal.
        n_conformal_samples : int
            Posterior draws used for the conformal scores.
        freeze_encoder : bool | None
            Default: True when pretrained.
        max_windows_per_epoch : int | None
            Random windows per epoch (None: all); bounds the time of an epoch
            on long calibrations.

        Returns
        -------
        info : dict
            Loss history, conformal factors per depth class, coverage on the
            conformal tail before and after correction.

        Raises
        ------
        ValueError
            Wrong sfreq, missing scalp channels, or too short a segment.
        """
        import torch

        self._check_segment(segment)
        n_t = segment.scalp.shape[1]
        n_es, n_cf = int(n_t * es_frac), int(n_t * conformal_frac)
        n_tr = n_t - n_es - n_cf
        if min(n_es, n_cf) < 2 * self.win or n_tr < 8 * self.win:
            raise ValueError(f"calibration data too short for flow: {n_t / self.sfreq:.1f} s")
        pretrained = self.net is not None
        if pretrained:
            missing = [n for n in self.scalp_names if n not in segment.scalp_names]
            if missing:
                raise ValueError(f"calibration lacks scalp channels the model was pretrained on: {missing}")
            idx = [segment.scalp_names.index(n) for n in self.scalp_names]
            segment = PairedSegment(segment.scalp[idx], segment.ieeg, segment.sfreq, list(self.scalp_names),
                                    segment.contacts, segment.subject)
        rng = set_seed(seed)
        if not pretrained:
            self.scalp_names = list(segment.scalp_names)
            self.net = self._build(len(self.scalp_names)).to(self._dev())
        freeze = pretrained if freeze_encoder is None else bool(freeze_encoder)
        self.contacts = segment.contacts
        tr = segment.crop_samples(0, n_tr)
        self.loc_, target = self._fit_location(segment, n_tr)
        _, self.x_center_, self.x_scale_ = robust_standardize(tr.scalp)
        _, self.y_center_, self.y_scale_ = robust_standardize(target[:, :n_tr])
        args = (self.x_center_, self.x_scale_, self.y_center_, self.y_scale_)
        xw, yw = self._segment_windows(tr, *args, stride=max(1, self.hop // 2), target=target[:, :n_tr])
        xv, yv = self._segment_windows(segment.crop_samples(n_tr, n_tr + n_es), *args, stride=self.hop,
                                       target=target[:, n_tr:n_tr + n_es])
        self.window_chol_ = self._window_chol(yw)
        yw, yv = _whiten(yw, self.window_chol_), _whiten(yv, self.window_chol_)
        dev = self._dev()
        adapter = torch.zeros(len(segment.contacts.ch_names), self.d_contact, device=dev, requires_grad=True)
        enc = {id(p) for p in self.net.encoder_parameters()}
        for p in self.net.encoder_parameters():
            p.requires_grad_(not freeze)
        params = [p for p in self.net.parameters() if not (freeze and id(p) in enc)] + [adapter]
        with deterministic():
            info = self._fit([(xw, yw, segment.contacts)], [(xv, yv, segment.contacts)], params=params,
                             adapter=adapter, epochs=epochs, lr=lr, batch_windows=batch_windows,
                             patience=patience, rng=rng, max_windows_per_epoch=max_windows_per_epoch)
        for p in self.net.parameters():
            p.requires_grad_(True)
        self.adapter_ = adapter.detach().cpu().numpy().astype(np.float32)
        self.net.eval()
        self.copula_chol_ = self._fit_copula(xw, yw)
        # ---- split-conformal factors on the untouched tail
        cf = segment.crop_samples(n_tr + n_es, n_t)
        self.conformal_ = np.ones(len(DEPTHS))
        lo, med, hi = self.bands(cf.scalp, n_samples=n_conformal_samples, seed=seed + 1)
        raw = _coverage(cf.ieeg, lo, hi)
        self.conformal_ = self._conformal_factors(cf.ieeg, lo, med, hi)
        lo2, _, hi2 = self.bands(cf.scalp, n_samples=n_conformal_samples, seed=seed + 1)
        adj = _coverage(cf.ieeg, lo2, hi2)
        if self.loc_ is not None:
            # the point estimate uses every calibration minute; the bands were calibrated around the
            # ridge of the training part, whose residuals are (slightly) larger: conservative
            self.loc_ = RidgeModel(self.sfreq)
            self.loc_.calibrate(segment)
        self.trained_on["calibration"] = {"subject": segment.subject, "seconds": n_t / self.sfreq,
                                          "pretrained": pretrained, "encoder_frozen": freeze}
        return {**info, "encoder_frozen": freeze, "n_train_s": n_tr / self.sfreq,
                "n_early_stop_s": n_es / self.sfreq, "n_conformal_s": n_cf / self.sfreq,
                "conformal_factor": {d: float(f) for d, f in zip(DEPTHS, self.conformal_)},
                "tail_coverage_raw": float(np.mean(raw)), "tail_coverage_calibrated": float(np.mean(adj))}

    def _window_chol(self, yw: np.ndarray) -> np.ndarray:
        """Per-contact Cholesky factors (K, W, W) of the window covariance (identity when ``whiten`` is off).

        The covariance of the standardized target windows ``yw`` (n_win, K, W)
        is shrunk by :data:`WHITEN_SHRINK` towards its mean variance.
        """
        K, W = yw.shape[1], yw.shape[2]
        if not self.whiten:
            return np.broadcast_to(np.eye(W, dtype=np.float32), (K, W, W)).copy()
        y = yw.transpose(1, 0, 2).astype(np.float64)  # (K, n, W)
        c = np.einsum("knv,knw->kvw", y, y) / max(y.shape[1], 1)
        var = np.trace(c, axis1=1, axis2=2) / W
        c = (1 - WHITEN_SHRINK) * c + WHITEN_SHRINK * var[:, None, None] * np.eye(W)[None]
        c += 1e-9 * np.eye(W)[None]
        return np.linalg.cholesky(c).astype(np.float32)

    def _fit_copula(self, xw: np.ndarray, yw: np.ndarray) -> np.ndarray:
        """Cholesky factor (K, K) of the shrunk correlation of base-space codes across contacts."""
        import torch

        dev = self._dev()
        zs = []
        with torch.no_grad():
            e = self._contact_emb(self.contacts, torch.as_tensor(self.adapter_, device=dev))
            for i in range(0, len(xw), 64):
                c = self.net.context(self.net.encoder(torch.as_tensor(xw[i:i + 64], device=dev)), e)
                zs.append(self.net.latents(c, torch.as_tensor(yw[i:i + 64], device=dev)).cpu().numpy())
        z = np.concatenate(zs).transpose(1, 0, 2).reshape(yw.shape[1], -1).astype(np.float64)
        z = np.clip(z, -8, 8)
        r = np.corrcoef(z) if z.shape[0] > 1 else np.ones((1, 1))
        r = np.nan_to_num(r)
        r = (1 - self.copula_shrink) * r + self.copula_shrink * np.eye(len(r))
        np.fill_diagonal(r, 1.0)
        return np.linalg.cholesky(r).astype(np.float32)

    def _conformal_factors(self, y: np.ndarray, lo: np.ndarray, med: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Split-conformal widening factor per :data:`DEPTHS` entry (see the module docstring)."""
        eps = 1e-30
        score = np.maximum((med - y) / np.maximum(med - lo, eps), (y - med) / np.maximum(hi - med, eps))
        dep = depth_index(self.contacts.depth_class)
        out = np.ones(len(DEPTHS))
        glob = _conformal_quantile(score.ravel())
        for i in range(len(DEPTHS)):
            s = score[dep == i].ravel()
            out[i] = _conformal_quantile(s) if s.size else glob
        return out

    # ------------------------------------------------------------ inference
    def _require(self) -> None:
        if self.net is None or self.adapter_ is None or self.contacts is None:
            raise RuntimeError("flow model is not calibrated")

    def _draw(self, scalp: np.ndarray, n_samples: int, seed: int, batch: int | None = None,
              antithetic: bool = False, mean_only: bool = False) -> np.ndarray:
        """Posterior draws (S, K, n_t), standardized, before the conformal factor.

        ``antithetic``: draw base noise in pairs ``(z, -z)`` (S rounded up to even),
        which cancels most Monte Carlo noise of a posterior mean (variance reduction).
        ``batch``: windows per flow call; default so that draws x windows x contacts
        stays under :data:`MAX_FLOW_ROWS` (measured: predict of 140 s took +970 MB at 12288 rows, +444 MB at 4096).
        ``mean_only``: return only the mean over draws, shape (1, K, n_t) (stitching
        is linear, so the mean is accumulated window by window; memory of one draw).
        """
        import torch

        self._require()
        scalp = self.check_scalp(scalp)
        n_t = scalp.shape[1]
        K = len(self.contacts.ch_names)
        zx = standardize(scalp, self.x_center_, self.x_scale_)
        starts = window_starts(n_t, self.win, self.hop)
        xw = self._scalp_windows(zx, starts)
        w_mean = taper(self.win, self.win - self.hop)
        w_res = np.sqrt(w_mean)
        total = max(n_t, int(starts.max()) + self.win)
        n_draws = 2 * ((n_samples + 1) // 2) if antithetic else n_samples
        if batch is None:
            batch = max(1, min(64, MAX_FLOW_ROWS // max(1, n_draws * K)))
        res = np.zeros((1 if mean_only else n_draws, K, total), np.float32)
        has_mu = self.net.mu is not None  # location="ridge": no learned location to stitch
        loc = np.zeros((K, total), np.float32) if has_mu else None
        wsum = np.zeros(total)
        w2sum = np.zeros(total)
        dev = self._dev()
        gen = torch.Generator(device="cpu").manual_seed(int(seed))
        chol = torch.as_tensor(self.copula_chol_)
        tw_res = torch.as_tensor(w_res, dtype=torch.float32, device=dev)
        tw_mean = torch.as_tensor(w_mean, dtype=torch.float32, device=dev)
        chol_w = torch.as_tensor(self.window_chol_ if self.window_chol_ is not None
                                 else np.eye(self.win, dtype=np.float32)[None].repeat(K, 0), device=dev)
        with torch.no_grad():
            e = self._contact_emb(self.contacts, torch.as_tensor(self.adapter_, device=dev))
            for i in range(0, len(starts), batch):
                sl = starts[i:i + batch]
                c = self.net.context(self.net.encoder(torch.as_tensor(xw[i:i + batch], device=dev)), e)
                if antithetic:
                    z = torch.randn(((n_samples + 1) // 2, len(sl), K, self.win), generator=gen)
                    z = torch.cat([z, -z])
                else:
                    z = torch.randn((n_samples, len(sl), K, self.win), generator=gen)
                z = torch.einsum("kj,sbjw->sbkw", chol, z).to(dev)
                r, mu = self.net.sample_from(c, z)
                r = torch.einsum("kvw,sbkw->sbkv", chol_w, r) * tw_res
                r = (r.mean(dim=0, keepdim=True) if mean_only else r).cpu().numpy()
                if has_mu:
                    mu = (torch.einsum("kvw,bkw->bkv", chol_w, mu) * tw_mean).cpu().numpy()
                for j, s in enumerate(sl):
                    res[:, :, s:s + self.win] += r[:, j]
                    if has_mu:
                        loc[:, s:s + self.win] += mu[j]
                    wsum[s:s + self.win] += w_mean
                    w2sum[s:s + self.win] += w_res**2
        res = res[:, :, :n_t] / np.sqrt(w2sum[:n_t]).astype(np.float32)
        if has_mu:
            res += (loc[:, :n_t] / wsum[:n_t].astype(np.float32))[None]
        return res

    def _to_volts(self, z: np.ndarray, base: np.ndarray | float) -> np.ndarray:
        return z * self.y_scale_[:, None] + self.y_center_[:, None] + base

    def _factors(self) -> np.ndarray:
        return self.conformal_[depth_index(self.contacts.depth_class)][:, None]

    def posterior(self, scalp: np.ndarray, n_samples: int = 32, q: tuple[float, float] = (0.05, 0.95),
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Posterior draws and quantile bands from one set of draws.

        The draws are the flow's own samples: their spectrum and band power
        are what the flow learned (measured to match the truth within 0.1
        decade on held-out data, docs/flow.md). The bands are their quantiles
        with half-widths around the median multiplied by the split-conformal
        factor of each contact's depth class (calibrated for 90 % bands), so
        the bands are wider than the spread of the draws when the raw
        posterior was over-confident on the held-out calibration tail.

        Parameters
        ----------
        scalp : ndarray, shape (n_scalp, n_times)
            Scalp EEG in volts at :attr:`sfreq`, rows in :attr:`scalp_names` order.
        n_samples : int
            Number of draws.
        q : (float, float)
            Lower and upper quantile levels of the bands.
        seed : int
            Seed of the base noise (same seed, same draws).

        Returns
        -------
        samples : ndarray, shape (n_samples, n_contacts, n_times)
            Volts.
        lo, median, hi : ndarray, shape (n_contacts, n_times)
            Volts; ``lo <= median <= hi``.

        Raises
        ------
        RuntimeError
            If the model is not calibrated.
        ValueError
            On a wrong scalp shape or ``q``.
        """
        if not 0 <= q[0] < 0.5 < q[1] <= 1:
            raise ValueError(f"q must satisfy 0 <= q[0] < 0.5 < q[1] <= 1, got {q}")
        draws = self._draw(scalp, n_samples, seed)
        f = self._factors()
        lo, med, hi = np.quantile(draws, [q[0], 0.5, q[1]], axis=0)
        lo, hi = med - f * (med - lo), med + f * (hi - med)
        base = self._base(scalp)
        return (self._to_volts(draws, base), self._to_volts(lo, base), self._to_volts(med, base),
                self._to_volts(hi, base))

    def sample(self, scalp: np.ndarray, n_samples: int = 32, seed: int = 0) -> np.ndarray:
        """Draw surrogate iEEG from the posterior: the ``samples`` of :meth:`posterior`.

        Returns
        -------
        samples : ndarray, shape (n_samples, n_contacts, n_times)
            Volts.
        """
        draws = self._draw(scalp, n_samples, seed)  # the draws of posterior(), without its quantiles
        return self._to_volts(draws, self._base(scalp))

    def bands(self, scalp: np.ndarray, n_samples: int = 32, q: tuple[float, float] = (0.05, 0.95),
              seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Posterior quantile bands: ``lo, median, hi`` of :meth:`posterior`, each (n_contacts, n_times), volts."""
        return self.posterior(scalp, n_samples, q, seed)[1:]

    def predict(self, scalp: np.ndarray, n_samples: int = 16, seed: int = 0) -> np.ndarray:
        """Posterior mean in volts, shape (n_contacts, n_times).

        Monte Carlo over ``n_samples`` antithetic draws (pairs ``z, -z``), plus
        the ridge location when ``location="ridge"``.
        """
        draws = self._draw(scalp, n_samples, seed, antithetic=True, mean_only=True)
        return self._to_volts(draws[0], self._base(scalp))

    # ----------------------------------------------------------------- state
    def get_params(self) -> dict[str, Any]:
        return {"sfreq": self.sfreq, "win": self.win, "hop": self.hop, "pad": self.pad,
                "patch_sizes": list(self.patch_sizes), "d_enc": self.d_enc, "d_contact": self.d_contact,
                "d_ctx": self.d_ctx, "transforms": self.transforms, "hidden": self.hidden,
                "copula_shrink": self.copula_shrink, "location": self.location, "whiten": self.whiten,
                "device": self.device}

    def state_dict(self) -> dict[str, np.ndarray]:
        if self.net is None:
            raise RuntimeError("flow model is neither pretrained nor calibrated")
        out = {f"net.{k}": v.detach().cpu().numpy().copy() for k, v in self.net.state_dict().items()}
        for name in ("adapter_", "x_center_", "x_scale_", "y_center_", "y_scale_", "copula_chol_", "window_chol_"):
            v = getattr(self, name)
            if v is not None:
                out[name.rstrip("_")] = np.asarray(v).copy()
        out["conformal"] = np.asarray(self.conformal_, np.float64).copy()
        if self.loc_ is not None:
            out.update({f"loc.{k}": np.asarray(v).copy() for k, v in self.loc_.state_dict().items()})
        return out

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        import torch

        if not self.scalp_names:
            raise ValueError("scalp_names must be set before loading a flow model's weights")
        net = self._build(len(self.scalp_names))
        sd = {k[4:]: torch.as_tensor(np.array(v)) for k, v in state.items() if k.startswith("net.")}
        net.load_state_dict(sd, strict=True)
        self.net = net.to(self._dev()).eval()
        for name in ("adapter_", "x_center_", "x_scale_", "y_center_", "y_scale_", "copula_chol_", "window_chol_"):
            key = name.rstrip("_")
            setattr(self, name, np.array(state[key]) if key in state else None)
        self.conformal_ = np.array(state["conformal"]) if "conformal" in state else np.ones(len(DEPTHS))
        loc = {k[4:]: np.array(v) for k, v in state.items() if k.startswith("loc.")}
        self.loc_ = None
        if loc:
            self.loc_ = RidgeModel(self.sfreq)
            self.loc_.scalp_names, self.loc_.contacts = list(self.scalp_names), self.contacts
            self.loc_.load_state_dict(loc)
        elif self.location == "ridge" and self.adapter_ is not None:
            raise ValueError("a calibrated flow model with location='ridge' needs its 'loc.*' ridge weights")
        if self.adapter_ is not None and self.contacts is not None and len(self.adapter_) != len(self.contacts.ch_names):
            raise ValueError(f"adapter has {len(self.adapter_)} rows, model has {len(self.contacts.ch_names)} contacts")


def _conformal_quantile(scores: np.ndarray, level: float = CONFORMAL_LEVEL) -> float:
    """Finite-sample split-conformal quantile: the ceil((n + 1) level)-th smallest score."""
    s = np.sort(np.asarray(scores, float)[np.isfinite(scores)])
    if s.size == 0:
        return 1.0
    k = min(math.ceil((s.size + 1) * level), s.size) - 1
    return float(max(s[k], 1e-3))


def _whiten(yw: np.ndarray, chol: np.ndarray) -> np.ndarray:
    """Windows (n_win, K, W) -> ``L_k^{-1} y`` per contact, with ``chol`` (K, W, W) lower-triangular."""
    from scipy.linalg import solve_triangular

    out = np.empty_like(yw)
    for k in range(yw.shape[1]):
        out[:, k] = solve_triangular(chol[k], yw[:, k].T, lower=True).T
    return out


def _coverage(y: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return np.mean((y >= lo) & (y <= hi), axis=1)
