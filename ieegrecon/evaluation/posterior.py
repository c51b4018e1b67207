"""Metrics of sampling methods: coverage of the 90 % posterior bands and the metrics of posterior draws.

The one call into a model's posterior is :func:`_posterior_chunk`; switching
to another posterior API changes that function only. A test part in pieces
(trials of an epoched recording, :attr:`ieegrecon.evaluation.data.Subject.test_bounds`)
is drawn piece by piece (:func:`draw_chunks`), as its point prediction is
(:func:`ieegrecon.workflow.pieces.predict_pieces`).
"""

from __future__ import annotations

import numpy as np

from ..metrics import BANDS, alpha_fc_error, band_power_error, psd_hellinger
from ..models.base import ReconModel
from ..preprocessing import extend_by_reflection
from ..workflow.chunking import ARRAY_CHUNK_S, MARGIN_S, chunk_bounds
from ..workflow.inputs import PIECE_MARGIN_S


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


def draw_chunks(scalp: np.ndarray, sfreq: float, bounds: list[tuple[int, int]] | None = None):
    """The chunks posterior draws are taken on: ``(a, b, context, keep)`` in time order.

    Continuous (``bounds`` None, empty or one piece): chunks of
    :data:`~ieegrecon.workflow.chunking.ARRAY_CHUNK_S` with
    :data:`~ieegrecon.workflow.chunking.MARGIN_S` of context, truncated at the
    array's ends (:func:`~ieegrecon.workflow.chunking.chunk_bounds`). In
    pieces: the same chunks inside each piece, whose context never reaches
    into another piece; at a piece's ends the piece's mirror image
    (:data:`~ieegrecon.workflow.inputs.PIECE_MARGIN_S`) stands in for it, the
    border rule of :func:`~ieegrecon.workflow.pieces.predict_pieces`.

    Parameters
    ----------
    scalp : ndarray, shape (n_scalp, n_times)
        Volts.
    sfreq : float
        Hz.
    bounds : list of (int, int) | None
        Pieces tiling ``[0, n_times)``.

    Yields
    ------
    a, b : int
        Samples ``[a, b)`` of ``scalp`` the chunk stands for.
    context : ndarray, shape (n_scalp, n_context)
        The scalp EEG the draws are taken on.
    keep : slice
        The part of the draws' time axis that is ``[a, b)``.
    """
    step, margin = int(ARRAY_CHUNK_S * sfreq), int(MARGIN_S * sfreq)
    if bounds is None or len(bounds) <= 1:
        for a, b, lo, hi in chunk_bounds(scalp.shape[1], step, margin):
            yield a, b, scalp[:, lo:hi], slice(a - lo, b - lo)
        return
    m = int(round(PIECE_MARGIN_S * sfreq))
    for p0, p1 in bounds:
        ext = extend_by_reflection(scalp[:, p0:p1], m, m)  # piece samples at [m, m + p1 - p0)
        for a, b, lo, hi in chunk_bounds(p1 - p0, step, margin):
            lo_e, hi_e = (lo + m if lo > 0 else 0), (hi + m if hi < p1 - p0 else p1 - p0 + 2 * m)
            yield p0 + a, p0 + b, ext[:, lo_e:hi_e], slice(a + m - lo_e, b + m - lo_e)


def posterior_metrics(model: ReconModel, y: np.ndarray, scalp: np.ndarray, sfreq: float, *, n_draws: int = 32,
                      n_metric_draws: int = 8, seed: int = 0,
                      bounds: list[tuple[int, int]] | None = None) -> dict[str, np.ndarray]:
    """Coverage of the 90 % bands and surrogate metrics of posterior draws (sampling methods).

    The recording is drawn in :data:`~ieegrecon.workflow.chunking.ARRAY_CHUNK_S` chunks with context (the
    draws of consecutive chunks are independent), piece by piece when it is in
    pieces (:func:`draw_chunks`); only ``n_metric_draws`` draws are kept whole,
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

    Returns
    -------
    dict of str -> ndarray, shape (n_contacts,)
        ``coverage90`` (fraction of true samples inside the 5-95 % band) and,
        averaged over the scored draws, ``draw_bp_err_<band>``,
        ``draw_psd_hellinger``, ``draw_fc_alpha_rel_err`` and the
        per-recording ``draw_fc_alpha_rel_err_total`` (repeated).
    """
    n = scalp.shape[1]
    inside = np.zeros(y.shape[0])
    keep = np.zeros((n_metric_draws,) + y.shape, np.float32)
    for k, (a, b, context, sl) in enumerate(draw_chunks(scalp, sfreq, bounds)):
        draws, lo, hi = _posterior_chunk(model, context, n_draws, seed + k)
        inside += ((y[:, a:b] >= lo[:, sl]) & (y[:, a:b] <= hi[:, sl])).sum(axis=1)
        keep[:, :, a:b] = draws[:n_metric_draws, :, sl]
        del draws
    out: dict[str, np.ndarray] = {"coverage90": inside / n}
    out.update(draw_metrics(y, keep.astype(float), sfreq))
    return out


def draw_metrics(y: np.ndarray, draws: np.ndarray, sfreq: float) -> dict[str, np.ndarray]:
    """Surrogate metrics of each draw against ``y``, averaged over the draws.

    Parameters
    ----------
    y : ndarray, shape (n_contacts, n_times)
        True iEEG, volts.
    draws : ndarray, shape (n_draws, n_contacts, n_times)
        Posterior draws, volts.
    sfreq : float
        Hz.

    Returns
    -------
    dict of str -> ndarray, shape (n_contacts,)
        ``draw_bp_err_<band>``, ``draw_psd_hellinger``, ``draw_fc_alpha_rel_err``
        and ``draw_fc_alpha_rel_err_total`` (one value per recording, repeated).
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
    return {k: np.nanmean(np.stack(v), axis=0) for k, v in acc.items()}
