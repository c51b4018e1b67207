"""Posterior draws of :class:`~ieegrecon.models.flow.FlowModel`, stitched over overlapping windows.

Each window of ``model.win`` samples (hop ``model.hop``) is drawn from the
conditional flow given the scalp around it; base noise is correlated across
contacts by the copula factor, mapped through the flow and the window
whitening factor, and stitched with a taper whose squares sum to one
(variance-preserving). Draws are standardized; :mod:`ieegrecon.models.flow`
turns them into volts. Batches of windows go through the flow side by side on
the thread policy's workers (:func:`ieegrecon._threads.ordered_map`); the
random draws are made in order in the caller's thread, so the draws are those
of one thread.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._threads import ordered_map
from .overlap import add_windows, taper, weight_sum
from .training import standardize, window_starts

#: Rows (draws x windows x contacts) per flow call when drawing, bounding memory.
MAX_FLOW_ROWS = 2048
#: Windows per call of the scalp encoder (about; a multiple of the flow's batch).
ENC_WINDOWS = 64

# FLOW_GC: zuko's inverse through torch's ``Transform.inv`` left each flow call's tensors in reference cycles
# (a transform and its inverse) until Python's cyclic collector ran: RSS grew by ~30 MiB per call of 8192
# rows (sessions 3-12 collected the youngest generations after every call). With worker threads a
# collection in one thread promotes the other's live cycles to the oldest generation, which is rarely
# collected (10-min, 32 draws, two workers: 2 GiB). The flow's inverse now makes no cycle
# (:func:`ieegrecon.models._flow_nn._inverse`; a test), so nothing waits for the collector.


def scalp_windows(model: Any, zx: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Scalp context windows (n_win, C, win + 2 pad) around each iEEG window (zero-padded)."""
    n_ch, n_t = zx.shape
    padded = np.zeros((n_ch, n_t + 2 * model.pad + model.win), np.float32)
    padded[:, model.pad:model.pad + n_t] = zx
    idx = starts[:, None] + np.arange(model.ctx_len)[None]
    return np.ascontiguousarray(padded[:, idx].transpose(1, 0, 2))


def draw(model: Any, scalp: np.ndarray, n_samples: int, seed: int, batch: int | None = None,
         antithetic: bool = False, mean_only: bool = False, center: bool = False) -> np.ndarray:
    """Posterior draws (S, K, n_t), standardized, before the conformal factor.

    ``center``: one deterministic "draw" at the origin of the base space,
    ``z = 0`` pushed through the flow (the flow's central point; in one
    dimension its median), shape (1, K, n_t): one flow pass per window and
    contact instead of ``n_samples`` (``n_samples`` and ``seed`` are ignored).

    ``antithetic``: draw base noise in pairs ``(z, -z)`` (S rounded up to even),
    which cancels most Monte Carlo noise of a posterior mean (variance reduction).
    ``batch``: windows per flow call; default so that draws x windows x contacts
    stays under :data:`MAX_FLOW_ROWS` (sessions 3-11 measured +970 MB at 12288 rows, +444 MB at 4096:
    the uncollected cycles of FLOW_GC; with them collected, 2048, 4096 and 8192 rows took the same
    time and memory for 32 draws of 120 s, session 12; without cycles and with two workers, a 10-min
    32-draw reconstruct took 22.0 s / 572 MiB at 2048 rows, 17.3 s / 591 MiB at 4096 and 20.4 s /
    561 MiB at 8192, whose large tensors are mapped and unmapped each call: 14 s of system time;
    other sizes draw other random numbers, session 14).
    ``mean_only``: return only the mean over draws, shape (1, K, n_t) (stitching
    is linear, so the mean is accumulated window by window; memory of one draw).
    """
    import torch

    model._require()
    scalp = model.check_scalp(scalp)
    n_t = scalp.shape[1]
    K = len(model.contacts.ch_names)
    zx = standardize(scalp, model.x_center_, model.x_scale_)
    starts = window_starts(n_t, model.win, model.hop)
    xw = scalp_windows(model, zx, starts)
    w_mean = taper(model.win, model.win - model.hop)
    w_res = np.sqrt(w_mean)
    total = max(n_t, int(starts.max()) + model.win)
    n_draws = 1 if center else 2 * ((n_samples + 1) // 2) if antithetic else n_samples
    if batch is None:
        batch = max(1, min(64, MAX_FLOW_ROWS // max(1, n_draws * K)))
    enc_batch = batch * max(1, ENC_WINDOWS // batch)  # a multiple of batch
    res = np.zeros((1 if mean_only else n_draws, K, total), np.float32)
    has_mu = model.net.mu is not None  # location="ridge": no learned location to stitch
    loc = np.zeros((K, total), np.float32) if has_mu else None
    dev = model._dev()
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    chol = torch.as_tensor(model.copula_chol_)
    tw_res = torch.as_tensor(w_res, dtype=torch.float32, device=dev)
    tw_mean = torch.as_tensor(w_mean, dtype=torch.float32, device=dev)
    chol_w = torch.as_tensor(model.window_chol_ if model.window_chol_ is not None
                             else np.eye(model.win, dtype=np.float32)[None].repeat(K, 0), device=dev)
    with torch.no_grad():
        e = model._contact_emb(model.contacts, torch.as_tensor(model.adapter_, device=dev))

    def batches():  # in the caller's thread, in order: the random draws keep their sequence
        for i in range(0, len(starts), batch):
            if i % enc_batch == 0:  # the scalp encoder runs on blocks of windows (per-call overhead)
                with torch.no_grad():
                    c_block = model.net.context(model.net.encoder(torch.as_tensor(xw[i:i + enc_batch], device=dev)), e)
            n_w = len(starts[i:i + batch])
            if center:  # the copula factor maps 0 to 0
                z = torch.zeros((1, n_w, K, model.win))
            elif antithetic:
                z = torch.randn(((n_samples + 1) // 2, n_w, K, model.win), generator=gen)
                z = torch.cat([z, -z])
            else:
                z = torch.randn((n_samples, n_w, K, model.win), generator=gen)
            yield i, c_block[i % enc_batch:i % enc_batch + batch], z

    def run(item: tuple[int, Any, Any]) -> tuple[int, np.ndarray, np.ndarray | None]:  # on a worker thread
        i, c, z = item
        with torch.no_grad():  # thread-local: entered in the thread that computes
            z = (z if center else torch.einsum("kj,sbjw->sbkw", chol, z)).to(dev)
            r, mu = model.net.sample_from(c, z)
            r = torch.einsum("kvw,sbkw->sbkv", chol_w, r) * tw_res
            r = (r.mean(dim=0, keepdim=True) if mean_only else r).cpu().numpy()
            if has_mu:
                mu = (torch.einsum("kvw,bkw->bkv", chol_w, mu) * tw_mean).cpu().numpy()
        return i, np.moveaxis(r, 1, 0), mu

    for i, r, mu in ordered_map(run, batches()):  # flow batches side by side, added in order
        sl = starts[i:i + batch]
        add_windows(res, r, sl)
        if has_mu:
            add_windows(loc, mu, sl)
    res = res[:, :, :n_t]
    res /= np.sqrt(weight_sum(w_res**2, starts, total)[:n_t]).astype(np.float32)  # in place: no second array
    if has_mu:
        res += (loc[:, :n_t] / weight_sum(w_mean, starts, total)[:n_t].astype(np.float32))[None]
    return res
