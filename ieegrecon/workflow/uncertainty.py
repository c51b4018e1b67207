"""Posterior bands: coverage per contact, region and depth class; the uncertainty sidecar.

A band ``[lo, hi]`` at nominal level ``q[1] - q[0]`` is *calibrated* when
that fraction of true samples falls inside it (the empirical coverage of
conformal prediction; Angelopoulos & Bates 2021, "A gentle introduction to
conformal prediction"). The sidecar is an HDF5 file (h5py) written
atomically next to a reconstruction.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..io.atomic import atomic_path
from ..models.base import ContactInfo

#: Format version of the uncertainty sidecar.
UNCERTAINTY_FORMAT = 1


#: HDF5 filters of the band datasets: byte shuffle + gzip level 1 (standard HDF5 filters, readable by
#: any HDF5 reader). On 10 min of 48 contacts' bands: 0.36 s and 83 % of the raw size, against gzip
#: level 4's 0.67 s and 92 % (session 13, docs/results.md); lossless, so the values are unchanged.
H5_FILTERS = {"compression": "gzip", "compression_opts": 1, "shuffle": True}


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
    ``format_version`` and, when given, ``bands`` (how they were computed).

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
        f.create_dataset("ch_names", data=np.array([str(n) for n in ch_names], dtype=h5py.string_dtype()))
        f.attrs["sfreq"] = float(sfreq)
        f.attrs["q"] = np.asarray(q, float)
        f.attrs["unit"] = "V"
        f.attrs["format_version"] = UNCERTAINTY_FORMAT
        if bands is not None:
            f.attrs["bands"] = str(bands)
    return path


def read_uncertainty_h5(path: str | Path) -> dict[str, Any]:
    """Read a sidecar written by :func:`write_uncertainty_h5` (arrays in volts)."""
    import h5py

    with h5py.File(path, "r") as f:
        return {"lo": f["lo"][()], "median": f["median"][()], "hi": f["hi"][()],
                "ch_names": [s.decode() if isinstance(s, bytes) else str(s) for s in f["ch_names"][()]],
                "sfreq": float(f.attrs["sfreq"]), "q": tuple(float(v) for v in f.attrs["q"]),
                "bands": str(f.attrs.get("bands", ""))}


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
