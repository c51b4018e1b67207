"""Trials, segments and pooled sessions: what calibration and evaluation must not cross.

An epoched recording (OpenNeuro ds004752: 8-s trials joined end to end), an
EDF+D file with gaps and several sessions pooled for calibration are all
recordings in *pieces*. :func:`ieegrecon.workflow.inputs.make_segment_pieces`
preprocesses each piece on its own and says where the pieces lie in the
segment; this module predicts piece by piece (:func:`predict_pieces`,
:func:`piece_chunks` for posterior draws), cuts
held-out splits on whole pieces (:func:`snap_to_piece`, :func:`shift_bounds`),
fits with lag features kept inside pieces (:class:`PieceFit`) and joins sessions
(:func:`pooled_inputs`, :func:`load_pooled_recordings`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from ..recording import Recording
from .confidence import CV_FOLDS
from .inputs import PIECE_MARGIN_S, load_paired_recordings


def predict_pieces(model, scalp: np.ndarray, bounds: list[tuple[int, int]], sfreq: float, *,
                   margin_s: float = PIECE_MARGIN_S) -> np.ndarray:
    """``model.predict`` piece by piece: no lag or model window reaches across a trial boundary.

    Each piece is extended by its mirror image (``margin_s`` each side, the
    border rule of :func:`~ieegrecon.workflow.chunking.predict_chunked`) and only
    its own samples are kept. The evaluation calls this on a test part cut from
    an epoched session (bounds from :func:`make_segment_pieces`, shifted by
    :func:`shift_bounds`).

    Parameters
    ----------
    model : ReconModel
    scalp : ndarray, shape (n_scalp, n_times)
        Preprocessed scalp EEG at ``sfreq`` (V).
    bounds : list of (int, int)
        Pieces tiling ``[0, n_times)``.
    sfreq : float

    Returns
    -------
    ndarray, shape (n_contacts, n_times)
    """
    from ..preprocessing import extend_by_reflection

    if len(bounds) <= 1:
        return model.predict(scalp)
    m = int(round(margin_s * sfreq))
    out = [model.predict(extend_by_reflection(scalp[:, a:b], m, m))[..., m:m + b - a] for a, b in bounds]
    return np.concatenate(out, axis=-1)


def shift_bounds(bounds: list[tuple[int, int]], start: int, stop: int) -> list[tuple[int, int]]:
    """The pieces of ``bounds`` inside samples ``[start, stop)``, relative to ``start`` (cut at both ends)."""
    return [(max(a, start) - start, min(b, stop) - start) for a, b in bounds if b > start and a < stop]


def snap_to_piece(n: int, bounds: list[tuple[int, int]]) -> int:
    """The piece boundary nearest to sample ``n`` (``n`` itself for a continuous segment or ``n`` = 0)."""
    if len(bounds) <= 1 or n == 0:
        return n
    edges = np.array([a for a, _ in bounds[1:]] + [bounds[-1][1]])
    return int(edges[np.argmin(np.abs(edges - n))])


def train_bounds(bounds: list[tuple[int, int]], n_fit: int, n_train: int, fold: int | None = None,
                 folds: int = CV_FOLDS) -> list[tuple[int, int]]:
    """Pieces of a training set cut from a segment in pieces (``bounds``).

    Parameters
    ----------
    bounds : list of (int, int)
        The segment's pieces.
    n_fit : int
        Calibration samples (the first ``n_fit``).
    n_train : int
        Length of the training set.
    fold : int | None
        During blocked cross-validation (:func:`~ieegrecon.workflow.confidence.blocked_cv_predict`),
        the held-out fold: a training set shorter than ``n_fit`` is then the
        ``n_fit`` samples less that fold, joined (the join is a boundary too).
        Otherwise the training set is the first ``n_train`` samples.
    folds : int

    Returns
    -------
    list of (int, int)
        Tiling ``[0, n_train)``.
    """
    if fold is None or n_train >= n_fit:
        return shift_bounds(bounds, 0, n_train)
    test = np.array_split(np.arange(n_fit), folds)[fold]
    a, b = int(test[0]), int(test[-1]) + 1
    return shift_bounds(bounds, 0, a) + [(x + a, y + a) for x, y in shift_bounds(bounds, b, n_fit)]


class PieceFit:
    """A fit callback (:data:`~ieegrecon.workflow.confidence.FitFn`) whose lag features stay inside pieces.

    Each call fits inside :func:`ieegrecon.models.lag_pieces.lag_pieces` with the
    pieces of its training set (:func:`train_bounds`), so no lagged copy of a
    lagged-ridge design (ridge, the residual ridge of cast, xs-ridge) reaches
    across a trial or session boundary. Pass :meth:`at_fold` as the ``say``
    callback of :func:`~ieegrecon.workflow.confidence.held_out` so that blocked
    cross-validation folds are known; :func:`~ieegrecon.workflow.confidence.held_out`
    predicts each fold with :meth:`predict_fold` (trial by trial). With one
    piece, fits and fold predictions are unchanged.

    Parameters
    ----------
    fit : callable
        ``fit(train, zero_shot)`` -> model.
    bounds : list of (int, int) | None
        Pieces of the segment the training sets are cut from (None: continuous).
    n_fit : int
        Calibration samples.
    """

    def __init__(self, fit, bounds: list[tuple[int, int]] | None, n_fit: int) -> None:
        self.fit, self.bounds, self.n_fit, self.fold = fit, list(bounds or []), int(n_fit), None
        self.sfreq: float | None = None

    def at_fold(self, k: int) -> None:
        """Record the blocked cross-validation fold about to be fitted."""
        self.fold = k

    def __call__(self, train, zero_shot: bool):
        from ..models.lag_pieces import lag_pieces

        n, self.sfreq = train.scalp.shape[1], train.sfreq
        with lag_pieces(train_bounds(self.bounds, self.n_fit, n, self.fold) if len(self.bounds) > 1 else None):
            return self.fit(train, zero_shot)

    def predict_fold(self, model, scalp: np.ndarray, start: int, stop: int) -> np.ndarray:
        """Reconstruct the blocked-CV fold ``[start, stop)`` of the calibration samples, piece by piece.

        Parameters
        ----------
        model : ReconModel
            Fitted on the other folds (by this callback, which set ``sfreq``).
        scalp : ndarray, shape (n_scalp, stop - start)
            The fold's preprocessed scalp EEG (V).
        start, stop : int
            The fold's samples within the calibration samples.

        Returns
        -------
        ndarray, shape (n_contacts, stop - start)
            ``model.predict(scalp)`` when continuous; otherwise
            :func:`predict_pieces` on the fold's pieces (cut at the fold's edges).
        """
        pieces = shift_bounds(self.bounds, start, stop)
        if len(pieces) <= 1 or self.sfreq is None:
            return model.predict(scalp)
        return predict_pieces(model, scalp, pieces, self.sfreq)


def piece_chunks(scalp: np.ndarray, sfreq: float, bounds: list[tuple[int, int]] | None = None, *,
                 chunk_s: float | None = None, margin_s: float | None = None):
    """Chunks of a preprocessed array with context that never crosses a piece: ``(a, b, context, keep)``.

    What posterior draws are taken on
    (:func:`ieegrecon.evaluation.posterior.posterior_metrics`, and calibrate's
    held-out band coverage, :func:`~ieegrecon.workflow.uncertainty.heldout_coverage`). Continuous (``bounds`` None, empty or one
    piece): chunks of ``chunk_s`` (default
    :data:`~ieegrecon.workflow.chunking.ARRAY_CHUNK_S`) with ``margin_s``
    (default :data:`~ieegrecon.workflow.chunking.MARGIN_S`) of context,
    truncated at the array's ends
    (:func:`~ieegrecon.workflow.chunking.chunk_bounds`), as before pieces. In
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
    chunk_s, margin_s : float | None
        Chunk length and context in seconds.

    Yields
    ------
    a, b : int
        Samples ``[a, b)`` of ``scalp`` the chunk stands for.
    context : ndarray, shape (n_scalp, n_context)
        The scalp EEG the draws are taken on.
    keep : slice
        The part of the draws' time axis that is ``[a, b)``.
    """
    from ..preprocessing import extend_by_reflection
    from .chunking import ARRAY_CHUNK_S, MARGIN_S, chunk_bounds

    step = int((ARRAY_CHUNK_S if chunk_s is None else chunk_s) * sfreq)
    margin = int((MARGIN_S if margin_s is None else margin_s) * sfreq)
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


def pooled_inputs(patient) -> list[Path] | None:
    """The sessions to pool when ``patient`` asks for it, else None.

    Pooling is asked for by a list of two or more inputs (session folders or
    files, in time order) or by a BIDS *subject* folder holding several
    sessions (``sub-01/``: its ``ses-*`` in order).

    Raises
    ------
    InputError
        A folder whose sessions belong to more than one subject.
    """
    from ..io.bids import find_sessions

    if isinstance(patient, (list, tuple)):
        return [Path(p) for p in patient] if len(patient) > 1 else None
    p = Path(patient)
    if not p.is_dir() or (p / "eeg").is_dir() or (p / "ieeg").is_dir():
        return None
    sessions = find_sessions(p)
    subjects = {(s.parent if s.name.startswith("ses-") else s).name for s in sessions}
    if len(subjects) > 1:
        raise InputError(f"holds {len(subjects)} subjects; pool the sessions of one subject (a sub-XX folder)", p)
    return sessions if len(sessions) > 1 else None


def load_pooled_recordings(patients: list[Path], *, ieeg_channels: str | None = None
                           ) -> tuple[Recording, Recording, dict[str, str]]:
    """Several simultaneous recordings of one patient, joined end to end (a boundary at each join).

    Each input is read by :func:`load_paired_recordings`; the scalp channels
    and contacts all of them share are kept, in the first one's order.

    Returns
    -------
    scalp, intracranial : Recording
        Joined (:func:`ieegrecon.recording.concatenate`).
    files : dict
        Base name -> SHA-256 of every signal file read.

    Raises
    ------
    InputError
        No shared scalp channel or contact, or different sampling rates.
    """
    from ..recording import concatenate

    pairs = [load_paired_recordings(p, ieeg_channels=ieeg_channels) for p in patients]
    out = []
    for side in (0, 1):
        recs = [pair[side] for pair in pairs]
        keep = [n for n in recs[0].ch_names if all(n in r.ch_names for r in recs[1:])]
        if not keep:
            raise InputError(f"the pooled recordings share no {'scalp channel' if side == 0 else 'contact'}",
                             patients[-1])
        try:
            out.append(concatenate([r.pick(keep) for r in recs]))
        except ValueError as exc:
            raise InputError(f"cannot pool: {exc}", patients[-1]) from None
    files = {Path(str(r.source_path)).name: r.source_sha256 for pair in pairs for r in pair if r.source_path}
    return out[0], out[1], files
