"""Posterior bands: those of ``reconstruct --samples``, coverage per contact, region and depth class, the sidecar.

A band ``[lo, hi]`` at nominal level ``q[1] - q[0]`` is *calibrated* when
that fraction of true samples falls inside it (the empirical coverage of
conformal prediction; Angelopoulos & Bates 2021, "A gentle introduction to
conformal prediction"). The sidecar is an HDF5 file (h5py) written
atomically next to a reconstruction.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np

from ..io.atomic import atomic_path
from ..models.base import ContactInfo, ReconModel

#: Quantiles of the uncertainty band written by ``reconstruct --samples``.
BAND_Q = (0.05, 0.95)

#: Format version of the uncertainty sidecar. 2 added the ``offsets`` layout (exact bands as a constant
#: offset per contact from the EDF's trace, :func:`write_band_offsets_h5`); version-1 files hold arrays.
UNCERTAINTY_FORMAT = 2


#: HDF5 filters of the band datasets: byte shuffle + gzip level 1 (standard HDF5 filters, readable by
#: any HDF5 reader). On 10 min of 48 contacts' bands: 0.36 s and 83 % of the raw size, against gzip
#: level 4's 0.67 s and 92 % (session 13, docs/results.md); lossless, so the values are unchanged.
H5_FILTERS = {"compression": "gzip", "compression_opts": 1, "shuffle": True}


def band_function(model: ReconModel, samples: int):
    """The per-chunk band function of ``--samples``: 5 %, 50 % and 95 % quantiles of the posterior.

    Exact for a model with ``exact_bands`` (``ridge-gauss``: closed form, no draws, the seed unused);
    otherwise the quantiles of ``samples`` draws.

    Each call (one per processing chunk, in time order) draws with the next seed (0, 1, 2, ...), so
    the draws of consecutive chunks are independent: with one fixed seed every chunk repeated the
    same noise (the band width of a 10-min flow reconstruction correlated 0.9996 with itself one
    120-s chunk later). Deterministic for a given input and chunking.

    Returns
    -------
    callable
        ``band(x)`` with ``x`` the preprocessed scalp (n_channels, n_times) -> array of shape
        (3, n_contacts, n_times), volts.
    """
    seeds = itertools.count()
    levels = (BAND_Q[0], 0.5, BAND_Q[1])
    return lambda x: model.posterior(x, n_samples=samples, seed=next(seeds)).quantiles(levels)  # type: ignore


def band_description(model: ReconModel, samples: int) -> str:
    """What the EDF and the band of ``--samples`` hold, in words (result notes, the sidecar's ``bands``)."""
    if model.exact_bands:
        return (f"posterior median in the EDF (= the point estimate); bands: exact quantiles of {model.method}'s "
                "Gaussian posterior (closed form, no draws): the EDF's trace plus a constant offset per contact")
    return f"posterior median of {samples} samples in the EDF; bands: quantiles of the same {samples} draws"


def coverage(y_true: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Fraction of true samples inside the band, per contact.

    Parameters
    ----------
    y_true, lo, hi : ndarray, shape (n_contacts, n_times)
        True signal and band limits (same unit, e.g. volts).

    Returns
    -------
    cov : ndarray, shape (n_contacts,)
        In [0, 1]; bounds are inclusive.

    Raises
    ------
    ValueError
        If the shapes differ or are not 2-D.
    """
    y_true, lo, hi = (np.asarray(a, float) for a in (y_true, lo, hi))
    if y_true.ndim != 2 or y_true.shape != lo.shape or y_true.shape != hi.shape:
        raise ValueError(f"y_true, lo and hi must share one 2-D shape, got {y_true.shape}, {lo.shape}, {hi.shape}")
    return np.mean((y_true >= lo) & (y_true <= hi), axis=1)


def coverage_summary(y_true: np.ndarray, lo: np.ndarray, hi: np.ndarray, contacts: ContactInfo) -> dict[str, Any]:
    """Coverage overall, per depth class and per region.

    Parameters
    ----------
    y_true, lo, hi : ndarray, shape (n_contacts, n_times)
    contacts : ContactInfo
        Supplies ``regions`` and ``depth_class`` of the rows.

    Returns
    -------
    summary : dict
        ``{'overall': float, 'per_contact': {name: float}, 'depth_class': {cls: float},
        'region': {region: float}, 'n_contacts': {'depth_class': {...}, 'region': {...}}}``;
        group values are the mean over samples of the group's contacts.
    """
    cov = coverage(y_true, lo, hi)
    if len(cov) != len(contacts.ch_names):
        raise ValueError(f"{len(cov)} rows but {len(contacts.ch_names)} contacts")
    out: dict[str, Any] = {"overall": float(cov.mean()),
                           "per_contact": {n: float(c) for n, c in zip(contacts.ch_names, cov)},
                           "depth_class": {}, "region": {}, "n_contacts": {"depth_class": {}, "region": {}}}
    for key, labels in (("depth_class", contacts.depth_class), ("region", contacts.regions)):
        labels = np.asarray(labels, dtype=str)
        for g in sorted(set(labels)):
            sel = labels == g
            out[key][g] = float(cov[sel].mean())
            out["n_contacts"][key][g] = int(sel.sum())
    return out


def write_uncertainty_h5(path: str | Path, lo: np.ndarray, hi: np.ndarray, median: np.ndarray, sfreq: float,
                         ch_names: list[str], q: tuple[float, float], bands: str | None = None) -> Path:
    """Write posterior bands to an HDF5 sidecar, atomically.

    Layout: datasets ``lo``, ``median``, ``hi`` (float32, volts, shape
    (n_contacts, n_times)), ``ch_names`` (UTF-8 strings); attributes
    ``sfreq`` (Hz), ``q`` (the two quantile levels), ``unit='V'``,
    ``format_version``, ``layout='arrays'`` and, when given, ``bands`` (how
    they were computed).

    Parameters
    ----------
    path : path-like
        Target ``.h5`` file; its folder must exist.
    lo, hi, median : ndarray, shape (n_contacts, n_times) | row source
        Volts; a row source (``row_source = True``, ``[i]`` reads contact
        ``i``, e.g. :class:`~ieegrecon.io.edf_stream.SpillRows`) is written one
        contact at a time.
    sfreq : float
    ch_names : list of str, length n_contacts
    q : (float, float)
    bands : str | None
        How the bands were computed, in words (exact Gaussian quantiles, or quantiles of K draws).

    Returns
    -------
    path : Path

    Raises
    ------
    ValueError
        Inconsistent shapes or names.
    """
    import h5py

    lo, hi, median = (a if getattr(a, "row_source", False) else np.asarray(a, np.float32) for a in (lo, hi, median))
    if len(lo.shape) != 2 or lo.shape != hi.shape or lo.shape != median.shape:
        raise ValueError(f"lo, median and hi must share one 2-D shape, got {lo.shape}, {median.shape}, {hi.shape}")
    if len(ch_names) != lo.shape[0]:
        raise ValueError(f"{len(ch_names)} channel names for {lo.shape[0]} rows")
    path = Path(path)
    # the HDF5 file is closed before atomic_path fsyncs and renames it
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        for name, arr in (("lo", lo), ("median", median), ("hi", hi)):
            if isinstance(arr, np.ndarray):
                f.create_dataset(name, data=arr, **H5_FILTERS)
                continue
            # a row source (spilled bands): one contact at a time, same layout and values
            d = f.create_dataset(name, shape=arr.shape, dtype=np.float32, **H5_FILTERS)
            for i in range(arr.shape[0]):
                d[i] = np.asarray(arr[i], np.float32)
        _common_attrs(f, ch_names, sfreq, q, bands, "arrays")
    return path


def _common_attrs(f: Any, ch_names: list[str], sfreq: float, q: tuple[float, float], bands: str | None,
                  layout: str) -> None:
    import h5py

    f.create_dataset("ch_names", data=np.array([str(n) for n in ch_names], dtype=h5py.string_dtype()))
    f.attrs["sfreq"] = float(sfreq)
    f.attrs["q"] = np.asarray(q, float)
    f.attrs["unit"] = "V"
    f.attrs["format_version"] = UNCERTAINTY_FORMAT
    f.attrs["layout"] = layout
    if bands is not None:
        f.attrs["bands"] = str(bands)


def write_band_offsets_h5(path: str | Path, offsets: np.ndarray, sfreq: float, ch_names: list[str],
                          q: tuple[float, float], *, edf: str | Path, n_times: int,
                          gaps: list[tuple[float, float]] = (), n_clipped: np.ndarray | None = None,
                          bands: str | None = None) -> Path:
    """Write exact bands as offsets from the EDF's trace to an HDF5 sidecar, atomically.

    For a posterior whose quantiles are the point estimate plus a constant per
    contact (``ridge-gauss``'s Gaussian,
    :meth:`~ieegrecon.models.base.ReconModel.band_offsets`), the band of any
    length is ``trace + offsets``, with the trace (the median) the EDF's: a
    sidecar of a few kilobytes at 24 h, instead of three float32 arrays
    (415 MB per hour of 48 contacts). The EDF's 16-bit quantization enters the
    band limits read back: within one step, which is 0.016 SD of the
    calibration iEEG for a streamed EDF (``STREAM_RANGE_SCALE``) and much less
    for one written at each channel's extremes; the offsets themselves are
    float64.

    Layout: datasets ``offsets`` (float64, volts, shape (2, n_contacts), the
    two levels of ``q``), ``ch_names``, ``gaps`` (shape (n_gaps, 2): onset and
    duration in s, on the output's time base, of each zero-filled gap, where
    the band is undefined and read back as zero width) and ``n_clipped``
    (samples of each contact clipped to the EDF's physical range: there the
    band is around the clipped trace); attributes ``layout='offsets'``,
    ``edf`` (the EDF's file name, in the same folder), ``edf_sha256`` (the
    EDF's content, checked on reading: a sidecar never rebuilds bands around
    another reconstruction's trace), ``n_times`` and those of
    :func:`write_uncertainty_h5`.

    Parameters
    ----------
    path : path-like
        Target ``.h5`` file; its folder must exist.
    offsets : ndarray, shape (2, n_contacts)
        Volts; ``offsets[0] <= 0 <= offsets[1]``.
    sfreq : float
    ch_names : list of str, length n_contacts
    q : (float, float)
    edf : path-like
        The written EDF holding the trace, beside the sidecar (its name is stored, its sha256 computed).
    n_times : int
        Samples of the reconstruction (the EDF may pad its last record).
    gaps : list of (float, float)
    n_clipped : ndarray of int, shape (n_contacts,) | None
        Clipped samples per contact (None: none).
    bands : str | None
        How the bands were computed, in words.

    Returns
    -------
    path : Path

    Raises
    ------
    ValueError
        Inconsistent shapes or names, offsets on the wrong side of zero, or an
        EDF that is not a file in the sidecar's folder.
    """
    import h5py

    from ..recording import sha256_file

    offsets = np.asarray(offsets, float)
    if offsets.shape != (2, len(ch_names)):
        raise ValueError(f"offsets must have shape (2, {len(ch_names)}), got {offsets.shape}")
    if not (np.all(offsets[0] <= 0) and np.all(offsets[1] >= 0)):
        raise ValueError("the lower offsets must be <= 0 and the upper ones >= 0")
    path, edf = Path(path), Path(edf)
    if not edf.is_file() or edf.resolve().parent != path.resolve().parent:
        raise ValueError(f"the EDF must be a written file beside the sidecar, got {edf}")
    clipped = np.zeros(len(ch_names), np.int64) if n_clipped is None else np.asarray(n_clipped, np.int64)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("offsets", data=offsets)
        f.create_dataset("gaps", data=np.asarray(list(gaps), float).reshape(-1, 2))  # any number (attributes: 64 kB)
        f.create_dataset("n_clipped", data=clipped)
        _common_attrs(f, ch_names, sfreq, q, bands, "offsets")
        f.attrs["edf"] = edf.name
        f.attrs["edf_sha256"] = sha256_file(edf)
        f.attrs["n_times"] = int(n_times)
    return path


def read_uncertainty_h5(path: str | Path, arrays: bool = True, start: int = 0, stop: int | None = None,
                        edf: str | Path | None = None) -> dict[str, Any]:
    """Read an uncertainty sidecar (:func:`write_uncertainty_h5` or :func:`write_band_offsets_h5`).

    Parameters
    ----------
    path : path-like
    arrays : bool
        For an ``offsets`` sidecar: also read the EDF beside it (pyedflib),
        check that it is the one the sidecar was written with (sha256), and
        return the bands as arrays (``median`` = the EDF's trace, ``lo``/``hi``
        = trace + offsets, zero width in the gaps). False: the offsets only.
    start, stop : int, int | None
        Samples ``[start, stop)`` of the arrays (None: to the end). Whole
        arrays of a 24-h band of 48 contacts take 10 GB: read it an hour at a time.
    edf : path-like | None
        The EDF of an ``offsets`` sidecar, where it was moved or renamed
        (None: the name stored in the sidecar, in its folder).

    Returns
    -------
    dict
        ``lo``, ``median``, ``hi`` (float32, volts, shape (n_contacts,
        n_times); absent when ``arrays`` is False for an ``offsets`` sidecar),
        ``ch_names``, ``sfreq``, ``q``, ``bands`` and ``layout`` (``'arrays'``
        or ``'offsets'``); an ``offsets`` sidecar adds ``offsets`` (2,
        n_contacts) volts, ``edf`` (its path), ``gaps`` and ``n_clipped``.

    Raises
    ------
    ValueError
        The EDF of an ``offsets`` sidecar is missing, is not the one it was
        written with, or does not hold its contacts, rate and samples in µV.
    """
    sl = slice(int(start), None if stop is None else int(stop))
    import h5py

    path = Path(path)
    with h5py.File(path, "r") as f:
        out: dict[str, Any] = {
            "ch_names": [s.decode() if isinstance(s, bytes) else str(s) for s in f["ch_names"][()]],
            "sfreq": float(f.attrs["sfreq"]), "q": tuple(float(v) for v in f.attrs["q"]),
            "bands": str(f.attrs.get("bands", "")), "layout": str(f.attrs.get("layout", "arrays"))}
        if out["layout"] == "arrays":
            out.update(lo=f["lo"][:, sl], median=f["median"][:, sl], hi=f["hi"][:, sl])
            return out
        out.update(offsets=f["offsets"][()], edf=Path(edf) if edf is not None else path.parent / str(f.attrs["edf"]),
                   gaps=[(float(a), float(b)) for a, b in f["gaps"][()]], n_clipped=f["n_clipped"][()])
        n_times, digest = int(f.attrs["n_times"]), str(f.attrs["edf_sha256"])
    if arrays:
        a0, b0, _ = sl.indices(n_times)
        med = _edf_trace(out["edf"], digest, out["ch_names"], out["sfreq"], n_times, a0, max(a0, b0), path)
        off = out["offsets"].astype(np.float32)
        lo, hi = med + off[0][:, None], med + off[1][:, None]
        for onset, dur in out["gaps"]:  # zero fill, no band (as in an 'arrays' sidecar)
            a = max(0, int(round(onset * out["sfreq"])) - a0)
            b = max(0, int(round((onset + dur) * out["sfreq"])) - a0)
            lo[:, a:b] = hi[:, a:b] = med[:, a:b]
        out.update(lo=lo, median=med, hi=hi)
    return out


def _edf_trace(edf: Path, digest: str, ch_names: list[str], sfreq: float, n_times: int, start: int, stop: int,
               sidecar: Path) -> np.ndarray:
    """Samples ``[start, stop)`` of the reconstruction in the EDF of an ``offsets`` sidecar, float32 volts."""
    import pyedflib

    from ..io.edf import strip_surrogate_label
    from ..io.edf_verify import read_signals
    from ..recording import sha256_file

    if not edf.is_file():
        raise ValueError(f"{sidecar}: the EDF holding the bands' median is missing ({edf}); pass edf= if it moved")
    if sha256_file(edf) != digest:
        raise ValueError(f"{sidecar}: {edf.name} is not the EDF these bands were written with (sha256 differs)")
    with pyedflib.EdfReader(str(edf)) as r:
        n = r.signals_in_file
        labels = [strip_surrogate_label(lab) for lab in r.getSignalLabels()]
        if (labels != list(ch_names) or r.getNSamples().min(initial=n_times) < n_times
                or any(r.getPhysicalDimension(i) not in ("uV", "µV") or r.getSampleFrequency(i) != sfreq
                       for i in range(n))):
            raise ValueError(f"{sidecar}: {edf.name} does not hold the sidecar's contacts, in µV at {sfreq:g} Hz")
        ranges = [(r.getPhysicalMinimum(i), r.getPhysicalMaximum(i), r.getDigitalMinimum(i), r.getDigitalMaximum(i))
                  for i in range(n)]
    return read_signals(edf, ranges, start, stop, scale=1e-6, dtype=np.float32)  # µV -> V


def heldout_coverage(model: Any, seg: Any, seed: int, bounds: list[tuple[int, int]] | None = None, *,
                     n_samples: int = 32, q: tuple[float, float] = (0.05, 0.95)) -> np.ndarray:
    """Fraction of the held-out iEEG samples inside the model's ``q`` posterior band, per contact.

    Parameters
    ----------
    model : ReconModel
        A calibrated model with ``posterior`` (``supports_posterior``).
    seg : PairedSegment
        Held-out scalp EEG and iEEG, volts.
    seed : int
        Seed of the draws.
    bounds : list of (int, int) | None
        The segment's pieces (trials): in pieces the bands are drawn piece by
        piece (:func:`~ieegrecon.workflow.pieces.piece_chunks`), so no draw's
        context reaches into another trial; None or one piece: one call.
    n_samples : int
        Posterior draws.
    q : (float, float)
        Band quantiles.

    Returns
    -------
    ndarray, shape (n_contacts,)
    """
    from .pieces import piece_chunks

    qs = (q[0], 0.5, q[1])
    if not bounds or len(bounds) <= 1:
        lo, _, hi = model.posterior(seg.scalp, n_samples=n_samples, seed=seed).quantiles(qs)
        return coverage(seg.ieeg, lo, hi)
    lo, hi = np.empty_like(seg.ieeg), np.empty_like(seg.ieeg)
    for i, (a, b, context, keep) in enumerate(piece_chunks(seg.scalp, seg.sfreq, bounds)):
        # a seed per piece: with one seed every trial would get the same draws
        q_lo, _, q_hi = model.posterior(context, n_samples=n_samples, seed=seed + i).quantiles(qs)
        lo[:, a:b], hi[:, a:b] = q_lo[:, keep], q_hi[:, keep]
    return coverage(seg.ieeg, lo, hi)
