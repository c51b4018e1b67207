"""Forward models: scalp EEG through MNE's three-shell sphere, iEEG through an infinite medium.

Scalp
    :func:`mne.make_sphere_model` fitted (:func:`mne.bem.fit_sphere_to_headshape`)
    to the layout's electrode positions on the ``colin27_1005`` montage (MNI
    Colin27, metres), three shells brain / skull / scalp with per-subject radii
    and conductivities; lead fields from :func:`mne.make_forward_solution` on a
    discrete source space (:func:`mne.setup_volume_source_space` with
    ``pos=dict(rr=..., nn=...)``), projected on each dipole's fixed orientation.
    The sphere model is the Berg & Scherg approximation of the multi-shell
    sphere (Zhang 1995; Mosher, Leahy & Lewis 1999). MNI is taken as MNE's
    'head' frame (identity ``trans``). Dipoles outside the inner shell (the
    sphere cannot follow the temporal base and the orbitofrontal cortex) are
    moved radially to 5 mm inside it for the scalp forward only.

iEEG
    Current dipole in an infinite homogeneous conductor (Nunez & Srinivasan
    2006; Einevoll et al. 2013): ``V = p·(r − r0) / (4π σ |r − r0|^3)``,
    potentials relative to infinity (an ideal distant reference).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..headmodel import montage_positions


@dataclass
class HeadModel:
    """Per-subject head: sphere centre and radii (m), shell conductivities (S/m)."""

    r0: np.ndarray
    head_radius: float
    relative_radii: tuple[float, float, float]
    sigmas: tuple[float, float, float]


def colin27_positions(names_norm: list[str]) -> np.ndarray:
    """Colin27 (MNI) positions in metres of normalized 10-05 names, shape (n, 3).

    Raises
    ------
    KeyError
        If a name is not on the ``colin27_1005`` montage.
    """
    pos = montage_positions()  # the one montage lookup of ieegrecon (headmodel), exact names here
    return np.array([pos[n] for n in names_norm], float)


def fit_head(electrodes_m: np.ndarray, rng: np.random.Generator) -> HeadModel:
    """Fit a sphere to electrode positions and draw per-subject shells.

    Parameters
    ----------
    electrodes_m : ndarray, shape (n, 3)
        Scalp electrode positions (m); fewer than 8 points -> the whole
        ``colin27_1005`` montage is used for the fit.
    rng : numpy.random.Generator
        Draws head-radius scaling (±3 %), brain and skull radii and the
        brain/skull conductivity ratio (25-80, Gonçalves et al. 2003).
    """
    import mne

    pts = electrodes_m
    if len(pts) < 8:
        pts = np.array(list(montage_positions().values()))
    info = mne.create_info([f"E{i}" for i in range(len(pts))], 1000.0, "eeg")
    mont = mne.channels.make_dig_montage(ch_pos={f"E{i}": p for i, p in enumerate(pts)}, coord_frame="head")
    info.set_montage(mont)
    with mne.utils.use_log_level("error"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        radius, r0, _ = mne.bem.fit_sphere_to_headshape(info, dig_kinds=("eeg",), units="m")
    radius *= rng.uniform(0.97, 1.03)
    r_brain = rng.uniform(0.86, 0.90)
    r_skull = r_brain + rng.uniform(0.04, 0.06)
    sigma_brain = rng.uniform(0.30, 0.40)
    ratio = rng.uniform(25.0, 80.0)
    return HeadModel(r0=np.asarray(r0, float), head_radius=float(radius),
                     relative_radii=(float(r_brain), float(r_skull), 1.0),
                     sigmas=(float(sigma_brain), float(sigma_brain / ratio), float(sigma_brain)))


def inside_inner_shell(pos: np.ndarray, head: HeadModel, margin: float = 0.005) -> np.ndarray:
    """Positions moved radially to lie at least ``margin`` inside the brain shell, shape (n, 3)."""
    d = pos - head.r0
    r = np.linalg.norm(d, axis=1, keepdims=True)
    rmax = head.head_radius * head.relative_radii[0] - margin
    return np.where(r > rmax, head.r0 + d / r * rmax, pos)


def sphere_model(head: HeadModel, tries: int = 5) -> Any:
    """:func:`mne.make_sphere_model` of ``head``, its Berg-Scherg fit checked.

    MNE approximates the multi-shell potential by Berg-Scherg equivalent dipoles
    (fitted numerically). For about 0.5 % of the drawn heads (3 of 600) the fit degenerates: an
    eccentricity ``mu`` of exactly 0 with weights of ±1e16, which makes the forward
    solution divide by zero (simulated seed 301, subject 2). Then the skull's outer radius
    is moved out by 0.1 % of the head radius and the fit redone, up to ``tries`` times; a
    head whose first fit is sound is used unchanged (every other simulation is as before).

    Raises
    ------
    RuntimeError
        No sound fit after ``tries`` nudges.
    """
    import mne

    r_brain, r_skull, r_scalp = head.relative_radii
    for k in range(tries + 1):
        sphere = mne.make_sphere_model(r0=head.r0, head_radius=head.head_radius,
                                       relative_radii=(r_brain, r_skull + 0.001 * k, r_scalp), sigmas=head.sigmas)
        mu, lam = np.asarray(sphere["mu"], float), np.asarray(sphere["lambda"], float)
        if np.all(mu != 0) and np.all(np.isfinite(lam)) and np.max(np.abs(lam)) < 1e3:
            return sphere
    raise RuntimeError(f"no sound Berg-Scherg fit for the head {head} after {tries} nudges")


def scalp_leadfield(electrodes_m: np.ndarray, pos: np.ndarray, ori: np.ndarray, head: HeadModel) -> np.ndarray:
    """Scalp potentials per unit dipole (V / (A·m)), shape (n_electrodes, n_dipoles).

    Potentials are as MNE returns them for EEG (before any re-referencing by
    the caller). Uses :func:`mne.make_sphere_model` and
    :func:`mne.make_forward_solution`.
    """
    import mne

    names = [f"E{i}" for i in range(len(electrodes_m))]
    info = mne.create_info(names, 1000.0, "eeg")
    info.set_montage(mne.channels.make_dig_montage(ch_pos=dict(zip(names, electrodes_m)), coord_frame="head"))
    pos_in = inside_inner_shell(pos, head)
    with mne.utils.use_log_level("error"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sphere = sphere_model(head)
        src = mne.setup_volume_source_space(pos=dict(rr=pos_in, nn=ori), sphere=sphere, mindist=0.0,
                                            exclude=0.0)
        fwd = mne.make_forward_solution(info, trans=None, src=src, bem=sphere, eeg=True, meg=False,
                                        n_jobs=1)
    if fwd["nsource"] != len(pos):
        raise RuntimeError(f"MNE kept {fwd['nsource']} of {len(pos)} dipoles")
    g = fwd["sol"]["data"].reshape(len(names), len(pos), 3)
    return np.einsum("cdk,dk->cd", g, ori)


def ieeg_leadfield(contacts_m: np.ndarray, pos: np.ndarray, ori: np.ndarray, sigma: float) -> np.ndarray:
    """Infinite-medium dipole potentials at contacts (V / (A·m)), shape (n_contacts, n_dipoles).

    ``V = p·(r − r0) / (4π σ |r − r0|^3)`` (Nunez & Srinivasan 2006).
    """
    d = contacts_m[:, None, :] - pos[None, :, :]
    r = np.linalg.norm(d, axis=2)
    return np.einsum("cdk,dk->cd", d, ori) / (4 * np.pi * sigma * r**3)
