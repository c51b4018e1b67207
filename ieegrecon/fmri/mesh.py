"""The fsaverage5 cortical mesh and its Desikan-Killiany parcels.

Topology (triangles) and unit-sphere vertex positions come from MNE-Python's
``mne/data/icos.fif.gz`` (icosahedron subdivided 5 times, 10242 vertices,
20480 triangles): fsaverage5 is exactly this subdivision, with the same vertex
order (the vendored annotations are contiguous on it, see
``ieegrecon/data/fsaverage5/README.md``). Labels come from the vendored
FreeSurfer ``?h.aparc.annot`` files. Parcel centres in MNI (for the EEG forward
model) come from the vendored Desikan-Killiany volume
(``ieegrecon/data/atlases``). Nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

#: Vertices per hemisphere of fsaverage5.
N_VERTICES = 10242
HEMIS = ("lh", "rh")
_DATA = Path(__file__).resolve().parents[1] / "data"


@dataclass(frozen=True)
class Fsaverage5:
    """fsaverage5 topology and parcellation, both hemispheres stacked (lh then rh).

    Attributes
    ----------
    tris : ndarray, shape (20480, 3)
        Triangles of one hemisphere (same for both).
    sphere : ndarray, shape (10242, 3)
        Unit-sphere vertex positions (one hemisphere).
    labels : ndarray, shape (2 * 10242,)
        Parcel index into ``parcel_names`` per vertex, -1 for the medial wall.
    parcel_names : list of str
        ``'lh.precentral'`` ..., 34 per hemisphere (68).
    """

    tris: np.ndarray
    sphere: np.ndarray
    labels: np.ndarray
    parcel_names: list[str]

    @property
    def n_vertices(self) -> int:
        """Vertices in both hemispheres (20484)."""
        return int(self.labels.size)

    @property
    def n_parcels(self) -> int:
        """Number of cortical parcels (68)."""
        return len(self.parcel_names)

    def parcel_to_vertex(self, x: np.ndarray) -> np.ndarray:
        """Broadcast parcel values to vertices (0 on the medial wall).

        Parameters
        ----------
        x : ndarray, shape (n_frames, n_parcels)

        Returns
        -------
        ndarray, shape (n_frames, n_vertices)
        """
        out = np.zeros((x.shape[0], self.n_vertices), dtype=float)
        ok = self.labels >= 0
        out[:, ok] = x[:, self.labels[ok]]
        return out

    def vertex_to_parcel(self, x: np.ndarray) -> np.ndarray:
        """Average vertex values within each parcel.

        Parameters
        ----------
        x : ndarray, shape (n_frames, n_vertices)

        Returns
        -------
        ndarray, shape (n_frames, n_parcels)
        """
        ok = self.labels >= 0
        counts = np.bincount(self.labels[ok], minlength=self.n_parcels).astype(float)
        out = np.zeros((x.shape[0], self.n_parcels))
        for p in range(self.n_parcels):
            out[:, p] = x[:, self.labels == p].sum(axis=1)
        return out / counts


@lru_cache(maxsize=1)
def load_fsaverage5() -> Fsaverage5:
    """Load the fsaverage5 topology (MNE ico-5) and DK labels (vendored annot).

    Returns
    -------
    Fsaverage5
    """
    import mne
    import nibabel as nib

    ico = mne.read_bem_surfaces(str(Path(mne.__file__).parent / "data" / "icos.fif.gz"), verbose=False)
    surf = next(s for s in ico if s["np"] == N_VERTICES)
    names: list[str] = []
    labels = []
    for hemi in HEMIS:
        lab, _, nm = nib.freesurfer.read_annot(str(_DATA / "fsaverage5" / f"{hemi}.aparc.annot"))
        nm = [n.decode() if isinstance(n, bytes) else str(n) for n in nm]
        keep = [i for i, n in enumerate(nm) if n not in ("unknown", "corpuscallosum")]
        remap = np.full(len(nm) + 1, -1, dtype=np.int64)
        for i in keep:
            remap[i] = len(names)
            names.append(f"{hemi}.{nm[i]}")
        lab = np.asarray(lab, dtype=np.int64)
        labels.append(np.where(lab >= 0, remap[np.clip(lab, 0, len(nm))], -1))
    return Fsaverage5(tris=np.asarray(surf["tris"], np.int64), sphere=np.asarray(surf["rr"], float),
                      labels=np.concatenate(labels), parcel_names=names)


def mesh_adjacency(tris: np.ndarray, n: int):
    """Row-normalized vertex adjacency (with self loops) of a triangle mesh.

    Returns
    -------
    scipy.sparse.csr_matrix, shape (n, n)
    """
    import scipy.sparse as sp

    e = np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]])
    rows = np.concatenate([e[:, 0], e[:, 1], np.arange(n)])
    cols = np.concatenate([e[:, 1], e[:, 0], np.arange(n)])
    a = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(n, n))
    a.data[:] = 1.0
    deg = np.asarray(a.sum(axis=1)).ravel()
    return sp.diags(1.0 / deg) @ a


def smooth_on_mesh(x: np.ndarray, mesh: Fsaverage5, n_iter: int = 10) -> np.ndarray:
    """Smooth vertex maps by ``n_iter`` steps of neighbour averaging on each hemisphere.

    Parameters
    ----------
    x : ndarray, shape (n_maps, 2 * 10242)

    Returns
    -------
    ndarray, same shape
    """
    a = mesh_adjacency(mesh.tris, N_VERTICES)
    out = np.array(x, dtype=float, copy=True)
    for h in range(2):
        sl = slice(h * N_VERTICES, (h + 1) * N_VERTICES)
        y = out[:, sl].T
        for _ in range(n_iter):
            y = a @ y
        out[:, sl] = y.T
    return out


@lru_cache(maxsize=1)
def parcel_centres_mni() -> np.ndarray:
    """Centroids (m, MNI152) of the 68 DK parcels, in :func:`load_fsaverage5` order.

    Computed from the vendored Desikan-Killiany volume
    (``ieegrecon/data/atlases/atlas_desikan_killiany.nii.gz``, FreeSurfer
    ``cvs_avg35_inMNI152`` aparc+aseg).

    Returns
    -------
    ndarray, shape (68, 3)
    """
    import nibabel as nib
    import pandas as pd

    img = nib.load(str(_DATA / "atlases" / "atlas_desikan_killiany.nii.gz"))
    vol = np.asarray(img.dataobj).astype(np.int64)
    lut = pd.read_csv(_DATA / "atlases" / "labels_desikan_killiany.csv")
    index = {str(n): int(i) for i, n in zip(lut["index"], lut["name"])}
    out = []
    for name in load_fsaverage5().parcel_names:
        hemi, region = name.split(".", 1)
        ijk = np.argwhere(vol == index[f"ctx-{hemi}-{region}"])
        xyz = nib.affines.apply_affine(img.affine, ijk.mean(axis=0))
        out.append(xyz / 1000.0)
    return np.array(out)
