"""The training stages of :class:`~ieegrecon.models.cast.CastModel`, each a named function.

Pretraining (:meth:`CastModel.pretrain`) runs
:func:`pretrain_windows` (standardize every segment, list the training and
validation windows), :func:`train_network` (AdamW, cosine schedule, early
stopping; one epoch is :func:`_pretrain_epoch`) and :func:`learn_lag_prior`
(the cross-subject prior of the residual ridge). Batches, losses and the
micro-batches of an optimizer step are in :mod:`~ieegrecon.models._cast_steps`.

Calibration (:meth:`CastModel.calibrate`) runs :func:`calibration_split`
(training windows and held-out tail), :func:`adapt_decoder` (optional decoder
fine-tuning with the pretrained decoder as a candidate; one epoch is
:func:`_adapt_epoch`) and :func:`fit_output` (residual ridge, or the
least-squares gain and offset, in volts).

Every function takes the model as its first argument and changes it in
place as the method did; the order of every random draw is the method's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..headmodel import scalp_positions
from ..metrics import pearson_r
from . import training as tr
from ._cast_steps import (check_groups_per_step, eval_loss, group_windows, micro_batch_loss, micro_batch_size,
                          micro_batches_per_rank, step_groups, step_loss, sync_unless)
from ._cast_infer import decode_all, encode_all, predict_std
from .base import ContactInfo, PairedSegment
from .lagged import fit_residual_ridge, lag_prior_cov, ls_gain
from .ridge import RidgeModel

#: Residual-ridge settings of calibration: lags ±100 ms every 5 ms (as ``ridge``), grid, folds.
RES_MAX_LAG_S, RES_LAG_STEP_S = 0.1, 0.005
RES_ALPHAS = np.logspace(-4, 2, 13)
RES_FOLDS = 5

Index = list[tuple[int, int]]  # (segment, window start) pairs


def tolist(a: np.ndarray) -> list[float | None]:
    """Per-contact figures as JSON numbers (None for NaN), rounded to 6 decimals."""
    return [None if not np.isfinite(v) else round(float(v), 6) for v in a]


# ------------------------------------------------------------------ pretraining
def pretrain_windows(model: Any, segments: list[PairedSegment], val_subjects: set[str], val_fraction: float,
                     stride_s: float) -> tuple[list, Index, Index, list[np.ndarray]]:
    """Standardize every segment and list its training and validation windows.

    In a distributed run (:func:`~ieegrecon.models.training.dist_context`)
    every rank standardizes every segment (``scales`` are the whole
    cohort's) but keeps only the windows of its own subjects
    (:func:`~ieegrecon.models.training.shard_subjects`).

    Returns
    -------
    data : list of (zx, zy, ch_pos, contacts)
        Robustly standardized scalp and iEEG, scalp positions (m) and contacts.
    train_idx, val_idx : list of (data index, window start)
        Training windows (hop ``stride_s``) and validation windows (the tail
        ``val_fraction`` of each segment, or whole ``val_subjects``).
    scales : list of ndarray
        Robust SD (volts) of every training segment's contacts.
    """
    data, train_idx, val_idx, scales, subjects = [], [], [], [], []
    stride = max(1, round(stride_s * model.sfreq))
    for seg in segments:
        model._check_sfreq(seg)
        if seg.scalp.shape[1] < model.win:
            continue
        zx = tr.robust_standardize(seg.scalp)[0]
        zy, _, sy = tr.robust_standardize(seg.ieeg)
        ch_pos = scalp_positions(seg.scalp_names)
        data.append((zx, zy, ch_pos, seg.contacts))
        subjects.append(seg.subject)
        di = len(data) - 1
        n = seg.scalp.shape[1]
        if seg.subject in val_subjects:
            val_idx += [(di, s) for s in tr.window_starts(n, model.win, model.win)]
            continue
        scales.append(sy)
        n_tr = n if val_fraction <= 0 else int(n * (1 - val_fraction))
        if n - n_tr >= model.win:
            val_idx += [(di, s) for s in tr.window_starts(n - n_tr, model.win, model.win) + n_tr]
        else:
            n_tr = n
        if n_tr >= model.win:
            train_idx += [(di, s) for s in tr.window_starts(n_tr, model.win, stride)]
    rank, world = tr.dist_context()
    if world > 1:
        train_idx, val_idx = tr.shard_subjects(subjects, train_idx, val_idx, rank, world)
    return data, train_idx, val_idx, scales


def train_network(model: Any, data: list, train_idx: Index, val_idx: Index, *, rng: np.random.Generator, dev: Any,
                  seed: int, epochs: int, batch_size: int, lr: float, weight_decay: float, patience: int,
                  max_windows_per_epoch: int | None, max_contacts: int, channel_dropout: float,
                  progress: Callable[[int, float, float], None] | None,
                  groups_per_step: int = 1) -> tuple[list, list, tr.EarlyStopping]:
    """Train a fresh network (seeded by ``seed``) across subjects; keep the best validation state.

    In a distributed run (``torchrun``, :func:`~ieegrecon.models.training.dist_context`)
    the network is wrapped in ``DistributedDataParallel``; ``train_idx`` and
    ``val_idx`` are this rank's windows (:func:`~ieegrecon.models.training.shard_subjects`). Each rank
    draws its share of the epoch's windows (``1/world``) in batches of
    ``ceil(batch_size / world)`` from its own random generator, so one
    optimizer step sees about ``batch_size`` windows and an epoch as many
    windows as one process would; the learning-rate schedule is one
    process's. Losses are averaged over ranks, so every rank stops at the
    same epoch with the same state.

    Every batch holds windows of one segment. ``groups_per_step`` > 1 makes
    one optimizer step average the gradients of several such micro-batches
    (gradient accumulation; :mod:`~ieegrecon.models._cast_steps`): with
    ``world`` processes (1 without ``torchrun``) each rank accumulates
    ``k = ceil(groups_per_step / world)`` micro-batches of distinct segments
    (``net.no_sync()`` on all but the last), each of
    ``ceil(batch_size / (world * k))`` windows and its loss divided by ``k``,
    so a step's gradient is the mean over the ``world * k`` micro-batches
    (over ranks, of each rank's mean) and a step still sees about
    ``batch_size`` windows: about as many steps per epoch as with
    ``groups_per_step`` 1 (single-segment grouping leaves a few partial
    micro-batches), and the same learning-rate schedule (its length is
    ``epochs * ceil(windows per epoch / batch_size)`` steps either way). The other parameters are
    :meth:`~ieegrecon.models.cast.CastModel.pretrain`'s.

    Parameters
    ----------
    groups_per_step : int
        Single-segment micro-batches whose gradients one optimizer step
        averages, over all ranks; a run of ``world`` ranks uses
        ``world * ceil(groups_per_step / world)``. Default 1: one segment
        per step in one process (bit for bit the training without this
        parameter), one per rank in a distributed run (as before).

    Returns
    -------
    hist_tr, hist_va : list of float
        Training and validation loss per epoch.
    stopper : EarlyStopping
        ``best_epoch`` and the best state (already loaded into ``model.net``).
    """
    import torch

    groups_per_step = check_groups_per_step(groups_per_step)
    rank, world = tr.dist_context()
    with tr.deterministic():
        model.net = model._build(seed).to(dev)
        net, n_train, has_val = None, len(train_idx), bool(val_idx)
        if world > 1:
            rng, net = tr.ddp_wrap(model.net, dev, seed, rank)
            n_train, n_val = (int(v) for v in tr.all_reduce([n_train, len(val_idx)]))
            has_val = n_val > 0
        opt = torch.optim.AdamW(model.net.parameters(), lr=lr, weight_decay=weight_decay)
        per_epoch = n_train if max_windows_per_epoch is None else min(n_train, max_windows_per_epoch)
        total_steps = max(1, epochs * int(np.ceil(per_epoch / batch_size)))
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda k: min(1.0, (k + 1) / 50) * 0.5 * (1 + np.cos(np.pi * min(k, total_steps) / total_steps)))
        if world > 1:
            per_epoch = min(len(train_idx), int(np.ceil(per_epoch / world)))
        micro = micro_batches_per_rank(groups_per_step, world)
        batch_size = micro_batch_size(batch_size, groups_per_step, world)
        stopper = tr.EarlyStopping(patience=patience)
        hist_tr, hist_va = [], []
        for ep in range(epochs):
            losses = _pretrain_epoch(model, data, train_idx, per_epoch, batch_size, rng, dev, opt, sched,
                                     max_contacts, channel_dropout, net=net, micro=micro)
            if net is not None:
                total, count = tr.all_reduce([float(np.sum(losses)), len(losses)])
                losses = [total / count]
            va = eval_loss(model, data, val_idx, dev, reduce=net is not None) if has_val else float(np.mean(losses))
            hist_tr.append(float(np.mean(losses)))
            hist_va.append(va)
            stopper.step(va, ep, model.net.state_dict())
            if progress is not None:
                progress(ep, hist_tr[-1], va)
            if stopper.stop:
                break
        if stopper.best_state is not None:
            model.net.load_state_dict(stopper.best_state)
    return hist_tr, hist_va, stopper


def _pretrain_epoch(model: Any, data: list, train_idx: Index, per_epoch: int, batch_size: int,
                    rng: np.random.Generator, dev: Any, opt: Any, sched: Any, max_contacts: int,
                    channel_dropout: float, net: Any = None, micro: int = 1) -> list[float]:
    """One pretraining epoch: random windows, contacts and (with ``channel_dropout``) scalp channels.

    Each optimizer step accumulates ``micro`` single-segment batches of
    ``batch_size`` windows (:func:`~ieegrecon.models._cast_steps.step_groups`),
    each loss divided by their number. ``net``: the DistributedDataParallel
    wrapper of a distributed run; every rank then takes as many steps as the
    rank with the most (the others go round their steps again), since each
    step averages gradients over all ranks.

    Returns
    -------
    losses : list of float
        The loss of every micro-batch (undivided).
    """
    import torch

    model.net.train()
    order = rng.permutation(len(train_idx))[:per_epoch]
    batches = group_windows(train_idx, order, batch_size)
    batches = [batches[i] for i in rng.permutation(len(batches))]
    steps = step_groups(batches, [train_idx[b[0]][0] for b in batches], micro)
    if net is not None:
        n_steps = int(tr.all_reduce([len(steps)], op="max")[0])
        steps = [steps[i % len(steps)] for i in range(n_steps)]
    losses = []
    for step in steps:
        opt.zero_grad()
        for i, b in enumerate(step):
            with sync_unless(net, i < len(step) - 1):
                loss = micro_batch_loss(model, data, train_idx, b, rng, dev, max_contacts, channel_dropout, net)
                (loss if len(step) == 1 else loss / len(step)).backward()
            losses.append(float(loss.detach()))
        torch.nn.utils.clip_grad_norm_(model.net.parameters(), 1.0)
        opt.step()
        sched.step()
    return losses


def learn_lag_prior(model: Any, segments: list[PairedSegment], minutes: float) -> dict[str, Any]:
    """Set ``model.lag_cov`` from within-subject ridge filters of ``segments`` (None if ``minutes`` <= 0).

    A lagged :class:`~ieegrecon.models.ridge.RidgeModel` is fitted on the first
    ``minutes`` of every segment; :func:`~ieegrecon.models.lagged.lag_prior_cov`
    pools the lag profiles of its filters. In a distributed run only rank 0
    (whose model is the one saved) fits them.
    """
    model.lag_cov = None
    if minutes <= 0:
        return {"used": False}
    if tr.dist_context()[0] != 0:
        return {"used": False, "reason": "learnt by rank 0"}
    t0 = time.perf_counter()
    ridge = RidgeModel(model.sfreq, max_lag_ms=RES_MAX_LAG_S * 1000, lag_step_ms=RES_LAG_STEP_S * 1000)
    coefs = []
    for seg in segments:
        seg = seg.crop_samples(0, round(minutes * 60 * model.sfreq))
        if seg.scalp.shape[1] >= 2 * ridge.n_folds * model.sfreq:
            ridge.calibrate(seg)
            coefs.append(ridge.coef_)
    if not coefs:
        return {"used": False, "reason": f"no training segment of {2 * ridge.n_folds} s or more"}
    model.lag_cov = lag_prior_cov(coefs, len(model.res_lags))
    return {"used": True, "segments": len(coefs), "filters": int(sum(len(c) for c in coefs)),
            "minutes_per_segment": minutes, "seconds": round(time.perf_counter() - t0, 2)}


# ------------------------------------------------------------------ calibration
def calibration_split(model: Any, n: int, holdout_fraction: float, stride_s: float, epochs: int,
                      info: dict[str, Any]) -> tuple[int, int, bool, Index]:
    """Training samples, epochs, whether a hold-out tail exists, and the training windows.

    Without room for a hold-out (``holdout_fraction`` of ``n`` shorter than
    half a window) the whole segment trains, for at most 5 epochs, and
    ``info['note']`` says so.

    Returns
    -------
    n_tr : int
        Samples before the hold-out tail.
    epochs : int
    has_hold : bool
    train_idx : list of (0, window start)
    """
    n_hold = int(n * holdout_fraction)
    stride = max(1, round(stride_s * model.sfreq))
    has_hold = n_hold >= model.win // 2 and n - n_hold >= model.win
    if has_hold:
        n_tr = n - n_hold
    else:
        n_tr, epochs = n, min(epochs, 5)
        info["note"] = (f"segment too short for a hold-out ({n / model.sfreq:.1f} s): "
                        f"trained {epochs} epochs on all of it without early stopping")
    return n_tr, epochs, has_hold, [(0, s) for s in tr.window_starts(n_tr, model.win, stride)]


def adapt_decoder(model: Any, zx: np.ndarray, zy: np.ndarray, ch_pos: np.ndarray, contacts: ContactInfo,
                  train_idx: Index, n_tr: int, has_hold: bool, *, rng: np.random.Generator, dev: Any, epochs: int,
                  freeze_encoder: bool, lr: float, batch_size: int, patience: int, max_windows_per_epoch: int,
                  info: dict[str, Any]) -> tuple[np.ndarray, np.ndarray | None, list[float], tr.EarlyStopping]:
    """Fine-tune the decoder and per-contact adapters; the pretrained decoder is a candidate too.

    Returns
    -------
    zp : ndarray, shape (n_contacts, n_times)
        Standardized network output over the whole segment, after adaptation.
    hold_r : ndarray, shape (n_contacts,) | None
        Pearson r on the hold-out tail (None without one).
    hist : list of float
        Training loss per epoch.
    stopper : EarlyStopping
    """
    import torch

    n = zx.shape[1]
    with tr.deterministic():
        model.net = model.net.to(dev)
        adapter, opt = _decoder_optimizer(model, len(contacts.ch_names), dev, freeze_encoder, lr)
        hold, hold_r = None, None
        if has_hold:
            hold = encode_all(model, zx[:, n_tr:], ch_pos, dev)
            with torch.no_grad():
                q0 = model._queries(contacts, dev)
            hold_r = pearson_r(decode_all(model, *hold, q0, n - n_tr), zy[:, n_tr:])
            info["heldout_r_before"] = tolist(hold_r)
        stopper = tr.EarlyStopping(patience=patience)
        if has_hold:  # the pretrained decoder is a candidate too: calibration never worsens the hold-out
            stopper.step(-float(np.nanmean(hold_r)), -1, dict(model.net.state_dict(), __adapter__=adapter))
        cache = None
        if freeze_encoder and epochs > 0:  # the encoder is fixed: encode every training window once
            tr_starts = np.array([s for _, s in train_idx])
            cache = encode_all(model, zx, ch_pos, dev, starts=tr_starts)[1:]
        hist = []
        for ep in range(epochs):
            hist.append(_adapt_epoch(model, zx, zy, ch_pos, contacts, train_idx, cache, adapter, opt, rng, dev,
                                     batch_size, max_windows_per_epoch))
            if has_hold:
                model.net.eval()
                with torch.no_grad():
                    q = model._queries(contacts, dev, adapter)
                    if not freeze_encoder:
                        hold = encode_all(model, zx[:, n_tr:], ch_pos, dev)
                val = -float(np.nanmean(pearson_r(decode_all(model, *hold, q, n - n_tr), zy[:, n_tr:])))
                stopper.step(val, ep, dict(model.net.state_dict(), __adapter__=adapter))
                if stopper.stop:
                    break
        zp, hold_r = _finish_adaptation(model, zx, zy, ch_pos, contacts, adapter, stopper, n_tr, has_hold, hold_r)
    return zp, hold_r, hist, stopper


def _decoder_optimizer(model: Any, n_contacts: int, dev: Any, freeze_encoder: bool, lr: float) -> tuple[Any, Any]:
    """Zero per-contact adapters (n_contacts, d_model) and AdamW over the decoder (and encoder if not frozen)."""
    import torch

    adapter = torch.zeros(n_contacts, model.d_model, device=dev, requires_grad=True)
    enc = model.net.encoder_parameters()
    for p in enc:
        p.requires_grad_(not freeze_encoder)
    params = model.net.decoder_parameters() + ([] if freeze_encoder else enc)
    opt = torch.optim.AdamW([{"params": params}, {"params": [adapter], "weight_decay": 0.0}],
                            lr=lr, weight_decay=1e-2)
    return adapter, opt


def _adapt_epoch(model: Any, zx: np.ndarray, zy: np.ndarray, ch_pos: np.ndarray, contacts: ContactInfo,
                 train_idx: Index, cache: Any, adapter: Any, opt: Any, rng: np.random.Generator, dev: Any,
                 batch_size: int, max_windows_per_epoch: int) -> float:
    """One calibration epoch over a random subset of the training windows; returns the mean loss."""
    import torch

    model.net.train()
    order = rng.permutation(len(train_idx))[:max_windows_per_epoch]
    losses = []
    for b in group_windows(train_idx, order, batch_size):
        starts = np.array([train_idx[j][1] for j in b])
        if cache is None:
            loss = step_loss(model, zx, zy, ch_pos, contacts, starts, dev, adapter)
        else:
            yb = torch.as_tensor(tr.cut_windows(zy, starts, model.win), device=dev)
            pred = model.net.decode(cache[0][b], model._queries(contacts, dev, adapter), cache[1][b])
            loss = tr.waveform_spectral_loss(pred, yb, model.spectral_weight)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return float(np.mean(losses))


def _finish_adaptation(model: Any, zx: np.ndarray, zy: np.ndarray, ch_pos: np.ndarray, contacts: ContactInfo,
                       adapter: Any, stopper: tr.EarlyStopping, n_tr: int, has_hold: bool,
                       hold_r: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Load the best state, keep the adapters on the CPU, predict the segment (standardized)."""
    import torch

    if has_hold and stopper.best_state is not None:
        best = dict(stopper.best_state)
        with torch.no_grad():
            adapter.copy_(best.pop("__adapter__"))
        model.net.load_state_dict(best)
    for p in model.net.parameters():
        p.requires_grad_(True)
    model.net = model.net.cpu().eval()
    model.adapter = adapter.detach().cpu().numpy().astype(np.float32)
    with torch.no_grad():
        q = model._queries(contacts, "cpu", torch.as_tensor(model.adapter))
    if has_hold:
        hold_r = pearson_r(predict_std(model, zx[:, n_tr:], ch_pos, q), zy[:, n_tr:])
    return predict_std(model, zx, ch_pos, q), hold_r


def fit_output(model: Any, zx: np.ndarray, y: np.ndarray, zp: np.ndarray, residual_ridge: bool,
               info: dict[str, Any]) -> None:
    """Map the standardized output ``zp`` (K, n) to volts: residual ridge, or least-squares gain and offset.

    With ``residual_ridge`` and at least ``2 * RES_FOLDS`` s of data, a lagged
    ridge on what the network leaves unexplained, shrunk towards the network
    (alpha = inf keeps it alone) or plain ridge (gain 0), per contact by
    blocked CV (:func:`~ieegrecon.models.lagged.fit_residual_ridge`).
    Otherwise the per-contact gain and offset in volts, on the whole segment.
    """
    n = zx.shape[1]
    model.res_coef = None
    if residual_ridge and n >= 2 * RES_FOLDS * model.sfreq:
        fit = fit_residual_ridge(zx, model.res_lags, y.T, zp.T, RES_ALPHAS, RES_FOLDS, lag_cov=model.lag_cov)
        model.gain, model.offset = fit["gain"], fit["intercept"]
        model.res_coef = fit["coef"].astype(np.float32)
        info["residual_ridge"] = {"alpha_relative": [None if not np.isfinite(a) else float(a)
                                                     for a in fit["alpha"]],
                                  "cv_r": tolist(fit["cv_r"]), "cv_r_network": tolist(fit["cv_r_prior"]),
                                  "cv_r_ridge": tolist(fit["cv_r_ridge"]),
                                  "uses_network": [bool(u) for u in fit["uses_prior"]],
                                  "lag_prior": model.lag_cov is not None,
                                  "cv_median_r": float(np.nanmedian(fit["cv_r"]))}
    else:
        if residual_ridge:
            info["residual_ridge"] = f"skipped: needs at least {2 * RES_FOLDS} s of calibration data"
        model.gain = ls_gain(zp.T, y.T)
        model.offset = y.mean(1) - model.gain * zp.mean(1)
