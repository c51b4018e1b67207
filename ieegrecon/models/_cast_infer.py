"""Windowed inference of :class:`~ieegrecon.models.cast.CastModel` over signals of any length.

Standardized scalp (n_scalp, n_times) is cut into windows of ``model.win``
samples (overlap :func:`infer_overlap`), encoded, decoded for the query
contacts and overlap-added with a taper (cross-fade) into standardized
contacts (n_contacts, n_times). Eval mode and no gradient throughout.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._threads import ordered_map
from . import training as tr
from .overlap import add_windows, overlap_add, taper, weight_sum


def infer_overlap(model: Any) -> int:
    """Overlap (samples) of consecutive inference windows, at most half a window."""
    return min(max(round(model.infer_overlap_s * model.sfreq), 0), model.win // 2)


def encode_all(model: Any, zscalp: np.ndarray, ch_pos: np.ndarray, dev: Any, stride: int | None = None,
               starts: np.ndarray | None = None, batch: int = 64) -> tuple[np.ndarray, Any, Any]:
    """Encode every window (eval mode, no grad).

    Returns starts, features Tensor (n_win, C, n_out, d) and the scalp windows Tensor (n_win, C, W).
    """
    import torch

    if starts is None:
        starts = tr.window_starts(zscalp.shape[1], model.win, stride or model.win - infer_overlap(model))
    wins = torch.as_tensor(tr.cut_windows(zscalp, starts, model.win), device=dev)
    pos_t = torch.as_tensor(ch_pos, dtype=torch.float32, device=dev)
    was_training = model.net.training
    model.net.eval()
    with torch.no_grad():
        feats = torch.cat([model.net.encode(wins[i:i + batch], pos_t) for i in range(0, len(wins), batch)])
    model.net.train(was_training)
    return starts, feats, wins


def decode_all(model: Any, starts: np.ndarray, feats: Any, wins: Any, q: Any, n_times: int,
               batch: int = 64) -> np.ndarray:
    """Decode cached features (eval mode, no grad) and overlap-add: (K, n_times), standardized."""
    import torch

    was_training = model.net.training
    model.net.eval()
    with torch.no_grad():
        outs = [model.net.decode(feats[i:i + batch], q, wins[i:i + batch]).cpu().numpy()
                for i in range(0, len(feats), batch)]
    model.net.train(was_training)
    return overlap_add(np.concatenate(outs), starts, n_times, taper(model.win, infer_overlap(model)))


#: Windows per network call at inference: the encoder's activations of a batch are its peak memory
#: (measured on a 620-s chunk, 17 channels, 48 contacts: peak RSS 682 MiB at 64, 598 at 16, 547 at 8;
#: outputs bit-identical at each size). With two workers (``ieegrecon._threads.ordered_map``), 1-h
#: input, idle 2-core machine (session 11): batches of 8 13.2 s, 596 MiB; of 4 14.4 s, 583 MiB;
#: one worker 18.8-20.1 s, 532-538 MiB; same EDF at every setting.
INFER_BATCH = 4


def predict_std(model: Any, zscalp: np.ndarray, ch_pos: np.ndarray, q: Any, batch: int = INFER_BATCH
                ) -> np.ndarray:
    """Standardized scalp (C, n) -> standardized contacts (K, n), no grad, overlap-add.

    Each batch of windows is encoded, decoded and overlap-added at once, so
    neither the features of every window nor every decoded window are held
    (memory of one batch); the numbers are those of
    ``decode_all(model, *encode_all(...))``: the same batches through the same
    network, added in the same order (:func:`~ieegrecon.models.overlap.overlap_add`).
    Batches run side by side on the thread policy's workers
    (:func:`ieegrecon._threads.ordered_map`; the memory of one batch per worker).
    """
    import torch

    n_times = zscalp.shape[1]
    starts = tr.window_starts(n_times, model.win, model.win - infer_overlap(model))
    wins = torch.as_tensor(tr.cut_windows(zscalp, starts, model.win), device=q.device)
    pos_t = torch.as_tensor(ch_pos, dtype=torch.float32, device=q.device)
    win = model.win
    total = max(n_times, int(starts.max()) + win)
    out: np.ndarray | None = None
    w = np.maximum(np.asarray(taper(win, infer_overlap(model)), float), 1e-3)

    def run(i: int) -> np.ndarray:  # one batch through the network, on a worker thread
        with torch.inference_mode():  # thread-local: entered in the thread that computes
            xb = wins[i:i + batch]
            return model.net.decode(model.net.encode(xb, pos_t), q, xb).cpu().numpy()

    was_training = model.net.training
    model.net.eval()
    try:
        firsts = range(0, len(wins), batch)
        for i, dec in zip(firsts, ordered_map(run, firsts)):  # batches side by side, added in order
            if out is None:
                out = np.zeros((dec.shape[1], total))
            add_windows(out, dec, starts[i:i + batch], w)
    finally:
        model.net.train(was_training)
    assert out is not None  # at least one window (window_starts of n_times >= 1)
    out = out[:, :n_times]
    out /= weight_sum(w, starts, total)[:n_times]  # in place: the same quotients without a second (K, n) array
    return out


#: Samples per block of :func:`add_lagged_blocked` (its temporaries are (n_out, block) arrays).
LAG_BLOCK = 8192
#: Alignment and extra context (samples) of each block of :func:`add_lagged_blocked`.
LAG_ALIGN = 64


def add_lagged_blocked(out: np.ndarray, coef: np.ndarray, x: np.ndarray, lags: np.ndarray,
                       block: int = LAG_BLOCK) -> np.ndarray:
    """``out += apply_lagged(coef, x, lags)``, computed in time blocks of ``block`` samples.

    Each block is :func:`~ieegrecon.models.lagged.apply_lagged` of ``x`` with the
    lag context around it, so every output sample is the same sum of the same
    products, added in the same order, as in one call over the whole signal,
    while the temporaries are (n_out, block) instead of two (n_out, n_times)
    arrays. BLAS may round a product differently where a column sits at
    another position of its kernel (block edges, small sizes): differences are
    of the order of 1e-14 relative (``tests/test_cast_infer_blocked.py``), far
    below an EDF's 16-bit step; measured byte-identical surrogate EDFs on
    10-min and 1-h inputs.

    Parameters
    ----------
    out : ndarray, shape (n_out, n_times)
        Added to in place.
    coef : ndarray, shape (n_out, n_channels * n_lags)
    x : ndarray, shape (n_channels, n_times)
    lags : ndarray of int, shape (n_lags,)
        Positive lag = the past (``x[t - lag]``).

    Returns
    -------
    ndarray
        ``out``.
    """
    from .lagged import apply_lagged

    n_t = x.shape[1]
    past, future = max(0, int(np.max(lags))), max(0, -int(np.min(lags)))
    for s in range(0, n_t, block):
        e = min(n_t, s + block)
        # BLAS computes a column with the same instructions at the same position modulo its kernel width
        # and away from a matrix's ragged end: the context starts on a multiple of LAG_ALIGN and runs
        # LAG_ALIGN samples further than the lags need (bit-identical on 620-s chunks, measured)
        lo = max(0, (s - past - LAG_ALIGN) // LAG_ALIGN * LAG_ALIGN)
        hi = min(n_t, e + future + LAG_ALIGN)
        out[:, s:e] += apply_lagged(coef, x[:, lo:hi], lags)[:, s - lo:e - lo]
    return out
