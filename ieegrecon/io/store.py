"""An HDF5 store of imported recordings (h5py; chunked, gzip-compressed, read lazily).

Layout (version 1; see docs/import.md)::

    /                          attrs: format='ieegrecon-store', format_version=1, ieegrecon_version
    /<entry>/                  one file or one BIDS session; attrs: source_path, source_sha256,
                               subject, session, quirks (JSON list), renamed (JSON dict)
    /<entry>/<part>/           part = 'scalp' (eeg), 'ieeg' (seeg/ecog/dbs) or 'other' (misc, ecg...)
        data                   float32 (n_channels, n_times) in volts, chunks (n_channels, <=4096), gzip 4
        ch_names, ch_types     UTF-8 strings, length n_channels
        positions              float64 (n_channels, 3) metres, NaN unknown (only if known);
                               attr coord_frame
        attrs                  sfreq, meas_date (ISO or ''), source_path, source_sha256
    /<entry>/annotations/      onset, duration (s), description (UTF-8)
    /<entry>/electrodes/       sidecar-only sessions: names, positions (MNI metres), attr coord_frame

Scalp and intracranial channels are kept apart even when one file held both.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from .. import __version__
from ..errors import InputError, OutputError
from ..recording import INTRACRANIAL_TYPES, Annotation, Recording
from .atomic import atomic_path

FORMAT = "ieegrecon-store"
FORMAT_VERSION = 1
PARTS = {"scalp": ("eeg",), "ieeg": INTRACRANIAL_TYPES, "other": ("eog", "ecg", "emg", "misc", "stim")}


def _entry_name(label: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_.-]+", "_", label).strip("_") or "recording"
    name, k = base, 1
    while name in taken:
        k += 1
        name = f"{base}_{k}"
    taken.add(name)
    return name


def _expand(items: Iterable) -> list[tuple[str, dict]]:
    """Inputs -> (label, {'recordings': {...}, 'meta': {...}}) entries."""
    from .bids import find_sessions, read_bids_session
    from .read import read_recording

    out = []
    for it in items:
        if isinstance(it, Recording):
            label = Path(it.source_path).stem if it.source_path else "recording"
            out.append((label, dict(recs=[it], meta=dict(source_path=it.source_path or "",
                                                         source_sha256=it.source_sha256 or ""),
                                    quirks=list(it.quirks), renamed=dict(it.renamed), electrodes=None)))
            continue
        p = Path(it)
        if p.is_dir():
            for ses in find_sessions(p):
                s = read_bids_session(ses)
                recs = [r for r in (s.scalp, s.ieeg) if r is not None]
                renamed = {}
                for r in recs:
                    renamed.update(r.renamed)
                label = f"sub-{s.subject}" + (f"_ses-{s.session}" if s.session else "")
                out.append((label, dict(recs=recs, meta=dict(source_path=str(ses), subject=s.subject,
                                                             session=s.session),
                                        quirks=s.quirks, renamed=renamed,
                                        electrodes=s.electrodes if s.ieeg is None else None)))
        else:
            r = read_recording(p)
            out.append((p.stem, dict(recs=[r], meta=dict(source_path=str(p), source_sha256=r.source_sha256 or ""),
                                     quirks=list(r.quirks), renamed=dict(r.renamed), electrodes=None)))
    return out


def _write_part(g, rec: Recording) -> None:
    import h5py

    n, t = rec.data.shape
    g.create_dataset("data", data=rec.data.astype(np.float32), chunks=(max(n, 1), min(max(t, 1), 4096)),
                     compression="gzip", compression_opts=4, shuffle=True)
    sdt = h5py.string_dtype("utf-8")
    g.create_dataset("ch_names", data=np.array(rec.ch_names, dtype=object), dtype=sdt)
    g.create_dataset("ch_types", data=np.array(rec.ch_types, dtype=object), dtype=sdt)
    if rec.positions is not None:
        d = g.create_dataset("positions", data=rec.positions)
        d.attrs["coord_frame"] = rec.coord_frame
    g.attrs["sfreq"] = rec.sfreq
    g.attrs["meas_date"] = rec.meas_date.isoformat() if rec.meas_date else ""
    g.attrs["source_path"] = rec.source_path or ""
    g.attrs["source_sha256"] = rec.source_sha256 or ""


def write_store(recordings_or_paths: Iterable, out_path: str | Path, *, overwrite: bool = False) -> Path:
    """Write recordings (or files / BIDS roots read on the fly) to one HDF5 store.

    Parameters
    ----------
    recordings_or_paths : iterable of Recording or path-like
        Recordings; signal files (:func:`~ieegrecon.io.read.read_recording`);
        BIDS roots or session folders (every session, scalp and iEEG).
    out_path : path-like
        ``.h5`` output, written to a temporary file in the same folder and renamed.
    overwrite : bool
        Replace an existing store.

    Returns
    -------
    Path

    Raises
    ------
    OutputError
        Output exists without ``overwrite``, folder missing, or output is an input.
    InputError
        An input cannot be read, or nothing to import.
    """
    import h5py

    from .._checks import check_out_path, input_bytes

    out = Path(out_path)
    items = list(recordings_or_paths)
    srcs = [it.source_path if isinstance(it, Recording) else it for it in items]
    if not out.parent.is_dir():
        raise OutputError("output folder does not exist", out.parent)
    check_out_path(out, overwrite=overwrite, inputs=srcs, kind="hdf5")
    entries = _expand(items)
    if not entries:
        raise InputError("nothing to import")
    # h5py may crash on a full disk: check the room (about 2x the inputs' bytes) before it writes
    check_out_path(out, overwrite=overwrite, inputs=srcs, kind="hdf5", need_bytes=2 * input_bytes(srcs))
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["format"] = FORMAT
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["ieegrecon_version"] = __version__
        taken: set[str] = set()
        for label, e in entries:
            g = f.create_group(_entry_name(label, taken))
            for k, v in e["meta"].items():
                g.attrs[k] = v
            g.attrs["quirks"] = json.dumps(e["quirks"])
            g.attrs["renamed"] = json.dumps(e["renamed"])
            anns: list[Annotation] = []
            for rec in e["recs"]:
                anns += rec.annotations
                for part, types in PARTS.items():
                    names = [n for n, t in zip(rec.ch_names, rec.ch_types) if t in types]
                    if names:
                        if part in g:  # a BIDS session has one scalp and one ieeg file
                            part = f"{part}_{len([k for k in g if k.startswith(part)]) + 1}"
                        _write_part(g.create_group(part), rec.pick(names))
            if anns:
                a = g.create_group("annotations")
                a.create_dataset("onset", data=np.array([x.onset for x in anns]))
                a.create_dataset("duration", data=np.array([x.duration for x in anns]))
                a.create_dataset("description", data=np.array([x.description for x in anns], dtype=object),
                                 dtype=h5py.string_dtype("utf-8"))
            el = e["electrodes"]
            if el is not None:
                eg = g.create_group("electrodes")
                eg.create_dataset("names", data=np.array(el.names, dtype=object), dtype=h5py.string_dtype())
                eg.create_dataset("positions", data=el.positions)
                eg.attrs["coord_frame"] = el.coord_frame
    return out


class Store:
    """A read-only, lazy view of a store written by :func:`write_store`.

    ``store.entries`` lists entry names; ``store.data(entry, part)`` is the
    h5py dataset (sliced lazily, volts); ``store.recording(entry, part)``
    loads one part as a :class:`Recording`. Use as a context manager.
    """

    def __init__(self, path: str | Path) -> None:
        import h5py

        self.path = Path(path)
        try:
            self._f = h5py.File(self.path, "r")
        except (OSError, ValueError) as exc:
            raise InputError(f"not a readable HDF5 store ({exc})", self.path) from None
        if self._f.attrs.get("format") != FORMAT:
            self._f.close()
            raise InputError("not an ieegrecon store (missing format attribute)", self.path)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the file."""
        self._f.close()

    @property
    def entries(self) -> list[str]:
        """Entry names (one per imported file or BIDS session)."""
        return list(self._f.keys())

    def parts(self, entry: str) -> list[str]:
        """Signal parts of an entry ('scalp', 'ieeg', 'other')."""
        return [k for k in self._f[entry] if "data" in self._f[entry][k]]

    def quirks(self, entry: str) -> list[str]:
        """Quirks recorded at import."""
        return json.loads(self._f[entry].attrs["quirks"])

    def renamed(self, entry: str) -> dict:
        """Original -> normalized labels recorded at import."""
        return json.loads(self._f[entry].attrs["renamed"])

    def data(self, entry: str, part: str = "scalp"):
        """The lazy h5py dataset, shape (n_channels, n_times), volts."""
        return self._f[entry][part]["data"]

    def group(self, entry: str):
        """The raw h5py group of an entry."""
        return self._f[entry]

    def recording(self, entry: str, part: str = "scalp") -> Recording:
        """Load one part into memory as a :class:`Recording`."""
        g = self._f[entry][part]
        pos = g["positions"][()] if "positions" in g else None
        frame = g["positions"].attrs["coord_frame"] if "positions" in g else "unknown"
        md = g.attrs.get("meas_date", "")
        ann = []
        if "annotations" in self._f[entry]:
            a = self._f[entry]["annotations"]
            ann = [Annotation(float(o), float(d), s.decode() if isinstance(s, bytes) else str(s))
                   for o, d, s in zip(a["onset"][()], a["duration"][()], a["description"][()])]
        return Recording(
            data=g["data"][()].astype(np.float64), sfreq=float(g.attrs["sfreq"]),
            ch_names=[s.decode() for s in g["ch_names"][()]], ch_types=[s.decode() for s in g["ch_types"][()]],
            positions=pos, coord_frame=str(frame), annotations=ann,
            meas_date=_dt.datetime.fromisoformat(md) if md else None,
            source_path=g.attrs.get("source_path") or None, source_sha256=g.attrs.get("source_sha256") or None,
            renamed=self.renamed(entry), quirks=self.quirks(entry),
        )


def open_store(path: str | Path) -> Store:
    """Open a store for lazy reading (see :class:`Store`).

    Raises
    ------
    InputError
        Missing, unreadable, or not an ieegrecon store.
    """
    if not Path(path).is_file():
        raise InputError("no such file", path)
    return Store(path)
