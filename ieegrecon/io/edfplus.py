"""EDF+/BDF+ annotation signals: record start times (gaps) and annotations, per the spec.

MNE-Python and edfio concatenate the data records of an EDF+D file without
looking at their start times, and MNE gives annotation onsets on the
wall-clock time base (seconds after the header's start time), so after a gap
every annotation is off by the gap, and one beyond the concatenated samples
is dropped. This module reads the annotation signal's bytes record by record
(EDF+ spec, section 2.2.4: the first TAL of each record of the first
``EDF Annotations`` signal is the *time-keeping* TAL ``+onset\\x14\\x14\\x00``
giving the record's start), so the reader can put samples and annotations on
one time base.

Nihon Kohden exports (``MB0400FU.EDF``) omit the NUL byte between the
time-keeping TAL and the next TAL (``+1.000000\\x14\\x14+1.140000\\x14A1+A2 OFF\\x14``);
MNE and edfio then read ``+1.140000`` as an annotation text at 1.0 s. Here an
onset that follows an empty annotation text starts a new TAL (said in
``quirks``), so ``A1+A2 OFF`` is at 1.14 s and record 1 starts at 1.0 s.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

_ONSET = re.compile(r"^([+-]\d+(?:\.\d*)?)(?:\x15(\d+(?:\.\d*)?))?$")
#: Record start times within this many seconds of the previous record's end are contiguous.
GAP_TOLERANCE_S = 1e-6


@dataclass
class EdfPlusTimeline:
    """Record start times and annotations of an EDF+/BDF+ file.

    Attributes
    ----------
    record_duration : float
        Seconds per data record.
    record_starts : ndarray, shape (n_records,)
        Start of each record in seconds after the header's start time
        (time-keeping TALs), the first one's sub-second offset included.
    annotations : list of (onset, duration, text)
        Every annotation of every annotation signal, onset in seconds after
        the header's start time (wall-clock), duration 0 when absent.
    quirks : list of str
        Departures from the spec found while parsing.
    """

    record_duration: float
    record_starts: np.ndarray
    annotations: list[tuple[float, float, str]] = field(default_factory=list)
    quirks: list[str] = field(default_factory=list)

    def gaps(self) -> list[tuple[float, float]]:
        """Gaps between records as (sample-time onset s, duration s).

        The sample time base is that of the concatenated records (MNE's):
        record ``k`` starts at ``k * record_duration``.
        """
        ends = self.record_starts[:-1] + self.record_duration
        delta = self.record_starts[1:] - ends
        return [(float((k + 1) * self.record_duration), float(delta[k]))
                for k in np.flatnonzero(delta > GAP_TOLERANCE_S)]


def _header_int(head: bytes, a: int, b: int) -> int:
    return int(head[a:b].decode("ascii").strip())


#: Labels of the EDF+/BDF+ annotation signals.
ANNOTATION_LABELS = ("EDF Annotations", "BDF Annotations")


@dataclass
class RecordLayout:
    """Where each signal's samples sit in the data records of an EDF/BDF file (from its header).

    Attributes
    ----------
    path : Path
    head : bytes
        The fixed 256-byte header.
    labels : list of str
        Every signal's label, annotation signals included, in file order.
    spr : list of int
        Samples per data record of each signal.
    bytes_per_sample : int
        2 (EDF) or 3 (BDF).
    """

    path: Path
    head: bytes
    labels: list[str]
    spr: list[int]
    bytes_per_sample: int

    @property
    def header_bytes(self) -> int:
        """Bytes before the first data record: ``256 * (ns + 1)``."""
        return 256 * (len(self.labels) + 1)

    @property
    def record_bytes(self) -> int:
        """Bytes of one data record."""
        return self.bytes_per_sample * sum(self.spr)

    def n_records(self) -> int:
        """Whole data records in the file, at most the header's count when it gives one (it may say -1).

        Raises
        ------
        ValueError
            Empty records, or an unreadable record count.
        """
        if self.record_bytes <= 0:
            raise ValueError("empty data records")
        n = (self.path.stat().st_size - self.header_bytes) // self.record_bytes
        n_head = _header_int(self.head, 236, 244)
        return min(n, n_head) if n_head > 0 else n


def record_layout(path: str | Path) -> RecordLayout:
    """Read the header fields that lay out an EDF/BDF file's data records (EDF spec, Kemp et al. 1992).

    Raises
    ------
    ValueError
        No signals, or the header is truncated or unreadable.
    """
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(256)
        ns = _header_int(head, 252, 256)
        if ns <= 0:
            raise ValueError("no signals")
        sig = f.read(256 * ns)
    if len(head) < 256 or len(sig) < 256 * ns:
        raise ValueError("header truncated")
    labels = [sig[16 * i:16 * (i + 1)].decode("ascii", "replace").strip() for i in range(ns)]
    spr = [_header_int(sig, 216 * ns + 8 * i, 216 * ns + 8 * (i + 1)) for i in range(ns)]
    return RecordLayout(path, head, labels, spr, 3 if head[:1] == b"\xff" else 2)


def read_edfplus_timeline(path: str | Path) -> EdfPlusTimeline | None:
    """Parse the annotation signals of an EDF+/BDF+ file, record by record.

    Parameters
    ----------
    path : path-like
        An EDF/BDF file (opened read-only).

    Returns
    -------
    EdfPlusTimeline | None
        None when the file has no ``EDF Annotations`` / ``BDF Annotations``
        signal (plain EDF/BDF).

    Raises
    ------
    ValueError
        When the header or a time-keeping TAL cannot be parsed (the caller
        falls back to MNE's annotations and says so).
    """
    path = Path(path)
    layout = record_layout(path)
    labels, spr, bps = layout.labels, layout.spr, layout.bytes_per_sample
    ann_idx = [i for i, lab in enumerate(labels) if lab in ANNOTATION_LABELS]
    if not ann_idx:
        return None
    duration = float(layout.head[244:252].decode("ascii").strip())
    rec_bytes = layout.record_bytes
    if rec_bytes <= 0 or duration <= 0:
        raise ValueError("empty data records")
    n_rec = layout.n_records()  # header count checked elsewhere; -1 allowed
    if n_rec <= 0:
        raise ValueError("no data records")
    mm = np.memmap(path, dtype=np.uint8, mode="r", offset=layout.header_bytes, shape=(n_rec, rec_bytes))
    offsets = np.cumsum([0] + spr) * bps
    starts = np.empty(n_rec)
    anns: list[tuple[float, float, str]] = []
    quirks: list[str] = []
    n_joined = 0
    for j, i in enumerate(ann_idx):
        block = np.asarray(mm[:, offsets[i]:offsets[i + 1]])
        for k in range(n_rec):
            tals, joined = _parse_tals(block[k].tobytes())
            n_joined += joined
            if j == 0:  # the first annotation signal's first TAL keeps time
                if not tals:
                    raise ValueError(f"record {k} has no time-keeping TAL")
                starts[k] = tals[0][0]  # its texts, if any (out of spec), stay annotations
            anns += [(on, dur, text) for on, dur, texts in tals for text in texts]
    del mm
    if n_joined:
        quirks.append(f"{n_joined} EDF+ TAL(s) not ended by a NUL byte (e.g. Nihon Kohden exports): read as "
                      "separate TALs, their onsets as times, not as annotation texts")
    return EdfPlusTimeline(duration, starts, anns, quirks)


def _parse_tals(raw: bytes) -> tuple[list[tuple[float, float, list[str]]], int]:
    """TALs of one record's annotation bytes: [(onset, duration, texts)], and how many lacked their NUL.

    Within a TAL, an onset-shaped text right after an empty text starts a new
    TAL (a missing NUL terminator); texts are UTF-8 (EDF+ spec).
    """
    tals: list[tuple[float, float, list[str]]] = []
    joined = 0
    for chunk in raw.split(b"\x00"):
        if not chunk:
            continue
        parts = chunk.decode("utf-8", "replace").split("\x14")
        m = _ONSET.match(parts[0])
        if m is None:
            continue  # not a TAL (filler); the spec allows nothing else here
        cur: tuple[float, float, list[str]] = (float(m.group(1)), float(m.group(2) or 0.0), [])
        tals.append(cur)
        prev_empty = False
        for p in parts[1:]:
            m = _ONSET.match(p) if prev_empty else None
            if m is not None:
                cur = (float(m.group(1)), float(m.group(2) or 0.0), [])
                tals.append(cur)
                joined += 1
                prev_empty = False
                continue
            if p:
                cur[2].append(p)
            prev_empty = not p
    return tals, joined


def wall_to_sample_time(wall: float, gaps: list[tuple[float, float]], total: float) -> tuple[float, str]:
    """Map a wall-clock offset to the concatenated-sample time base.

    Parameters
    ----------
    wall : float
        Seconds after the first sample, on the wall clock (gaps counted).
    gaps : list of (float, float)
        (sample-time onset s, duration s), sorted, as :meth:`EdfPlusTimeline.gaps`.
    total : float
        Duration of the concatenated samples in seconds.

    Returns
    -------
    onset : float
        Sample-time onset in [0, total].
    where : str
        ``''`` (inside the samples), ``'gap'`` (inside a gap: placed at the
        gap's position), ``'before'`` or ``'after'`` the recording (clamped).
    """
    if wall < 0:
        return 0.0, "before"
    shift = 0.0
    for g, d in gaps:
        if wall < g + shift:
            break
        if wall < g + shift + d:
            return g, "gap"
        shift += d
    t = wall - shift
    return (total, "after") if t > total else (t, "")
