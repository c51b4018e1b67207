"""Windowed inference of :class:`~ieegrecon.models.cast.CastModel` over signals of any length.

Standardized scalp (n_scalp, n_times) is cut into windows of ``model.win``
samples (overlap :func:`infer_overlap`), encoded, decoded for the query
contacts and overlap-added with a taper (cross-fade) into standardized
contacts (n_contacts, n_times). Eval mode and no gradient throughout.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import training as tr


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
    return tr.overlap_add(np.concatenate(outs), starts, n_times, tr.taper(model.win, infer_overlap(model)))


def predict_std(model: Any, zscalp: np.ndarray, ch_pos: np.ndarray, q: Any) -> np.ndarray:
    """Standardized scalp (C, n) -> standardized contacts (K, n), no grad, overlap-add."""
    return decode_all(model, *encode_all(model, zscalp, ch_pos, q.device), q, zscalp.shape[1])
