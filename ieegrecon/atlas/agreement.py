"""Agreement of the atlas labels with other labellings, at the level of structure classes.

* :func:`brainnetome_agreement`: with ds004752's own Brainnetome
  ``AnatomicalLocation`` labels (``ieegrecon atlas-agreement ROOT``);
* :func:`aparc_agreement`: with a subject's own FreeSurfer ``aparc+aseg``
  (``ieegrecon atlas-aparc FIF``).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import InputError
from .mapping import _hemi_structure, _load, map_contacts

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
    from ..io.bids import find_sessions
    from ..io.electrodes import read_electrodes

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

    ``electrodes`` must come from :func:`ieegrecon.io.electrodes.read_electrodes` on a
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
