"""A template head model that works offline, for EEG source imaging.

Everything here ships with MNE-Python, so nothing is downloaded:

* electrode positions: MNE's ``colin27_1005`` montage (MNI Colin27 space);
* source space: a regular volume grid inside fsaverage's inner-skull
  surface (``mne/data/fsaverage/fsaverage-inner_skull-bem.fif``; fsaverage
  surface RAS is MNI305, within a few mm of MNI152/Colin27);
* conductor: a three-shell sphere model (brain, skull, scalp) fitted to the
  electrode positions (:func:`mne.make_sphere_model`, Berg & Scherg 1994
  approximation as implemented by MNE).

All coordinates are MNI metres, used as MNE's ``head`` frame with an
identity head<->MRI transform.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from .channels import normalize_ch_name
from .errors import ModelInputMismatch

#: Conductivity of brain tissue in S/m (Geddes & Baker 1967; MNE's default).
SIGMA_BRAIN = 0.33


@lru_cache(maxsize=1)
def _montage_positions() -> dict[str, np.ndarray]:
    """Every electrode of MNE's ``colin27_1005`` montage: name -> MNI position (m), read once."""
    import mne

    pos = mne.channels.make_standard_montage("colin27_1005").get_positions()["ch_pos"]
    return {k: np.asarray(v, float) for k, v in pos.items()}


def montage_positions() -> dict[str, np.ndarray]:
    """Every electrode of the ``colin27_1005`` montage: name -> MNI position (m), shape (3,) each (a copy)."""
    return dict(_montage_positions())


def scalp_positions(ch_names: list[str]) -> np.ndarray:
    """MNI positions (m) of scalp electrodes on MNE's ``colin27_1005`` montage.

    The one scalp-position lookup of ieegrecon (source imaging, CAST's
    channel embedding); the montage is read once per process.

    Parameters
    ----------
    ch_names : list of str
        Scalp labels (any spelling :func:`ieegrecon.channels.normalize_ch_name`
        understands; old 10-20 names T3/T4/T5/T6 map to T7/T8/P7/P8 when the
        montage lacks them).

    Returns
    -------
    ndarray, shape (n_channels, 3)
        Metres, rows in ``ch_names`` order.

    Raises
    ------
    ModelInputMismatch
        Naming every channel of ``ch_names`` without a position on the montage.
    """
    pos = _montage_positions()
    out, missing = [], []
    for n in ch_names:
        key = normalize_ch_name(n, old_to_new=False)
        if key not in pos:
            key = normalize_ch_name(n)
        if key not in pos:
            missing.append(n)
        else:
            out.append(pos[key])
    if missing:
        raise ModelInputMismatch(f"scalp channel(s) {missing} are not 10-05 electrodes: no position on "
                                 "the colin27_1005 montage")
    return np.asarray(out, dtype=float).reshape(len(ch_names), 3)


def make_info(ch_names: list[str], sfreq: float = 200.0):
    """An MNE ``Info`` with EEG channels at their template MNI positions (head frame)."""
    import mne

    info = mne.create_info(list(ch_names), sfreq, "eeg")
    mont = mne.channels.make_dig_montage(
        ch_pos=dict(zip(ch_names, scalp_positions(ch_names))), coord_frame="head"
    )
    info.set_montage(mont)
    return info


@lru_cache(maxsize=1)
def template_sphere() -> tuple[np.ndarray, float]:
    """Centre (m, MNI) and radius (m) of the sphere fitted to all 10-05 positions.

    Fitted with :func:`mne.bem.fit_sphere_to_headshape` to the 343 positions
    of ``colin27_1005`` (a real head surface), so the head model does not
    depend on which channels a recording happens to have.
    """
    import warnings

    import mne

    names = list(_montage_positions())
    info = make_info(names)
    with warnings.catch_warnings():
        # MNI's origin is the anterior commissure, ~2 cm from the head centre: expected here
        warnings.filterwarnings("ignore", message=".*from head frame origin.*")
        radius, r0, _ = mne.bem.fit_sphere_to_headshape(info, dig_kinds=("eeg",), units="m",
                                                        verbose=False)
    return np.asarray(r0, float), float(radius)


@lru_cache(maxsize=4)
def template_source_space(spacing_mm: float = 10.0):
    """Volume source space: a regular grid inside fsaverage's inner skull (MNI metres).

    Grid points are kept when they lie inside the convex hull of the
    inner-skull surface (nearly convex, so the hull is a close fit).

    Parameters
    ----------
    spacing_mm : float
        Grid spacing in mm.

    Returns
    -------
    mne.SourceSpaces
        A discrete source space (free orientation when used for forward).
    """
    import mne
    from scipy.spatial import Delaunay

    surf = Path(mne.__file__).parent / "data" / "fsaverage" / "fsaverage-inner_skull-bem.fif"
    rr = mne.read_bem_surfaces(str(surf), verbose=False)[0]["rr"]
    step = spacing_mm / 1000.0
    axes = [np.arange(np.ceil(lo / step) * step, hi, step) for lo, hi in zip(rr.min(0), rr.max(0))]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    inside = Delaunay(rr).find_simplex(grid) >= 0
    pts = grid[inside]
    nn = np.tile([0.0, 0.0, 1.0], (len(pts), 1))
    return mne.setup_volume_source_space(subject=None, pos=dict(rr=pts, nn=nn), mindist=0.0,
                                         verbose=False)


def template_forward(ch_names: list[str], spacing_mm: float = 10.0):
    """Free-orientation EEG forward solution on the template head (cached per channel set).

    Parameters
    ----------
    ch_names : list of str
        Scalp channels.
    spacing_mm : float
        Source grid spacing.

    Returns
    -------
    fwd : mne.Forward
        Shared between calls: copy before modifying it.
    info : mne.Info
    """
    return _template_forward(tuple(ch_names), float(spacing_mm))


@lru_cache(maxsize=8)
def _template_forward(ch_names: tuple[str, ...], spacing_mm: float):
    import mne

    info = make_info(list(ch_names))
    r0, radius = template_sphere()
    sphere = mne.make_sphere_model(r0, radius, relative_radii=(0.87, 0.92, 1.0),
                                   sigmas=(SIGMA_BRAIN, 0.0042, SIGMA_BRAIN), verbose=False)
    src = template_source_space(spacing_mm)
    trans = mne.transforms.Transform("head", "mri")
    fwd = mne.make_forward_solution(info, trans, src, sphere, eeg=True, meg=False,
                                    mindist=0.0, verbose=False)
    return fwd, info


def dipole_potential_matrix(contacts: np.ndarray, src_pos: np.ndarray, *, sigma: float = SIGMA_BRAIN,
                            min_dist: float = 0.005) -> np.ndarray:
    """Potential at contacts from unit current dipoles in an infinite homogeneous conductor.

    ``V = p · (r - r0) / (4 π σ |r - r0|^3)`` (Nunez & Srinivasan 2006, eq. 4.x;
    the standard volume-conductor formula used for LFP/sEEG forward models).

    Parameters
    ----------
    contacts : ndarray, shape (n_contacts, 3)
        Contact positions in metres.
    src_pos : ndarray, shape (n_sources, 3)
        Dipole positions in metres.
    sigma : float
        Conductivity in S/m.
    min_dist : float
        Distances below this (m) are clamped to it, standing for the finite
        extent of a source patch and avoiding the 1/r² singularity.

    Returns
    -------
    ndarray, shape (n_contacts, n_sources * 3)
        Volts per A·m, columns ordered (source, xyz) like MNE's free orientation.
    """
    d = contacts[:, None, :] - src_pos[None, :, :]  # (n_c, n_s, 3)
    r = np.linalg.norm(d, axis=-1, keepdims=True)
    r_eff = np.maximum(r, min_dist)
    g = d / (4 * np.pi * sigma * r_eff**3)
    return g.reshape(len(contacts), -1)


def check_positions(ch_names: list[str], positions: np.ndarray) -> np.ndarray:
    """Return MNI contact positions, refusing unknown (NaN) ones.

    Raises
    ------
    ModelInputMismatch
        Naming the contacts without a position.
    """
    positions = np.asarray(positions, float)
    bad = [n for n, p in zip(ch_names, positions) if not np.all(np.isfinite(p))]
    if bad:
        raise ModelInputMismatch(f"contacts without MNI position: {bad[:5]}{'...' if len(bad) > 5 else ''}")
    return positions
