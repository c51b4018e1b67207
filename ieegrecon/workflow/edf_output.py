"""Write a surrogate EDF+: from a spill file (edfio) or streamed chunk by chunk (pyedflib), verified before publication.

Both writers take the reconstruction in volts (µV only at the EDF edge),
refuse NaN/Inf, count samples clipped to the physical range per channel
and read the written file back (:func:`ieegrecon.io.edf_verify.verify_edf`)
before it replaces its final name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from ..errors import InputError
from ..preprocessing import Preprocessing
from ..recording import Annotation
from .results import Progress


@dataclass
class EdfTarget:
    """Where and how one surrogate EDF is written.

    Attributes
    ----------
    path : Path
        Output ``.edf``.
    labels : list of str
        Channel labels (contact names with the SURROGATE suffix).
    sfreq : float
        Sampling frequency (Hz).
    n_times : int
        Samples per channel.
    annotations : list of Annotation
        EDF+ annotations (surrogate marker, gaps, input events).
    header : dict
        ``recording_additional``, ``transducer``, ``prefiltering``.
    meas_date : datetime | None
        Start date/time (None: EDF+ anonymous date).
    overwrite : bool
        Replace an existing output.
    """

    path: Path
    labels: list[str]
    sfreq: float
    n_times: int
    annotations: list[Annotation]
    header: dict[str, Any]
    meas_date: Any
    overwrite: bool


@dataclass
class Written:
    """What a writer reports: samples clipped per label and zero samples padding the last record."""

    n_clipped: dict[str, int]
    padded: int


def check_finite(y: np.ndarray, path) -> None:
    """Refuse a reconstruction holding NaN/Inf (InputError naming the input ``path``)."""
    if not np.all(np.isfinite(y)):
        raise InputError("reconstruction produced NaN/Inf (check the input for NaN samples)", path)


def prefilter_text(prep: Preprocessing) -> str:
    """EDF prefiltering field of a surrogate, e.g. ``'HP:0.5Hz LP:100Hz N:50Hz'``."""
    parts = []
    if prep.l_freq:
        parts.append(f"HP:{prep.l_freq:g}Hz")
    parts.append(f"LP:{prep.sfreq / 2:g}Hz")
    if prep.line_freq:
        parts.append(f"N:{prep.line_freq:g}Hz")
    return " ".join(parts)


def spill_pieces(pieces: Iterator[np.ndarray], folder: Path, n_rows: int, n_times: int, *, source,
                 say: Progress):
    """Write ``pieces`` (V, each (..., n) with ``n_rows`` rows) to a :class:`~ieegrecon.io.edf_stream.ChannelSpill`.

    Refuses NaN/Inf (:func:`check_finite`, naming ``source``); the caller
    closes the spill (also on error: it is closed here when writing fails).
    """
    from ..io.edf_stream import ChannelSpill

    spill = ChannelSpill(folder, n_rows, n_times)
    try:
        for piece in pieces:
            check_finite(piece, source)
            spill.write(piece)
            del piece  # written: free it before the next piece is computed
            say("reconstructing", 0.1 + 0.6 * spill.n_written / max(1, n_times))
    except BaseException:
        spill.close()
        raise
    return spill


def write_in_memory(target: EdfTarget, y: np.ndarray, *, forbidden: tuple) -> Written:
    """Write ``y`` (V, shape (n_channels, n_times)) at each channel's own extremes (nothing clipped), verified.

    ``y`` may be a row source (:class:`~ieegrecon.io.edf_stream.ChannelSpill`
    rows): channels are then read one at a time; only the EDF's int16
    samples are built in memory.
    """
    from ..io.edf import write_edf
    from ..io.edf_verify import verify_edf

    t = target
    rep = write_edf(t.path, y, t.sfreq, t.labels, meas_date=t.meas_date, annotations=t.annotations,
                    overwrite=t.overwrite, forbidden=forbidden, **t.header,
                    verify=lambda tmp: verify_edf(tmp, t.labels, t.n_times, t.sfreq, y))
    return Written(rep.n_clipped, rep.padded_samples)


def write_streamed(target: EdfTarget, pieces: Iterator[np.ndarray], phys: list[tuple[float, float]], *,
                   source, say: Progress, keep_first: Callable[[np.ndarray], None] | None = None) -> Written:
    """Write ``pieces`` (V, each (n_channels, n)) as they come, within the fixed physical ranges ``phys`` (µV).

    ``keep_first`` is called with the first piece (e.g. to spill it for the
    report's traces); nothing of a piece is held once it is written.
    """
    from ..io.edf_verify import verify_edf
    from ..io.edf_stream import StreamedEdfWriter

    t = target
    writer = StreamedEdfWriter(t.path, t.labels, t.sfreq, phys, meas_date=t.meas_date, overwrite=t.overwrite,
                               **t.header)
    try:
        for piece in pieces:
            check_finite(piece, source)
            writer.write(piece)
            if keep_first is not None and writer.n_written == piece.shape[-1]:
                keep_first(piece)
            del piece
            say("reconstructing (streamed)", 0.1 + 0.7 * writer.n_written / t.n_times)
        writer.annotate(t.annotations)
        padded = writer.close(verify=lambda tmp: verify_edf(tmp, t.labels, t.n_times, t.sfreq, None))
    except BaseException:
        writer.abort()
        raise
    return Written(writer.n_clipped, padded)
