"""The held-out confidence protocol and reliability classes, shared by calibrate and evaluation.

A patient model's per-contact confidence is Pearson r between the recorded
and reconstructed iEEG on data the model was not fitted on:

- ``'zero-shot'`` (no calibration samples): the whole segment is held out;
- ``'tail'`` (at least :data:`MIN_HOLDOUT_S` left after the calibration
  samples): the model is fitted on the first ``n_fit`` samples and tested on
  the rest (the tail);
- ``'cv'`` (tail too short): blocked :data:`CV_FOLDS`-fold cross-validation
  inside the calibration samples (contiguous folds, no shuffling, so
  neighbouring samples never straddle train and test more than at fold edges).

Reliability classes map a held-out r to ``high``/``moderate``/``low``/
``unreliable`` (:data:`RELIABILITY_CLASSES`), applied to the printed value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..metrics import pearson_r
from ..models.base import PairedSegment, ReconModel

#: Shortest held-out tail (s) used for evaluation; below it, blocked CV.
MIN_HOLDOUT_S = 10.0
#: Folds of blocked cross-validation when the tail is too short.
CV_FOLDS = 5
#: Without a requested calibration length, this fraction of the recording (at least
#: :data:`MIN_HOLDOUT_S`) is held out at its end.
AUTO_HOLDOUT_FRACTION = 0.2
#: Reliability classes (lower bound of held-out Pearson r, label), best first.
RELIABILITY_CLASSES = ((0.6, "high"), (0.3, "moderate"), (0.1, "low"), (-np.inf, "unreliable"))
#: Decimals every held-out r is printed with; its class is that of the printed value.
RELIABILITY_DIGITS = 2

#: ``fit(train, zero_shot)`` -> a model fitted on ``train`` (or set up zero-shot on its contacts).
FitFn = Callable[[PairedSegment, bool], ReconModel]
#: ``predict(model, scalp)`` -> ``(n_contacts, n_times)`` reconstruction of held-out scalp EEG.
PredictFn = Callable[[ReconModel, np.ndarray], np.ndarray]
#: ``predict_fold(model, scalp, start, stop)`` -> reconstruction of the blocked-CV fold ``[start, stop)``
#: of the calibration samples (a fit callback in pieces, :class:`~ieegrecon.workflow.pieces.PieceFit`,
#: has one: it predicts the fold trial by trial).
FoldPredictFn = Callable[[ReconModel, np.ndarray, int, int], np.ndarray]


def format_r(r: float | None) -> str:
    """A held-out Pearson r as printed everywhere: :data:`RELIABILITY_DIGITS` decimals, ``'n/a'`` if unmeasured."""
    if r is None or not np.isfinite(r):
        return "n/a"
    return f"{r:.{RELIABILITY_DIGITS}f}"


def reliability_class(r: float | None) -> str:
    """Map a held-out Pearson r to a class; thresholds in :data:`RELIABILITY_CLASSES`.

    The class is that of the printed value (:func:`format_r`), so a table never
    shows "0.60" beside "moderate": r = 0.5996 prints "0.60" and is "high".
    """
    if r is None or not np.isfinite(r):
        return "not measured"
    shown = float(format_r(r))
    for lo, label in RELIABILITY_CLASSES:
        if shown >= lo:
            return label
    return "unreliable"  # pragma: no cover


def protocol_kind(n_all: int, n_fit: int, sfreq: float) -> str:
    """Which held-out protocol applies: ``'zero-shot'``, ``'tail'`` or ``'cv'``.

    Parameters
    ----------
    n_all : int
        Samples available (calibration plus possible tail).
    n_fit : int
        Calibration samples (the first ``n_fit``); 0 means zero-shot.
    sfreq : float
        Sampling rate in Hz.
    """
    if n_fit == 0:
        return "zero-shot"
    if n_all - n_fit >= MIN_HOLDOUT_S * sfreq:
        return "tail"
    return "cv"


def auto_fit_samples(n_all: int, sfreq: float) -> int:
    """Calibration samples when no length is requested: all but a held-out tail.

    The tail is :data:`AUTO_HOLDOUT_FRACTION` of the recording, at least
    :data:`MIN_HOLDOUT_S`; a recording too short for both gives all its
    samples (the protocol is then blocked cross-validation).
    """
    hold = max(int(round(AUTO_HOLDOUT_FRACTION * n_all)), int(round(MIN_HOLDOUT_S * sfreq)))
    return n_all - hold if n_all - hold >= MIN_HOLDOUT_S * sfreq else n_all


def blocked_cv_predict(seg: PairedSegment, fit: FitFn, *, folds: int = CV_FOLDS,
                       say: Callable[[int], None] | None = None,
                       predict: FoldPredictFn | None = None) -> np.ndarray:
    """Out-of-fold predictions of blocked ``folds``-fold cross-validation.

    Parameters
    ----------
    seg : PairedSegment
        The calibration samples, ``n_times`` long.
    fit : callable
        ``fit(train, False)`` -> model fitted on the other folds.
    folds : int
        Contiguous folds.
    say : callable | None
        Called with the fold index before each fold.
    predict : callable | None
        ``predict(model, scalp, start, stop)`` for the fold ``[start, stop)``
        (:data:`FoldPredictFn`; a fold holding several trials is predicted
        trial by trial); default ``model.predict(scalp)``.

    Returns
    -------
    y_hat : ndarray, shape (n_contacts, n_times)
        Each fold predicted by a model that did not see it (volts).
    """
    n = seg.scalp.shape[1]
    y_hat = np.zeros_like(seg.ieeg)
    for k, test in enumerate(np.array_split(np.arange(n), folds)):
        if say is not None:
            say(k)
        a, b = test[0], test[-1] + 1
        train = PairedSegment(np.concatenate([seg.scalp[:, :a], seg.scalp[:, b:]], 1),
                              np.concatenate([seg.ieeg[:, :a], seg.ieeg[:, b:]], 1),
                              seg.sfreq, seg.scalp_names, seg.contacts, seg.subject)
        model = fit(train, False)
        y_hat[:, a:b] = model.predict(seg.scalp[:, a:b]) if predict is None else predict(model, seg.scalp[:, a:b],
                                                                                          int(a), int(b))
    return y_hat


@dataclass
class HeldOut:
    """The outcome of :func:`held_out`.

    Attributes
    ----------
    kind : str
        ``'zero-shot'``, ``'tail'`` or ``'cv'`` (:func:`protocol_kind`).
    model : ReconModel
        The model fitted on all calibration samples (or set up zero-shot).
    segment : PairedSegment
        The samples the figures are measured on.
    y_hat : ndarray, shape (n_contacts, n_times)
        Reconstruction of ``segment`` by a model that did not see it (volts).
    r : ndarray, shape (n_contacts,)
        Pearson r per contact (NaN where a channel is flat).
    """

    kind: str
    model: ReconModel
    segment: PairedSegment
    y_hat: np.ndarray
    r: np.ndarray


def held_out(seg: PairedSegment, n_fit: int, fit: FitFn, *, model: ReconModel | None = None,
             predict: PredictFn | None = None, max_test: int | None = None,
             say: Callable[[int], None] | None = None) -> HeldOut:
    """Fit on the first ``n_fit`` samples of ``seg`` and measure r on held-out samples.

    Parameters
    ----------
    seg : PairedSegment
        Calibration samples followed by the possible tail.
    n_fit : int
        Calibration samples (0: zero-shot, the whole segment is held out).
    fit : callable
        ``fit(train, zero_shot)`` -> model (see :data:`FitFn`). A callback
        with a ``predict_fold`` method (:data:`FoldPredictFn`, e.g.
        :class:`~ieegrecon.workflow.pieces.PieceFit`) predicts the blocked-CV
        folds with it, so that they too are predicted trial by trial.
    model : ReconModel | None
        An already fitted model (on ``seg[:n_fit]``, or zero-shot) to reuse
        instead of fitting one; blocked CV still fits its fold models.
    predict : callable | None
        ``predict(model, scalp)`` for the zero-shot and tail cases (e.g.
        chunked); default ``model.predict``.
    max_test : int | None
        Longest held-out part in samples (zero-shot and tail), from its start.
    say : callable | None
        Called with the fold index during blocked CV.

    Returns
    -------
    HeldOut
    """
    fs, n_all = seg.sfreq, seg.scalp.shape[1]
    kind = protocol_kind(n_all, n_fit, fs)

    def stop(a: int) -> int:
        return n_all if max_test is None else min(n_all, a + max_test)

    run = predict or (lambda m, x: m.predict(x))
    if kind == "cv":
        ev = seg.crop_samples(0, n_fit)
        y_hat = blocked_cv_predict(ev, fit, say=say, predict=getattr(fit, "predict_fold", None))
        model = fit(ev, False) if model is None else model
    else:
        a = 0 if kind == "zero-shot" else n_fit
        if model is None:
            model = fit(seg, True) if kind == "zero-shot" else fit(seg.crop_samples(0, n_fit), False)
        ev = seg.crop_samples(a, stop(a))
        y_hat = run(model, ev.scalp)
    return HeldOut(kind, model, ev, y_hat, pearson_r(ev.ieeg, y_hat))
