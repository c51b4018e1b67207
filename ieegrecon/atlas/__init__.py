"""MNI atlases: contact positions -> regions, depth classes and their agreement with other labellings.

* :mod:`~ieegrecon.atlas.vocab`: the region/depth vocabulary (:data:`REGIONS`,
  :data:`DEPTHS`, :data:`DEPTH_RULE`...) shared with the models;
* :mod:`~ieegrecon.atlas.mapping`: atlas loading, :func:`map_contacts`,
  :func:`region_keys`, :func:`region_centroid`, :func:`distance_to_scalp_mm`;
* :mod:`~ieegrecon.atlas.agreement`: structure classes and the agreement with
  Brainnetome / a subject's own ``aparc+aseg`` (``ieegrecon atlas-agreement``).
"""

from .agreement import CLASSES, aparc_agreement, brainnetome_agreement, brainnetome_class, structure_class
from .mapping import (
    ATLASES,
    PROBABILITY_NOTE,
    AtlasInfo,
    distance_to_scalp_mm,
    list_atlases,
    map_contacts,
    region_centroid,
    region_keys,
)
from .vocab import (
    DEEP_STRUCTURES,
    DEPTH_RULE,
    DEPTHS,
    DK_CORTICAL,
    REGIONS,
    SUBCORTICAL,
    SUPERFICIAL_MAX_MM,
    depth_class,
    depth_index,
    region_index,
)

__all__ = [
    "ATLASES", "AtlasInfo", "CLASSES", "DEEP_STRUCTURES", "DEPTHS", "DEPTH_RULE", "DK_CORTICAL",
    "PROBABILITY_NOTE", "REGIONS", "SUBCORTICAL", "SUPERFICIAL_MAX_MM", "aparc_agreement",
    "brainnetome_agreement", "brainnetome_class", "depth_class", "depth_index", "distance_to_scalp_mm",
    "list_atlases", "map_contacts", "region_centroid", "region_index", "region_keys", "structure_class",
]
