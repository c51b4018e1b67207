"""The fitting stages of :class:`~ieegrecon.models.flow.FlowModel`, each a named function.

Pretraining: :func:`pretrain_data` (common scalp channels, ridge residual
targets, whitened windows per segment) then :func:`fit_ml`. Calibration:
:func:`calibration_windows` (chronological split, location, standardization,
window whitening), :func:`adapt` (maximum likelihood with a new per-contact
adapter, encoder frozen when pretrained), :func:`fit_copula` and
:func:`conformal_stage` (split-conformal factors on the untouched tail).
The method's docstrings (:mod:`ieegrecon.models.flow`) describe the model.

Every function takes the model as its first argument and changes it in
place as the method did; the order of every random draw is the method's.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..atlas.vocab import DEPTHS, depth_index
from ._flow_draw import scalp_windows
from .base import ContactInfo, PairedSegment
from .ridge import RidgeModel
from .training import EarlyStopping, deterministic, robust_standardize

#: Nominal coverage the conformal factors are calibrated for.
CONFORMAL_LEVEL = 0.90
#: Shrinkage of each contact's window covariance towards its mean variance (``whiten``).
WHITEN_SHRINK = 0.01

Windows = list[tuple[np.ndarray, np.ndarray, ContactInfo]]  # (scalp windows, iEEG windows, contacts)


# ------------------------------------------------------------------ maximum likelihood
def fit_ml(model: Any, data: Windows, val: Windows | None, *, params: list, adapter: Any, epochs: int, lr: float,
           batch_windows: int, patience: int, rng: np.random.Generator, max_steps_per_epoch: int | None = None,
           max_windows_per_epoch: int | None = None) -> dict[str, Any]:
    """Maximum-likelihood training on (scalp windows, iEEG windows, contacts) triples.

    ``max_windows_per_epoch`` draws a fresh random subset of at most that
    many windows of every triple per epoch (bounds the cost of an epoch).
    The adapter is added to the contact embedding of ``data[0]`` only.

    Returns
    -------
    dict
        ``history`` (train/val NLL per epoch) and ``best_epoch``; the best
        validation state is loaded into ``params``.
    """
    import torch

    opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
    named = {f"p{i}": p for i, p in enumerate(params)}
    stopper = EarlyStopping(patience=patience, min_delta=1e-3)
    history = []
    for epoch in range(epochs):
        batches = _epoch_batches(data, rng, batch_windows, max_windows_per_epoch, max_steps_per_epoch)
        train_loss = _train_steps(model, data, batches, opt, params, adapter)
        if val is None:
            history.append({"epoch": epoch, "train_nll": train_loss})
            continue
        vl = eval_nll(model, val, adapter)
        history.append({"epoch": epoch, "train_nll": train_loss, "val_nll": vl})
        stopper.step(vl, epoch, named)
        if stopper.stop:
            break
    if val is not None and stopper.best_state is not None:
        with torch.no_grad():
            for k, p in named.items():
                p.copy_(stopper.best_state[k])
    return {"history": history, "best_epoch": stopper.best_epoch if val is not None else epochs - 1}


def _epoch_batches(data: Windows, rng: np.random.Generator, batch_windows: int, max_windows: int | None,
                   max_steps: int | None) -> list[tuple[int, np.ndarray]]:
    """(triple index, window indices) of every step of one epoch, in random order."""
    batches = []
    for d, (xw, yw, _) in enumerate(data):
        order = rng.permutation(len(xw))
        if max_windows:
            order = order[:max_windows]
        batches += [(d, order[i:i + batch_windows]) for i in range(0, len(order), batch_windows)]
    batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches[:max_steps] if max_steps else batches


def _train_steps(model: Any, data: Windows, batches: list, opt: Any, params: list, adapter: Any) -> float:
    """One epoch of AdamW steps (gradient norm clipped at 5); returns the mean training NLL."""
    import torch

    dev = model._dev()
    model.net.train()
    tot = 0.0
    for d, b in batches:
        xw, yw, contacts = data[d]
        h = model.net.encoder(torch.as_tensor(xw[b], device=dev))
        c = model.net.context(h, model._contact_emb(contacts, adapter if d == 0 else None))
        loss = model.net.nll(c, torch.as_tensor(yw[b], device=dev))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        tot += float(loss.detach())
    return tot / max(len(batches), 1)


def eval_nll(model: Any, data: Windows, adapter: Any) -> float:
    """Mean negative log-likelihood per window over ``data`` (eval mode, no grad)."""
    import torch

    dev = model._dev()
    model.net.eval()
    tot, n = 0.0, 0
    with torch.no_grad():
        for d, (xw, yw, contacts) in enumerate(data):
            e = model._contact_emb(contacts, adapter if d == 0 else None)
            for i in range(0, len(xw), 64):
                c = model.net.context(model.net.encoder(torch.as_tensor(xw[i:i + 64], device=dev)), e)
                tot += float(model.net.nll(c, torch.as_tensor(yw[i:i + 64], device=dev))) * len(xw[i:i + 64])
                n += len(xw[i:i + 64])
    return tot / max(n, 1)


# ------------------------------------------------------------------ data preparation
def fit_location(model: Any, seg: PairedSegment, n_train: int) -> tuple[RidgeModel | None, np.ndarray]:
    """Lagged ridge fitted on the first ``n_train`` samples of ``seg``, and the flow's target.

    The target is ``seg.ieeg`` minus the ridge prediction: cross-fitted
    (out-of-fold) on the training samples, so that their residuals are as
    large as on new data, and out-of-sample after them. With
    ``location="none"`` returns ``(None, seg.ieeg)``.
    """
    if model.location == "none":
        return None, seg.ieeg
    loc = RidgeModel(model.sfreq)
    info = loc.calibrate(seg.crop_samples(0, n_train), out_of_fold=True)
    pred = np.concatenate([info["out_of_fold"], loc.predict(seg.scalp)[:, n_train:]], axis=1)
    return loc, seg.ieeg - pred


def pretrain_data(model: Any, segments: list[PairedSegment], names: list[str],
                  val_frac: float) -> tuple[Windows, Windows]:
    """Training and validation windows of every segment on the scalp channels ``names``.

    Each segment is standardized on its own (robust median / IQR per channel,
    on its training part); its last ``val_frac`` is for early stopping.
    """
    train, val = [], []
    for seg in segments:
        model._check_segment(seg)
        idx = [seg.scalp_names.index(n) for n in names]
        seg = PairedSegment(seg.scalp[idx], seg.ieeg, seg.sfreq, names, seg.contacts, seg.subject)
        n_t = seg.scalp.shape[1]
        n_val = int(n_t * val_frac)
        cut = n_t - n_val
        _, target = fit_location(model, seg, cut)
        _, xc, xs = robust_standardize(seg.scalp[:, :cut])
        _, yc, ys = robust_standardize(target[:, :cut])
        xw, yw = segment_windows(model, seg.crop_samples(0, cut), xc, xs, yc, ys, model.hop // 2, target[:, :cut])
        chol = window_chol(model, yw)
        train.append((xw, whiten(yw, chol), seg.contacts))
        if n_val >= model.win:
            xv, yv = segment_windows(model, seg.crop_samples(cut, n_t), xc, xs, yc, ys, model.hop, target[:, cut:])
            val.append((xv, whiten(yv, chol), seg.contacts))
    return train, val


def calibration_windows(model: Any, segment: PairedSegment, n_tr: int,
                        n_es: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fit the location and standardization on the first ``n_tr`` samples; whitened windows.

    Sets ``loc_``, ``x_center_``, ``x_scale_``, ``y_center_``, ``y_scale_``
    and ``window_chol_``.

    Returns
    -------
    xw, yw : ndarray
        Training scalp context windows and whitened target windows (hop / 2).
    xv, yv : ndarray
        The same on the next ``n_es`` samples (hop), for early stopping.
    """
    tr = segment.crop_samples(0, n_tr)
    model.loc_, target = fit_location(model, segment, n_tr)
    _, model.x_center_, model.x_scale_ = robust_standardize(tr.scalp)
    _, model.y_center_, model.y_scale_ = robust_standardize(target[:, :n_tr])
    args = (model.x_center_, model.x_scale_, model.y_center_, model.y_scale_)
    xw, yw = segment_windows(model, tr, *args, stride=max(1, model.hop // 2), target=target[:, :n_tr])
    xv, yv = segment_windows(model, segment.crop_samples(n_tr, n_tr + n_es), *args, stride=model.hop,
                                    target=target[:, n_tr:n_tr + n_es])
    model.window_chol_ = window_chol(model, yw)
    return xw, whiten(yw, model.window_chol_), xv, whiten(yv, model.window_chol_)


def segment_windows(model: Any, seg: PairedSegment, x_center: np.ndarray, x_scale: np.ndarray,
                     y_center: np.ndarray, y_scale: np.ndarray, stride: int,
                     target: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Scalp context windows and iEEG (or ``target``, same shape as ``seg.ieeg``) windows, standardized."""
    zx = ((seg.scalp - x_center[:, None]) / x_scale[:, None]).astype(np.float32)
    y = seg.ieeg if target is None else target
    zy = ((y - y_center[:, None]) / y_scale[:, None]).astype(np.float32)
    n_t = zx.shape[1]
    starts = np.arange(0, max(n_t - model.win, 0) + 1, stride)
    return scalp_windows(model, zx, starts), ieeg_windows(model, zy, starts)


def ieeg_windows(model: Any, zy: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """iEEG windows (n_win, K, win) starting at ``starts`` (zero-padded at the end)."""
    n_ch, n_t = zy.shape
    padded = np.zeros((n_ch, n_t + model.win), np.float32)
    padded[:, :n_t] = zy
    idx = starts[:, None] + np.arange(model.win)[None]
    return np.ascontiguousarray(padded[:, idx].transpose(1, 0, 2))


def window_chol(model: Any, yw: np.ndarray) -> np.ndarray:
    """Per-contact Cholesky factors (K, W, W) of the window covariance (identity when ``whiten`` is off).

    The covariance of the standardized target windows ``yw`` (n_win, K, W)
    is shrunk by :data:`WHITEN_SHRINK` towards its mean variance.
    """
    K, W = yw.shape[1], yw.shape[2]
    if not model.whiten:
        return np.broadcast_to(np.eye(W, dtype=np.float32), (K, W, W)).copy()
    y = yw.transpose(1, 0, 2).astype(np.float64)  # (K, n, W)
    c = np.einsum("knv,knw->kvw", y, y) / max(y.shape[1], 1)
    var = np.trace(c, axis1=1, axis2=2) / W
    c = (1 - WHITEN_SHRINK) * c + WHITEN_SHRINK * var[:, None, None] * np.eye(W)[None]
    c += 1e-9 * np.eye(W)[None]
    return np.linalg.cholesky(c).astype(np.float32)


def whiten(yw: np.ndarray, chol: np.ndarray) -> np.ndarray:
    """Windows (n_win, K, W) -> ``L_k^{-1} y`` per contact, with ``chol`` (K, W, W) lower-triangular."""
    from scipy.linalg import solve_triangular

    out = np.empty_like(yw)
    for k in range(yw.shape[1]):
        out[:, k] = solve_triangular(chol[k], yw[:, k].T, lower=True).T
    return out


# ------------------------------------------------------------------ calibration stages
def adapt(model: Any, contacts: ContactInfo, windows: tuple, *, freeze: bool, rng: np.random.Generator,
          epochs: int, lr: float, batch_windows: int, patience: int,
          max_windows_per_epoch: int | None) -> dict[str, Any]:
    """Train a new per-contact adapter and the network (encoder frozen if ``freeze``); sets ``adapter_``."""
    import torch

    xw, yw, xv, yv = windows
    adapter = torch.zeros(len(contacts.ch_names), model.d_contact, device=model._dev(), requires_grad=True)
    enc = {id(p) for p in model.net.encoder_parameters()}
    for p in model.net.encoder_parameters():
        p.requires_grad_(not freeze)
    params = [p for p in model.net.parameters() if not (freeze and id(p) in enc)] + [adapter]
    with deterministic():
        info = fit_ml(model, [(xw, yw, contacts)], [(xv, yv, contacts)], params=params, adapter=adapter,
                      epochs=epochs, lr=lr, batch_windows=batch_windows, patience=patience, rng=rng,
                      max_windows_per_epoch=max_windows_per_epoch)
    for p in model.net.parameters():
        p.requires_grad_(True)
    model.adapter_ = adapter.detach().cpu().numpy().astype(np.float32)
    model.net.eval()
    return info


def fit_copula(model: Any, xw: np.ndarray, yw: np.ndarray) -> np.ndarray:
    """Cholesky factor (K, K) of the shrunk correlation of base-space codes across contacts."""
    import torch

    dev = model._dev()
    zs = []
    with torch.no_grad():
        e = model._contact_emb(model.contacts, torch.as_tensor(model.adapter_, device=dev))
        for i in range(0, len(xw), 64):
            c = model.net.context(model.net.encoder(torch.as_tensor(xw[i:i + 64], device=dev)), e)
            zs.append(model.net.latents(c, torch.as_tensor(yw[i:i + 64], device=dev)).cpu().numpy())
    z = np.concatenate(zs).transpose(1, 0, 2).reshape(yw.shape[1], -1).astype(np.float64)
    z = np.clip(z, -8, 8)
    r = np.corrcoef(z) if z.shape[0] > 1 else np.ones((1, 1))
    r = np.nan_to_num(r)
    r = (1 - model.copula_shrink) * r + model.copula_shrink * np.eye(len(r))
    np.fill_diagonal(r, 1.0)
    return np.linalg.cholesky(r).astype(np.float32)


def conformal_stage(model: Any, cf: PairedSegment, n_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Set ``conformal_`` from the bands on the held-out tail ``cf``; per-contact coverage before and after."""
    model.conformal_ = np.ones(len(DEPTHS))
    lo, med, hi = model.posterior(cf.scalp, n_samples=n_samples, seed=seed).quantiles((0.05, 0.5, 0.95))
    raw = coverage(cf.ieeg, lo, hi)
    model.conformal_ = conformal_factors(model, cf.ieeg, lo, med, hi)
    lo2, _, hi2 = model.posterior(cf.scalp, n_samples=n_samples, seed=seed).quantiles((0.05, 0.5, 0.95))
    return raw, coverage(cf.ieeg, lo2, hi2)


def conformal_factors(model: Any, y: np.ndarray, lo: np.ndarray, med: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Split-conformal widening factor per :data:`DEPTHS` entry (see :mod:`ieegrecon.models.flow`)."""
    eps = 1e-30
    score = np.maximum((med - y) / np.maximum(med - lo, eps), (y - med) / np.maximum(hi - med, eps))
    dep = depth_index(model.contacts.depth_class)
    out = np.ones(len(DEPTHS))
    glob = conformal_quantile(score.ravel())
    for i in range(len(DEPTHS)):
        s = score[dep == i].ravel()
        out[i] = conformal_quantile(s) if s.size else glob
    return out


def conformal_quantile(scores: np.ndarray, level: float = CONFORMAL_LEVEL) -> float:
    """Finite-sample split-conformal quantile: the ceil((n + 1) level)-th smallest score."""
    s = np.sort(np.asarray(scores, float)[np.isfinite(scores)])
    if s.size == 0:
        return 1.0
    k = min(math.ceil((s.size + 1) * level), s.size) - 1
    return float(max(s[k], 1e-3))


def coverage(y: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Fraction of samples of each contact inside ``[lo, hi]``, shape (n_contacts,)."""
    return np.mean((y >= lo) & (y <= hi), axis=1)
