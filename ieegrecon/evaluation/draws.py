"""Distributional metrics of posterior draws: amplitude distribution and discharge waveform.

What a Gaussian sampler cannot draw (issue #19): the heavy tails and asymmetry
of iEEG amplitudes and the waveform of its discharges. Each draw of a sampling
method is compared with the true iEEG, contact by contact, and the errors are
averaged over the scored draws (:func:`draw_shape_metrics`, called by
:func:`ieegrecon.evaluation.posterior.draw_metrics`):

- ``draw_kurtosis_err``: ``|g₂(draw) - g₂(y)|``, Fisher (excess) kurtosis
  (:func:`ieegrecon.metrics.kurtosis_error`);
- ``draw_skew_err``: ``|g₁(draw) - g₁(y)|`` (:func:`ieegrecon.metrics.skew_error`);
- ``draw_ied_waveform_err``: the draw's and the truth's averages over
  ±:data:`IED_HALF_WINDOW_S` around every ground-truth IED onset of the
  contact (the event-locked average of IED studies), normalized RMS of their
  difference (:func:`ieegrecon.metrics.event_waveform_error`); NaN on
  contacts without ground-truth IEDs (:mod:`ieegrecon.evaluation.events`).
"""

from __future__ import annotations

import numpy as np

from ..metrics import event_waveform_error, kurtosis_error, skew_error

#: Columns of :func:`draw_shape_metrics` (sampling methods only; NaN for point methods).
DRAW_SHAPE_COLS = ("draw_kurtosis_err", "draw_skew_err", "draw_ied_waveform_err")
#: Half window (s) of the event-locked average around each ground-truth IED onset.
IED_HALF_WINDOW_S = 0.25


def draw_shape_metrics(y: np.ndarray, draws: np.ndarray, sfreq: float,
                       onsets: list[np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Kurtosis, skewness and discharge-waveform errors of each draw, averaged over the draws.

    Parameters
    ----------
    y : ndarray, shape (n_contacts, n_times)
        True iEEG, volts.
    draws : ndarray, shape (n_draws, n_contacts, n_times)
        Posterior draws, volts, on the same samples.
    sfreq : float
        Hz.
    onsets : list of ndarray | None
        Ground-truth IED onsets (s from the first sample of ``y``) of each contact
        (:func:`ieegrecon.evaluation.events.channel_truth`); None: no ground truth.

    Returns
    -------
    dict of str -> ndarray, shape (n_contacts,)
        :data:`DRAW_SHAPE_COLS`: mean over draws (NaN where any draw's error is NaN:
        constant signals, or no ground-truth IED on the contact). Without ``onsets``,
        ``draw_ied_waveform_err`` is left out (the caller's rows hold NaN there).
    """
    acc: dict[str, list[np.ndarray]] = {c: [] for c in DRAW_SHAPE_COLS}
    for d in draws:
        acc["draw_kurtosis_err"].append(kurtosis_error(y, d))
        acc["draw_skew_err"].append(skew_error(y, d))
        if onsets is not None:
            acc["draw_ied_waveform_err"].append(event_waveform_error(y, d, onsets, sfreq, IED_HALF_WINDOW_S))
    return {k: np.mean(np.stack(v), axis=0) for k, v in acc.items() if v}
