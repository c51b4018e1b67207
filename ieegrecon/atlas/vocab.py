"""The region and depth vocabulary shared by the atlas mapping and the models.

Region keys are ``<structure>_<L|R>`` (FreeSurfer ``aparc`` / ``aseg``
structure names, lower case) or ``'unknown'``; depth classes are
``'superficial'``, ``'deep'`` (or ``'unknown'``). :mod:`ieegrecon.atlas.mapping`
produces them from MNI positions; the deep-learning methods
(:mod:`ieegrecon.models.cast`, :mod:`ieegrecon.models.flow`) embed them through
the fixed index tables :data:`REGIONS` and :data:`DEPTHS`.
"""

from __future__ import annotations

import numpy as np

#: Desikan-Killiany cortical structures (FreeSurfer ``aparc``), plus insula.
DK_CORTICAL = (
    "bankssts", "caudalanteriorcingulate", "caudalmiddlefrontal", "cuneus", "entorhinal", "fusiform",
    "inferiorparietal", "inferiortemporal", "isthmuscingulate", "lateraloccipital", "lateralorbitofrontal",
    "lingual", "medialorbitofrontal", "middletemporal", "parahippocampal", "paracentral", "parsopercularis",
    "parsorbitalis", "parstriangularis", "pericalcarine", "postcentral", "posteriorcingulate", "precentral",
    "precuneus", "rostralanteriorcingulate", "rostralmiddlefrontal", "superiorfrontal", "superiorparietal",
    "superiortemporal", "supramarginal", "frontalpole", "temporalpole", "transversetemporal", "insula",
)
#: Subcortical structures (FreeSurfer ``aseg``) and white matter.
SUBCORTICAL = (
    "hippocampus", "amygdala", "thalamus", "putamen", "caudate", "pallidum", "accumbens", "ventraldc",
    "whitematter",
)
#: Fixed region vocabulary: ``'unknown'`` first, then every structure x L/R.
REGIONS = ("unknown",) + tuple(f"{s}_{h}" for s in DK_CORTICAL + SUBCORTICAL for h in ("L", "R"))
_REGION_INDEX = {r.lower(): i for i, r in enumerate(REGIONS)}
#: Depth classes.
DEPTHS = ("unknown", "superficial", "deep")


def region_index(regions: list[str]) -> np.ndarray:
    """Map region keys like ``'precentral_L'`` to :data:`REGIONS` indices (unknown keys -> 0)."""
    out = []
    for r in regions:
        key = str(r).strip().lower().replace(" ", "").replace("-", "")
        out.append(_REGION_INDEX.get(key, 0))
    return np.asarray(out, dtype=np.int64)


def depth_index(depths: list[str]) -> np.ndarray:
    """Map depth classes to :data:`DEPTHS` indices (anything else -> 0)."""
    return np.asarray([DEPTHS.index(d) if d in DEPTHS else 0 for d in depths], dtype=np.int64)


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


def depth_class(structure: str | None, dist_scalp: float) -> str:
    """Depth class of a contact (:data:`DEPTH_RULE`).

    Parameters
    ----------
    structure : str | None
        Atlas structure key of the contact's region (None: no region).
    dist_scalp : float
        Distance to the scalp in mm (NaN: unknown position).

    Returns
    -------
    str
        ``'deep'``, ``'superficial'`` or ``'n/a'`` (unknown position).
    """
    if not np.isfinite(dist_scalp):
        return "n/a"
    if structure and any(structure.startswith(d) or d in structure for d in DEEP_STRUCTURES):
        return "deep"
    return "superficial" if dist_scalp <= SUPERFICIAL_MAX_MM else "deep"

