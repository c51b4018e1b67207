"""Metrics of sampling methods: coverage of the 90 % posterior bands and the metrics of posterior draws.

The one call into a model's posterior is :func:`_posterior_chunk`; switching
to another posterior API changes that function only. A test part in pieces
(trials of an epoched recording, :attr:`ieegrecon.evaluation.data.Subject.test_bounds`)
is drawn piece by piece (:func:`~ieegrecon.workflow.pieces.piece_chunks`), as its point prediction is
(:func:`ieegrecon.workflow.pieces.predict_pieces`).
"""

from __future__ import annotations

import numpy as np

from ..metrics import BANDS, alpha_fc_error, band_power_error, psd_hellinger
from ..models.base import ReconModel
from ..workflow.pieces import piece_chunks
from .draws import draw_shape_metrics


def samples_posterior(model: ReconModel) -> bool:
    """Whether ``model`` draws from a posterior (scored by :func:`posterior_metrics`)."""
    return model.supports_posterior


def _posterior_chunk(model: ReconModel, scalp: np.ndarray, n_draws: int, seed: int
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draws and the 5 % and 95 % quantiles of the posterior of one chunk of scalp EEG.

    Parameters
    ----------
    model : ReconModel
        A calibrated sampling model.
    scalp : ndarray, shape (n_scalp, n_times)
        Volts.
    n_draws, seed : int

    Returns
    -------
    draws : ndarray, shape (n_draws, n_contacts, n_times)
    lo, hi : ndarray, shape (n_contacts, n_times)
        Volts.
    """
    post = model.posterior(scalp, n_samples=n_draws, seed=seed)  # type: ignore[attr-defined]
    lo, _, hi = post.quantiles((0.05, 0.5, 0.95))
    return post.sample(), lo, hi


def posterior_metrics(model: ReconModel, y: np.ndarray, scalp: np.ndarray, sfreq: float, *, n_draws: int = 32,
                      n_metric_draws: int = 8, seed: int = 0,
                      bounds: list[tuple[int, int]] | None = None,
                      onsets: list[np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Coverage of the 90 % bands and surrogate metrics of posterior draws (sampling methods).

    The recording is drawn in :data:`~ieegrecon.workflow.chunking.ARRAY_CHUNK_S` chunks with context (the
    draws of consecutive chunks are independent), piece by piece when it is in
    pieces (:func:`~ieegrecon.workflow.pieces.piece_chunks`); only ``n_metric_draws`` draws are kept whole,
    as float32, so memory stays bounded.

    Parameters
    ----------
    model : ReconModel
        A calibrated model with a posterior
        (:meth:`ieegrecon.models.flow.FlowModel.posterior`).
    y : ndarray, shape (n_contacts, n_times)
        True iEEG, volts.
    scalp : ndarray, shape (n_scalp, n_times)
        Volts.
    sfreq : float
        Hz.
    n_draws, n_metric_draws, seed : int
    bounds : list of (int, int) | None
        Pieces (trials) tiling ``[0, n_times)``: no draw's context reaches
        across a trial boundary. None or one piece: continuous.
    onsets : list of ndarray | None
        Ground-truth IED onsets (s from the first sample of ``y``) of each contact; None: no ground truth.

    Returns
    -------
    dict of str -> ndarray, shape (n_contacts,)
        ``coverage90`` (fraction of true samples inside the 5-95 % band) and,
        averaged over the scored draws, ``draw_bp_err_<band>``,
        ``draw_psd_hellinger``, ``draw_fc_alpha_rel_err``, the
        per-recording ``draw_fc_alpha_rel_err_total`` (repeated) and
        :data:`~ieegrecon.evaluation.draws.DRAW_SHAPE_COLS`.
    """
    n = scalp.shape[1]
    inside = np.zeros(y.shape[0])
    keep = np.zeros((n_metric_draws,) + y.shape, np.float32)
    for k, (a, b, context, sl) in enumerate(piece_chunks(scalp, sfreq, bounds)):
        draws, lo, hi = _posterior_chunk(model, context, n_draws, seed + k)
        inside += ((y[:, a:b] >= lo[:, sl]) & (y[:, a:b] <= hi[:, sl])).sum(axis=1)
        keep[:, :, a:b] = draws[:n_metric_draws, :, sl]
        del draws
    out: dict[str, np.ndarray] = {"coverage90": inside / n}
    out.update(draw_metrics(y, keep.astype(float), sfreq, onsets))
    return out


def draw_metrics(y: np.ndarray, draws: np.ndarray, sfreq: float,
                 onsets: list[np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Surrogate metrics of each draw against ``y``, averaged over the draws.

    Parameters
    ----------
    y : ndarray, shape (n_contacts, n_times)
        True iEEG, volts.
    draws : ndarray, shape (n_draws, n_contacts, n_times)
        Posterior draws, volts.
    sfreq : float
        Hz.
    onsets : list of ndarray | None
        Ground-truth IED onsets (s) of each contact (:func:`~ieegrecon.evaluation.draws.draw_shape_metrics`).

    Returns
    -------
    dict of str -> ndarray, shape (n_contacts,)
        ``draw_bp_err_<band>``, ``draw_psd_hellinger``, ``draw_fc_alpha_rel_err``,
        ``draw_fc_alpha_rel_err_total`` (one value per recording, repeated) and the
        kurtosis, skewness and IED-waveform errors of :mod:`ieegrecon.evaluation.draws`.
    """
    acc: dict[str, list[np.ndarray]] = {}
    for d in draws:
        bpe = band_power_error(y, d, sfreq)
        for j, name in enumerate(BANDS):
            acc.setdefault(f"draw_bp_err_{name}", []).append(bpe[:, j])
        acc.setdefault("draw_psd_hellinger", []).append(psd_hellinger(y, d, sfreq))
        total, row = alpha_fc_error(y, d, sfreq)
        acc.setdefault("draw_fc_alpha_rel_err", []).append(row)
        acc.setdefault("draw_fc_alpha_rel_err_total", []).append(np.full(y.shape[0], total))
    out = {k: np.nanmean(np.stack(v), axis=0) for k, v in acc.items()}
    out.update(draw_shape_metrics(y, draws, sfreq, onsets))
    return out
