"""Streamed EDF+ writing for recordings too long to hold in memory.

edfio (used by :func:`ieegrecon.io.edf.write_edf`) builds the whole file in
memory, which for a 24-h, 60-contact surrogate is several GB. For long
outputs ieegrecon streams 1-s data records through pyedflib's
``EdfWriter`` (EDFlib, Teunis van Beelen), so memory stays bounded by one
processing chunk. The header fields, labels, units, annotations and the
atomic temp-file-then-rename policy are the same as in :func:`write_edf`;
one difference: EDFlib limits an annotation to 40 characters, so longer
texts are split at word boundaries into consecutive annotations with the
same onset (nothing is truncated).
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from ..errors import OVERWRITE_HINT, OutputError
from ..recording import Annotation
from .atomic import clean_stale_temps, finish_file, output_errors, temp_name
from .edf import _ascii, _edf_range, _edf_word, check_edf_labels, clipping_text, count_clipped


#: EDFlib's limit on one annotation's text (characters).
MAX_ANNOTATION_CHARS = 40


def split_annotation(text: str, width: int = MAX_ANNOTATION_CHARS) -> list[str]:
    """Split a long annotation at word boundaries into pieces EDFlib accepts (≤ ``width`` chars).

    The pieces are written as consecutive annotations with the same onset,
    so that no text is silently truncated.
    """
    parts, line = [], ""
    for word in text.split(" "):
        while len(word) > width:
            if line:
                parts.append(line)
                line = ""
            parts.append(word[:width])
            word = word[width:]
        cand = f"{line} {word}" if line else word
        if len(cand) <= width:
            line = cand
        else:
            parts.append(line)
            line = word
    if line or not parts:
        parts.append(line)
    return parts


class StreamedEdfWriter:
    """Write an EDF+C file chunk by chunk (1-s records), atomically.

    Parameters
    ----------
    path : path-like
        Final ``.edf`` path (written to a temporary name, renamed on :meth:`close`).
    ch_names : sequence of str
        Labels (≤ 16 printable ASCII characters, unique).
    sfreq : float
        Sampling rate in Hz; must be an integer (1-s records).
    physical_range_uv : sequence of (min, max)
        Per-channel physical range in µV, fixed in advance before the signal
        is known: choose it wide (the pipeline uses many calibration SDs).
        Samples outside are clipped, counted in :attr:`n_clipped` and
        announced on :meth:`close` by a ``CLIPPED: ...`` annotation at t=0
        (:func:`~ieegrecon.io.edf.clipping_text`); never silently.
    meas_date : datetime | None
        Start date/time.
    recording_additional : sequence of str
        Extra words in the EDF+ recording field.
    transducer, prefiltering : str
        Signal header fields.
    overwrite : bool
        Replace an existing file.

    Raises
    ------
    OutputError
        Output exists (without ``overwrite``), bad labels, non-integer sfreq.
    """

    def __init__(self, path: str | Path, ch_names: Sequence[str], sfreq: float,
                 physical_range_uv: Sequence[tuple[float, float]], *, meas_date: _dt.datetime | None = None,
                 recording_additional: Sequence[str] = (), transducer: str = "", prefiltering: str = "",
                 overwrite: bool = False) -> None:
        import pyedflib

        self.path = Path(path)
        self.overwrite = overwrite
        if self.path.exists() and not overwrite:
            raise OutputError(f"already exists; {OVERWRITE_HINT}", self.path)
        if not float(sfreq).is_integer():
            raise OutputError(f"streamed EDF needs an integer sampling rate, got {sfreq}", self.path)
        check_edf_labels(ch_names)
        self.ch_names = list(ch_names)
        self.sfreq = int(sfreq)
        self.ranges = [_edf_range(*map(float, r)) for r in physical_range_uv]
        self.n_clipped = dict.fromkeys(self.ch_names, 0)
        self.first_clipped_s: float | None = None
        self.n_written = 0
        self._pending = np.zeros((len(self.ch_names), 0))
        self._annotations: list[Annotation] = []
        clean_stale_temps(self.path.parent)
        self._tmp = temp_name(self.path)
        self._w = pyedflib.EdfWriter(str(self._tmp), len(self.ch_names), file_type=pyedflib.FILETYPE_EDFPLUS)
        self._w.setPatientCode("X")
        self._w.setRecordingAdditional("_".join(_edf_word(w) for w in recording_additional)[:40])
        if meas_date is not None:
            self._w.setStartdatetime(meas_date.replace(tzinfo=None, microsecond=0))
        headers = [{
            "label": n, "dimension": "uV", "sample_frequency": self.sfreq,
            "physical_min": lo, "physical_max": hi, "digital_min": -32768, "digital_max": 32767,
            "transducer": _ascii(transducer)[:80], "prefilter": _ascii(prefiltering)[:80],
        } for n, (lo, hi) in zip(self.ch_names, self.ranges)]
        self._w.setSignalHeaders(headers)

    def write(self, data: np.ndarray) -> None:
        """Append samples (volts), shape (n_channels, n_chunk); whole records are flushed."""
        uv = np.asarray(data, float) * 1e6
        if uv.shape[0] != len(self.ch_names):
            raise ValueError(f"expected {len(self.ch_names)} rows, got {uv.shape[0]}")
        if not np.all(np.isfinite(uv)):
            raise ValueError("data contain NaN or Inf; refusing to write them to EDF")
        for i, (lo, hi) in enumerate(self.ranges):
            n_out, first = count_clipped(uv[i], lo, hi)
            if n_out:
                self.n_clipped[self.ch_names[i]] += n_out
                t = (self.n_written + first) / self.sfreq
                self.first_clipped_s = t if self.first_clipped_s is None else min(self.first_clipped_s, t)
            np.clip(uv[i], lo, hi, out=uv[i])
        self.n_written += uv.shape[1]
        sf, pos = self.sfreq, 0
        if self._pending.shape[1]:  # complete the pending record first (no copy of the whole piece)
            pos = min(sf - self._pending.shape[1], uv.shape[1])
            self._pending = np.concatenate([self._pending, uv[:, :pos]], axis=1)
            if self._pending.shape[1] < sf:
                return
            self._write_record(self._pending)
        n_rec = (uv.shape[1] - pos) // sf
        for k in range(n_rec):
            self._write_record(uv[:, pos + k * sf:pos + (k + 1) * sf])
        self._pending = uv[:, pos + n_rec * sf:].copy()  # a copy: the piece itself is not kept

    def _write_record(self, record_uv: np.ndarray) -> None:
        """One data record (µV, shape (n_channels, sfreq)) in one call of EDFlib's block writer.

        pyedflib's ``writeSamples`` makes the same call after assembling the
        record with one ``np.append`` per channel (and checks per channel): 48
        contacts x 86 400 records of a day cost more than the rest of the run.
        """
        if self._w.blockWritePhysicalSamples(np.ascontiguousarray(record_uv, dtype=np.float64).ravel()) < 0:
            raise OSError("EDFlib could not write a data record")

    def annotate(self, annotations: Iterable[Annotation]) -> None:
        """Queue EDF+ annotations (written on :meth:`close`)."""
        self._annotations.extend(annotations)

    def close(self, verify: Callable[[Path], None] | None = None) -> int:
        """Pad the last record, write annotations (and ``CLIPPED: ...`` if anything was), close, fsync, rename.

        Returns
        -------
        int
            Number of padding samples written.
        """
        pad = (-self._pending.shape[1]) % self.sfreq if self._pending.shape[1] else 0
        if pad:
            fill = np.array([[0.0 if lo <= 0 <= hi else lo] for lo, hi in self.ranges])
            self._write_record(np.concatenate([self._pending, np.repeat(fill, pad, axis=1)], axis=1))
            self._annotations.append(Annotation(self.n_written / self.sfreq, pad / self.sfreq,
                                                f"PADDING: {pad} zero samples complete the last EDF record"))
        clipped = clipping_text(self.n_clipped, self.first_clipped_s)
        if clipped:
            self._annotations.append(Annotation(0.0, 0.0, clipped))
        for a in self._annotations:
            for part in split_annotation(_ascii(a.description)):
                self._w.writeAnnotation(a.onset, a.duration if a.duration > 0 else -1, part)
        self._w.close()
        if verify is not None:  # on the finished temporary: a file that fails is never published
            verify(self._tmp)
        with output_errors(self.path):
            finish_file(self._tmp, self.path, overwrite=self.overwrite)  # no-clobber unless overwrite
        return pad

    def abort(self) -> None:
        """Close and delete the temporary file (nothing is left behind)."""
        try:
            self._w.close()
        finally:
            self._tmp.unlink(missing_ok=True)


class ChannelSpill:
    """A reconstruction written in time pieces and read back one channel at a time, from a temporary file.

    The writers that need a whole channel before its first sample can be
    encoded (:func:`~ieegrecon.io.edf.write_edf`: each channel's physical
    range is its own extremes) read it from here, so a long output never
    sits in memory as floats. Samples are kept as float64 (bit-for-bit what
    was written), channel-major, in a hidden file of ``folder`` removed by
    :meth:`close`.

    Parameters
    ----------
    folder : path-like
        Where the temporary file goes (the output's folder).
    n_rows : int
        Rows (channels; times leading axes such as posterior bands).
    n_times : int
        Samples per row.

    Attributes
    ----------
    shape : (int, int)
        ``(n_rows, n_times)``.
    n_written : int
        Samples per row written so far.
    row_source : bool
        Marks objects whose ``[i]`` reads row ``i`` (see :func:`~ieegrecon.io.edf.write_edf`).
    """

    row_source = True

    def __init__(self, folder: str | Path, n_rows: int, n_times: int) -> None:
        import os
        import tempfile

        fd, name = tempfile.mkstemp(prefix=".ieegrecon-spill-", suffix=".f8", dir=str(folder))
        self.path = Path(name)
        self._fd: int | None = fd
        os.ftruncate(fd, 8 * n_rows * n_times)
        self.shape = (int(n_rows), int(n_times))
        self.n_written = 0

    def write(self, piece: np.ndarray) -> None:
        """Append samples, shape (..., n) with ``n_rows`` rows in all (leading axes flattened in C order)."""
        import os

        x = np.asarray(piece).reshape(self.shape[0], -1)  # a view where possible: copied one row at a time
        n = x.shape[1]
        if self.n_written + n > self.shape[1]:
            raise ValueError(f"spill holds {self.shape[1]} samples per row, got {self.n_written + n}")
        for i in range(self.shape[0]):
            row = np.ascontiguousarray(x[i], dtype=np.float64)
            os.pwrite(self._fd, memoryview(row).cast("B"), 8 * (i * self.shape[1] + self.n_written))
        self.n_written += n

    def __getitem__(self, i: int) -> np.ndarray:
        """Row ``i`` (float64, shape (n_times,), read-only)."""
        import os

        n = self.shape[1]
        buf = bytearray(8 * n)
        view, off, done = memoryview(buf), 8 * int(i) * n, 0
        while done < len(buf):
            got = os.preadv(self._fd, [view[done:]], off + done)
            if got <= 0:
                raise OSError(f"short read from {self.path}")
            done += got
        return np.frombuffer(buf, dtype=np.float64)

    def rows(self, start: int, stop: int) -> "SpillRows":
        """Rows ``[start, stop)`` as a row source (e.g. one band of a posterior)."""
        return SpillRows(self, start, stop)

    def array(self) -> np.ndarray:
        """All rows as a read-only memory map, shape ``(n_rows, n_times)`` (pages are read on demand)."""
        return np.memmap(self.path, dtype=np.float64, mode="r", shape=self.shape)

    def close(self) -> None:
        """Close and delete the temporary file."""
        import os

        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self.path.unlink(missing_ok=True)


class SpillRows:
    """Rows ``[start, stop)`` of a :class:`ChannelSpill`, read one at a time (a row source)."""

    row_source = True

    def __init__(self, spill: ChannelSpill, start: int, stop: int) -> None:
        self.spill, self.start = spill, start
        self.shape = (stop - start, spill.shape[1])

    def __getitem__(self, i: int) -> np.ndarray:
        if not 0 <= i < self.shape[0]:
            raise IndexError(i)
        return self.spill[self.start + i]

    def array(self) -> np.ndarray:
        """These rows as a read-only memory map."""
        return self.spill.array()[self.start:self.start + self.shape[0]]
