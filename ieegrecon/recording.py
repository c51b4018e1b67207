"""The canonical in-memory recording that every reader produces.

A :class:`Recording` is deliberately small: an array in volts, its sampling
rate, channel names and types, optional contact positions, annotations and
provenance. Readers (:mod:`ieegrecon.io`) build it through MNE / mne-bids;
models never see it, only arrays cut from it by the pipeline.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

#: Channel types a Recording may carry (MNE's names).
CH_TYPES = ("eeg", "seeg", "ecog", "dbs", "eog", "ecg", "emg", "misc", "stim")
#: Types that count as intracranial contacts.
INTRACRANIAL_TYPES = ("seeg", "ecog", "dbs")
#: Coordinate frames a position may be given in.
COORD_FRAMES = ("mni", "head", "mri", "unknown")


@dataclass(frozen=True)
class Annotation:
    """One annotation: onset and duration in seconds from the recording start.

    ``onset`` is on the sample time base (seconds into the concatenated
    samples); ``wall_onset`` is the true wall-clock offset from the first
    sample when it differs (after a gap of an EDF+D file), else None.
    """

    onset: float
    duration: float
    description: str
    wall_onset: float | None = None

    @property
    def wall(self) -> float:
        """Wall-clock onset in seconds from the first sample."""
        return self.onset if self.wall_onset is None else self.wall_onset


class LazyData:
    """A (n_channels, n_times) view of an MNE ``Raw`` that reads only what is sliced.

    Indexing with channels only (``data[idx]``) gives another view; indexing
    with a time slice (``data[:, a:b]`` or ``data[idx, a:b]``) reads those
    samples from disk (volts) through ``raw.get_data``. Used for long
    recordings so that memory stays bounded by one chunk.
    """

    ndim = 2

    def __init__(self, raw, picks=None) -> None:
        self._raw = raw
        self._picks = np.arange(len(raw.ch_names)) if picks is None else np.asarray(picks, dtype=int)

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self._picks), int(self._raw.n_times))

    def __getitem__(self, key):
        ch, t = key if isinstance(key, tuple) else (key, None)
        picks = self._picks[ch] if not (isinstance(ch, slice) and ch == slice(None)) else self._picks
        picks = np.atleast_1d(picks)
        if t is None:
            return LazyData(self._raw, picks)
        start, stop, step = t.indices(self.shape[1])
        if step != 1:
            raise IndexError("LazyData supports contiguous time slices only")
        return self._raw.get_data(picks=picks, start=start, stop=max(start, stop))

    def __array__(self, dtype=None, copy=None):
        out = self._raw.get_data(picks=self._picks)
        return out if dtype is None else out.astype(dtype)


@dataclass
class Recording:
    """A multichannel recording in SI units.

    Parameters
    ----------
    data : ndarray | LazyData, shape (n_channels, n_times)
        Samples in volts (V); a :class:`LazyData` view for lazily read files.
    sfreq : float
        Sampling frequency in Hz.
    ch_names : list of str, length n_channels
        Channel names after normalization (see ``renamed`` for the originals).
    ch_types : list of str, length n_channels
        One of :data:`CH_TYPES` per channel.
    positions : ndarray, shape (n_channels, 3) | None
        Contact / electrode positions in metres, NaN where unknown.
    coord_frame : str
        Frame of ``positions``: ``'mni'`` (MNI template space), ``'head'``,
        ``'mri'`` (the subject's own MRI) or ``'unknown'``.
    annotations : list of Annotation
        Events and markers.
    meas_date : datetime | None
        Start date/time of the recording (UTC-aware or naive local time).
    source_path : str | None
        File or folder the recording was read from.
    source_sha256 : str | None
        SHA-256 of ``source_path`` when it is a file.
    renamed : dict
        Original label -> normalized label, for every label that changed.
    quirks : list of str
        Human-readable notes on anything unusual found while reading.
    bads : dict
        Channel -> reason, for channels found flat or saturated by the reader.
    gaps : list of (float, float)
        Recording gaps (EDF+D): (onset in s on the sample time base, i.e. the
        position in ``data`` where samples resume, duration in s of wall-clock
        time missing there). Sorted; empty for a continuous recording.
    boundaries : list of float
        Trial boundaries of an epoched recording (trials joined end to end, as
        in OpenNeuro ds004752): seconds on the sample time base where a new trial
        starts (0 excluded). Like a gap, nothing is continuous across one
        (:meth:`segments` cuts there), but no wall-clock time is known to be missing.
    channel_notes : dict
        Channel -> clinical designation from a BIDS channels.tsv ``status_description``
        (``'seizure-onset zone, resected'``).
    """

    data: np.ndarray
    sfreq: float
    ch_names: list[str]
    ch_types: list[str]
    positions: np.ndarray | None = None
    coord_frame: str = "unknown"
    annotations: list[Annotation] = field(default_factory=list)
    meas_date: _dt.datetime | None = None
    source_path: str | None = None
    source_sha256: str | None = None
    renamed: dict[str, str] = field(default_factory=dict)
    quirks: list[str] = field(default_factory=list)
    bads: dict[str, str] = field(default_factory=dict)
    gaps: list[tuple[float, float]] = field(default_factory=list)
    boundaries: list[float] = field(default_factory=list)
    channel_notes: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.data, LazyData):
            self.data = np.asarray(self.data)
        if self.data.ndim != 2:
            raise ValueError(f"data must be 2-D (n_channels, n_times), got shape {self.data.shape}")
        n = self.data.shape[0]
        if len(self.ch_names) != n or len(self.ch_types) != n:
            raise ValueError(
                f"{n} channels in data but {len(self.ch_names)} names and {len(self.ch_types)} types"
            )
        if len(set(self.ch_names)) != n:
            dup = sorted({c for c in self.ch_names if self.ch_names.count(c) > 1})
            raise ValueError(f"duplicate channel names: {dup}")
        bad = sorted(set(self.ch_types) - set(CH_TYPES))
        if bad:
            raise ValueError(f"unknown channel types {bad}; allowed: {CH_TYPES}")
        if self.coord_frame not in COORD_FRAMES:
            raise ValueError(f"coord_frame must be one of {COORD_FRAMES}, got {self.coord_frame!r}")
        if self.positions is not None:
            self.positions = np.asarray(self.positions, dtype=float)
            if self.positions.shape != (n, 3):
                raise ValueError(f"positions must have shape ({n}, 3), got {self.positions.shape}")
        if not self.sfreq > 0:
            raise ValueError(f"sfreq must be positive, got {self.sfreq}")

    @property
    def n_times(self) -> int:
        """Number of samples per channel."""
        return int(self.data.shape[1])

    @property
    def duration(self) -> float:
        """Duration in seconds."""
        return self.n_times / self.sfreq

    @property
    def gap_total(self) -> float:
        """Seconds of wall-clock time missing in gaps."""
        return float(sum(d for _, d in self.gaps))

    def wall_time(self, t: float) -> float:
        """Wall-clock offset (s from the first sample) of sample time ``t`` (s), gaps counted."""
        return t + sum(d for g, d in self.gaps if g <= t + 1e-9)

    def segments(self) -> list[tuple[int, int]]:
        """Contiguous runs of samples between gaps and trial boundaries, as [(start, stop)) sample indices."""
        cuts = sorted({int(round(g * self.sfreq)) for g, _ in self.gaps}
                      | {int(round(b * self.sfreq)) for b in self.boundaries})
        bounds = [0] + [c for c in cuts if 0 < c < self.n_times] + [self.n_times]
        return [(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]

    def pick(self, names: list[str]) -> "Recording":
        """Return a copy restricted to ``names``, in that order.

        Raises
        ------
        KeyError
            If a name is not in :attr:`ch_names`.
        """
        idx = [self.ch_names.index(n) for n in names]
        return replace(
            self,
            data=self.data[idx],
            ch_names=[self.ch_names[i] for i in idx],
            ch_types=[self.ch_types[i] for i in idx],
            positions=None if self.positions is None else self.positions[idx],
        )

    def pick_types(self, types: tuple[str, ...] | list[str]) -> "Recording":
        """Return a copy with only the channels whose type is in ``types``."""
        return self.pick([n for n, t in zip(self.ch_names, self.ch_types) if t in types])

    def crop(self, tmin: float = 0.0, tmax: float | None = None) -> "Recording":
        """Return a copy cut to ``[tmin, tmax)`` seconds; annotations and gaps are shifted."""
        start = int(round(tmin * self.sfreq))
        stop = self.n_times if tmax is None else min(self.n_times, int(round(tmax * self.sfreq)))
        w0 = self.wall_time(tmin)
        ann = [
            Annotation(a.onset - tmin, a.duration, a.description,
                       None if a.wall_onset is None else a.wall_onset - w0)
            for a in self.annotations
            if tmin <= a.onset < (stop / self.sfreq)
        ]
        gaps = [(g - tmin, d) for g, d in self.gaps if tmin < g < stop / self.sfreq]
        bounds = [b - tmin for b in self.boundaries if tmin < b < stop / self.sfreq]
        return replace(self, data=self.data[:, start:stop], annotations=ann, gaps=gaps, boundaries=bounds)


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Return the hex SHA-256 of a file, read in chunks (read-only)."""
    h = hashlib.sha256()
    with open(path, "rb") as fid:
        for block in iter(lambda: fid.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def concatenate(recs: list["Recording"]) -> "Recording":
    """Recordings of one patient joined end to end (pooled sessions), with a boundary at each join.

    Every recording must have the same channels (names and types, in order)
    and rate. Gaps, boundaries and annotations are shifted onto the joined
    sample time base; a boundary (not a gap: the time between sessions is not
    recorded) marks each join, so nothing is filtered or lagged across it.
    Positions, names and provenance (``source_path``, ``source_sha256``) come
    from the first recording; a quirk names them all.

    Raises
    ------
    ValueError
        Different channels or rates.
    """
    first = recs[0]
    for r in recs[1:]:
        if r.ch_names != first.ch_names or r.ch_types != first.ch_types or abs(r.sfreq - first.sfreq) > 1e-9:
            raise ValueError("recordings to join differ in channels or sampling rate")
    data, gaps, bounds, anns, bads, notes = [], [], [], [], {}, {}
    t0 = 0.0
    for k, r in enumerate(recs):
        data.append(np.asarray(r.data))
        gaps += [(t0 + g, d) for g, d in r.gaps]
        bounds += ([t0] if k else []) + [t0 + b for b in r.boundaries]
        anns += [Annotation(a.onset + t0, a.duration, a.description) for a in r.annotations]
        bads.update(r.bads)
        notes.update(r.channel_notes)
        t0 += r.n_times / r.sfreq
    return replace(first, data=np.concatenate(data, axis=1), gaps=gaps, boundaries=bounds, annotations=anns,
                   bads=bads, channel_notes=notes,
                   quirks=list(dict.fromkeys(q for r in recs for q in r.quirks))
                   + [f"{len(recs)} recordings pooled end to end (a boundary at each join): "
                      + " + ".join(Path(str(r.source_path)).name for r in recs)])
