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
waveform as well as ridge does, no better), and the flow spends its capacity on what a
linear filter cannot give: the missing power, the residual spectrum, the
co-fluctuation of contacts and the uncertainty. The point estimate
(:meth:`FlowModel.predict`) is the location itself: the flow's residual mean
was measured to add nothing to Pearson r, so no draw is made for it.

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

from typing import Any

import numpy as np

from ..atlas.vocab import DEPTHS, REGIONS, depth_index, region_index
from . import _flow_fit as stages
from ._flow_draw import draw
from ._flow_point import LocationPoint
from ._flow_state import LazyNetMixin, flow_state_dict, load_flow_state
from .base import ContactInfo, PairedSegment, ReconModel
from .posterior import Posterior
from .ridge import RidgeModel
from .training import choose_device, deterministic, set_seed

#: What the flow is centred on (see :class:`FlowModel`).
LOCATIONS = ("ridge", "none")


class FlowModel(LazyNetMixin, ReconModel):
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
    supports_posterior = True
    max_chunk_s = 120.0  # posterior draws hold draws x contacts x samples: bound the chunk
    supports_pretrain = True
    supports_zero_shot = False
    fragments_heap = True  # many sub-MiB tensors per chunk: +60 MiB RSS over 1 h unless bounded (docs/results.md)

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
        self._net, self._net_state = None, None  # the torch network (:attr:`net`); loaded weights until first use
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

    def point_estimator(self) -> RidgeModel | FlowModel:
        """With ``location="ridge"`` :class:`~ieegrecon.models._flow_point.LocationPoint` (equal to
        :meth:`predict` bit for bit, streamed like ridge); otherwise the flow. RuntimeError if uncalibrated."""
        self._require()
        return self if self.loc_ is None else LocationPoint(self.loc_, self.y_center_)

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

    # ------------------------------------------------------------ training
    def _base(self, scalp: np.ndarray) -> np.ndarray | float:
        """The location signal (volts, (K, n_times)) the flow's residual is added to; 0 without one."""
        return 0.0 if self.loc_ is None else self.loc_.predict(scalp)

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
        train, val = stages.pretrain_data(self, segments, names, val_frac)
        with deterministic():
            self.net = self._build(len(names)).to(self._dev())
            self.scalp_names = names
            # adapter index 0 is unused in pretraining: pass adapter=None
            info = stages.fit_ml(self, train, val or None, params=list(self.net.parameters()), adapter=None,
                                 epochs=epochs, lr=lr, batch_windows=batch_windows, patience=patience, rng=rng,
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
        self._check_segment(segment)
        n_t = segment.scalp.shape[1]
        n_es, n_cf = int(n_t * es_frac), int(n_t * conformal_frac)
        n_tr = n_t - n_es - n_cf
        if min(n_es, n_cf) < 2 * self.win or n_tr < 8 * self.win:
            raise ValueError(f"calibration data too short for flow: {n_t / self.sfreq:.1f} s")
        pretrained = self.has_net
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
        windows = stages.calibration_windows(self, segment, n_tr, n_es)
        info = stages.adapt(self, segment.contacts, windows, freeze=freeze, rng=rng, epochs=epochs, lr=lr,
                            batch_windows=batch_windows, patience=patience,
                            max_windows_per_epoch=max_windows_per_epoch)
        self.copula_chol_ = stages.fit_copula(self, windows[0], windows[1])
        raw, adj = stages.conformal_stage(self, segment.crop_samples(n_tr + n_es, n_t), n_conformal_samples,
                                          seed + 1)
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

    # ------------------------------------------------------------ inference
    def _require(self) -> None:
        if not self.has_net or self.adapter_ is None or self.contacts is None:
            raise RuntimeError("flow model is not calibrated")

    def _to_volts(self, z: np.ndarray, base: np.ndarray | float) -> np.ndarray:
        out = z * self.y_scale_[:, None]  # float64 scale: a new float64 array, filled in place below
        out += self.y_center_[:, None]
        out += base
        return out

    def _factors(self) -> np.ndarray:
        return self.conformal_[depth_index(self.contacts.depth_class)][:, None]

    def posterior(self, scalp: np.ndarray, *, n_samples: int = 32, seed: int = 0) -> Posterior:
        """The posterior of the contacts given ``scalp``: one object with ``.mean``, ``.sample(k)``, ``.quantiles(q)``.

        The draws are the flow's own samples: their spectrum and band power
        are what the flow learned (measured to match the truth within 0.1
        decade on held-out data, docs/flow.md). The quantiles are theirs with
        distances from the median multiplied by the split-conformal factor of
        each contact's depth class (calibrated for 90 % bands), so bands are
        wider than the spread of the draws when the raw posterior was
        over-confident on the held-out calibration tail. ``.mean`` is the
        Monte Carlo mean over ``n_samples`` antithetic draws (pairs ``z, -z``)
        plus the ridge location when ``location="ridge"`` (``predict(scalp, n_samples)``;
        the default :meth:`predict` is the location alone).

        Parameters
        ----------
        scalp : ndarray, shape (n_scalp, n_times)
            Scalp EEG in volts at :attr:`sfreq`, rows in :attr:`scalp_names` order.
        n_samples : int
            Number of draws (quantiles, ``.sample()``) and of antithetic draws (``.mean``).
        seed : int
            Seed of the base noise (same seed, same draws).

        Returns
        -------
        Posterior
            In volts; see :class:`~ieegrecon.models.posterior.Posterior`.

        Raises
        ------
        RuntimeError
            If the model is not calibrated.
        ValueError
            On a wrong scalp shape.
        """
        self._require()
        scalp = self.check_scalp(scalp)
        base: list = []

        def to_volts(z: np.ndarray) -> np.ndarray:
            if not base:
                base.append(self._base(scalp))
            return self._to_volts(z, base[0])

        return Posterior(draw=lambda k: draw(self, scalp, k, seed),
                         mean=lambda: draw(self, scalp, n_samples, seed, antithetic=True, mean_only=True)[0],
                         to_volts=to_volts, widen=self._factors(), n_samples=n_samples)

    def sample(self, scalp: np.ndarray, n_samples: int = 32, seed: int = 0) -> np.ndarray:
        """Surrogate iEEG drawn from the posterior: ``posterior(scalp, n_samples=, seed=).sample()``.

        Returns
        -------
        samples : ndarray, shape (n_samples, n_contacts, n_times)
            Volts.
        """
        return self.posterior(scalp, n_samples=n_samples, seed=seed).sample()

    def bands(self, scalp: np.ndarray, n_samples: int = 32, q: tuple[float, float] = (0.05, 0.95),
              seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Calibrated bands ``lo, median, hi`` (each (n_contacts, n_times), V): ``posterior(...).quantiles``.

        Raises
        ------
        ValueError
            Unless ``0 <= q[0] < 0.5 < q[1] <= 1``.
        """
        if not 0 <= q[0] < 0.5 < q[1] <= 1:
            raise ValueError(f"Invalid value for the 'q' parameter: must satisfy 0 <= q[0] < 0.5 < q[1] <= 1, "
                             f"but got {q} instead.")
        lo, med, hi = self.posterior(scalp, n_samples=n_samples, seed=seed).quantiles((q[0], 0.5, q[1]))
        return lo, med, hi

    def predict(self, scalp: np.ndarray, n_samples: int | None = None, seed: int = 0) -> np.ndarray:
        """The flow's point estimate in volts, shape (n_contacts, n_times).

        ``n_samples=None`` (default): with ``location="ridge"`` the ridge location alone, no flow pass
        (the residual's Monte Carlo mean, 6-20 % of the output's RMS, left Pearson r unchanged: within
        0.0015 on 6 development seeds, 0.000-0.003 below on sealed runs 1-2; docs/flow.md), at ridge's
        speed (:meth:`point_estimator`); with ``location="none"`` the mean of 16 antithetic draws.
        ``n_samples > 0``: the Monte Carlo mean of ``n_samples`` antithetic draws (pairs ``z, -z``;
        ``posterior(scalp, ...).mean``). ``n_samples=0``: the central point ``z = 0`` (one flow pass).
        """
        self._require()
        if n_samples is None and self.loc_ is not None:
            return self.point_estimator().predict(scalp)
        if n_samples == 0:
            return self._to_volts(draw(self, scalp, 0, seed, center=True)[0], self._base(self.check_scalp(scalp)))
        return self.posterior(scalp, n_samples=16 if n_samples is None else n_samples, seed=seed).mean

    # ----------------------------------------------------------------- state
    def get_params(self) -> dict[str, Any]:
        return {"sfreq": self.sfreq, "win": self.win, "hop": self.hop, "pad": self.pad,
                "patch_sizes": list(self.patch_sizes), "d_enc": self.d_enc, "d_contact": self.d_contact,
                "d_ctx": self.d_ctx, "transforms": self.transforms, "hidden": self.hidden,
                "copula_shrink": self.copula_shrink, "location": self.location, "whiten": self.whiten,
                "device": self.device}

    def state_dict(self) -> dict[str, np.ndarray]:
        """Network weights (``net.*``) and calibration arrays; see :mod:`~ieegrecon.models._flow_state`."""
        return flow_state_dict(self)

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore :meth:`state_dict` output (:func:`~ieegrecon.models._flow_state.load_flow_state`).

        Raises
        ------
        ValueError
            Without ``scalp_names``, with a calibrated ``location="ridge"`` model lacking its ridge
            weights, or with an adapter that does not match the contacts.
        """
        load_flow_state(self, state)
