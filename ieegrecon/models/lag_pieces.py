"""Lag features that never reach across a piece boundary (trials of an epoched recording, pooled sessions).

A signal in *pieces* (OpenNeuro ds004752: 8-s trials joined end to end;
EDF+D segments; sessions pooled for calibration) must not be lagged across
a join: the sample before a trial's first sample belongs to another trial.
Inside :func:`lag_pieces`, :func:`~ieegrecon.models.lagged.lag_rows`,
:func:`~ieegrecon.models.lagged.lag_matrix` and
:func:`~ieegrecon.models.lagged.apply_lagged` treat each piece of a signal of
the stated length as its own signal: a lagged copy is zero where its source
sample lies in another piece, as it is outside the signal. The workflow sets
the pieces around a fit (:class:`ieegrecon.workflow.pieces.PieceFit`);
predictions run piece by piece instead
(:func:`ieegrecon.workflow.pieces.predict_pieces`).
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

import numpy as np

#: Piece index of every sample of the signal being fitted, or None (one continuous signal).
_PIECE_IDS: ContextVar[np.ndarray | None] = ContextVar("ieegrecon_lag_pieces", default=None)


@contextmanager
def lag_pieces(bounds: list[tuple[int, int]] | None) -> Iterator[None]:
    """Within the block, lags of a signal ``bounds[-1][1]`` samples long stay inside each piece.

    Parameters
    ----------
    bounds : list of (int, int) | None
        ``[(start, stop))`` samples of the pieces, tiling ``[0, n_times)`` in
        order; None, empty or one piece: a continuous signal (nothing changes).
    """
    ids = None
    if bounds is not None and len(bounds) > 1:
        ids = np.empty(int(bounds[-1][1]), dtype=np.int64)
        for k, (a, b) in enumerate(bounds):
            ids[int(a):int(b)] = k
    token = _PIECE_IDS.set(ids)
    try:
        yield
    finally:
        _PIECE_IDS.reset(token)


def piece_ids(n_times: int) -> np.ndarray | None:
    """Piece index of each of ``n_times`` samples (shape (n_times,)), or None outside :func:`lag_pieces`
    or for a signal of another length."""
    ids = _PIECE_IDS.get()
    return ids if ids is not None and len(ids) == n_times else None


def same_piece(ids: np.ndarray, lo: int, hi: int, lag: int) -> np.ndarray:
    """Whether sample ``t`` and its source ``t - lag`` lie in one piece, for ``t`` in ``[lo, hi)``: shape (hi - lo,)."""
    return ids[lo:hi] == ids[lo - lag:hi - lag]
