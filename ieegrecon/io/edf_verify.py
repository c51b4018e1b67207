"""Read a written EDF back and check it holds what was meant (after :func:`~ieegrecon.io.edf.write_edf`).

The header is read by pyedflib, a library other than the writer (edfio):
labels, sampling rates, sample counts and the physical/digital ranges. The
samples are decoded from the data records with numpy, by the layout of the
EDF specification (Kemp et al. 1992: records of ``n_samples`` little-endian
int16 per signal, annotation signals included), in one pass over the file;
pyedflib decodes the first signal too, and both decodings must agree.
pyedflib alone reads one signal at a time through every record (48 signals
of a 1-h file: 1.6 s of a 9-s ridge reconstruction); the one-pass check takes
a fraction of that (docs/results.md, session 11).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import OutputError
from .edfplus import ANNOTATION_LABELS, record_layout


def _data_records(path: Path, n_signals: int) -> tuple[np.ndarray, list[int], list[int]]:
    """Digital samples as a read-only memmap (n_records, record length), each signal's offset and count.

    Signals are those pyedflib lists (annotation signals skipped), ``n_signals`` of them.
    """
    layout = record_layout(path)
    if layout.bytes_per_sample != 2:
        raise ValueError("not a 16-bit EDF")
    offsets = np.cumsum([0] + layout.spr)
    keep = [i for i, lab in enumerate(layout.labels) if lab not in ANNOTATION_LABELS]
    if len(keep) != n_signals:
        raise ValueError(f"{len(keep)} signals in the header, pyedflib lists {n_signals}")
    mm = np.memmap(path, dtype="<i2", mode="r", offset=layout.header_bytes,
                   shape=(layout.n_records(), int(offsets[-1])))
    return mm, [int(offsets[i]) for i in keep], [layout.spr[i] for i in keep]


def signal_uv(records: np.ndarray, offset: int, spr: int, edf_range: tuple[float, float, float, float],
              start: int, stop: int) -> np.ndarray:
    """Samples ``[start, stop)`` of one signal in µV (float64), decoded from the data records.

    ``records``, ``offset``, ``spr``: as :func:`_data_records` gives them; ``edf_range``: the signal's
    physical minimum, maximum, digital minimum, maximum. pyedflib's (and EDFlib's) conversion; only
    the records holding the samples are read.
    """
    pmin, pmax, dmin, dmax = edf_range
    gain = (pmax - pmin) / (dmax - dmin)
    r0, r1 = start // spr, -(-stop // spr)
    dig = records[r0:r1, offset:offset + spr].reshape(-1)[start - r0 * spr:stop - r0 * spr].astype(np.float64)
    return gain * (dig + (pmax / gain - dmax))


def read_signals(path: str | Path, ranges: Sequence[tuple[float, float, float, float]], start: int, stop: int,
                 *, scale: float = 1.0, dtype: type = np.float64) -> np.ndarray:
    """Samples ``[start, stop)`` of every signal of a 16-bit EDF, in µV times ``scale``, shape (n_signals, n).

    One pass over the data records (:func:`_data_records`), annotation signals skipped, one signal at
    a time into an array of ``dtype`` (``scale=1e-6, dtype=np.float32``: float32 volts without a
    float64 copy of the whole); ``ranges``: each signal's physical minimum, maximum, digital minimum,
    maximum (from the header, e.g. by pyedflib). The values of pyedflib's ``readSignal``, about 3x
    faster (48 signals of 1 h: 0.8 s against 2.1 s).

    Raises
    ------
    ValueError
        Not a 16-bit EDF, or ``ranges`` not one per signal.
    """
    records, offsets, spr = _data_records(Path(path), len(ranges))
    out = np.empty((len(ranges), stop - start), dtype)
    for i, (o, n, r) in enumerate(zip(offsets, spr, ranges)):
        out[i] = signal_uv(records, o, n, r, start, stop) * scale
    return out


def verify_edf(path: str | Path, ch_names: Sequence[str], n_times: int, sfreq: float,
               data: np.ndarray | None = None) -> None:
    """Re-read an EDF (header by pyedflib, samples by one pass) and check it holds what was meant.

    Parameters
    ----------
    path : path-like
        File written by :func:`~ieegrecon.io.edf.write_edf` (16-bit EDF/EDF+).
    ch_names : sequence of str
        Expected labels, in order.
    n_times : int
        Expected samples per channel (padding excluded).
    sfreq : float
        Expected sampling rate.
    data : ndarray, shape (n_channels, n_times) | None
        If given (volts), the signals read back must match within one
        quantization step of each channel (clipped samples excepted).

    Raises
    ------
    OutputError
        If the file cannot be read back or differs.
    """
    import pyedflib

    try:
        reader = pyedflib.EdfReader(str(path))
    except OSError as exc:
        raise OutputError(f"written EDF cannot be re-read by pyedflib ({exc})", path) from None
    try:
        labels = [lab.strip() for lab in reader.getSignalLabels()]
        if labels != [n.strip() for n in ch_names]:
            raise OutputError(f"re-read labels {labels} differ from {list(ch_names)}", path)
        ranges = []
        for i in range(len(labels)):
            fs = reader.getSampleFrequency(i)
            if abs(fs - sfreq) > 1e-6 * sfreq:
                raise OutputError(f"re-read sfreq {fs} differs from {sfreq}", path)
            n = reader.getNSamples()[i]
            if n < n_times:
                raise OutputError(f"re-read {n} samples, expected {n_times}", path)
            ranges.append((reader.getPhysicalMinimum(i), reader.getPhysicalMaximum(i),
                           reader.getDigitalMinimum(i), reader.getDigitalMaximum(i)))
        first = reader.readSignal(0)[:n_times] if data is not None and labels and n_times else None
    finally:
        reader.close()
    if first is None:
        return
    try:
        records, offsets, spr = _data_records(Path(path), len(labels))
    except (OSError, ValueError) as exc:
        raise OutputError(f"written EDF's data records cannot be read ({exc})", path) from None
    for i, (pmin, pmax, dmin, dmax) in enumerate(ranges):
        gain = (pmax - pmin) / (dmax - dmin)
        x_uv = signal_uv(records, offsets[i], spr[i], ranges[i], 0, n_times)
        if i == 0 and np.max(np.abs(x_uv - first)) > 1e-6 * gain:
            raise OutputError("pyedflib and the record layout decode the first signal differently", path)
        err = np.max(np.abs(x_uv * 1e-6 - np.clip(data[i], pmin * 1e-6, pmax * 1e-6)))
        if err > gain * 1e-6:
            raise OutputError(f"channel {labels[i]!r} re-read differs by {err:.3g} V (> {gain * 1e-6:.3g})", path)
    del records
