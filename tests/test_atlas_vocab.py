"""The region/depth vocabulary shared by the atlas and the models (ieegrecon.atlas.vocab)."""

from __future__ import annotations

import numpy as np

from ieegrecon.atlas.vocab import DEPTHS, REGIONS, depth_class, depth_index, region_index


def test_region_vocabulary_maps_unknown_keys_to_unknown():
    idx = region_index(["precentral_L", "Hippocampus_R", "no_label_found", "unknown"])
    assert REGIONS[idx[0]] == "precentral_L" and REGIONS[idx[1]] == "hippocampus_R"
    assert idx[2] == 0 and idx[3] == 0


def test_depth_vocabulary_and_rule():
    assert DEPTHS == ("unknown", "superficial", "deep")
    np.testing.assert_array_equal(depth_index(["deep", "superficial", "n/a", "unknown"]), [2, 1, 0, 0])
    assert depth_class("hippocampus", 5.0) == "deep"  # a deep structure, whatever its distance
    assert depth_class("precentral", 12.0) == "superficial"
    assert depth_class("precentral", 31.0) == "deep"  # beyond SUPERFICIAL_MAX_MM
    assert depth_class(None, float("nan")) == "n/a"


def test_the_models_embed_the_atlas_vocabulary():
    """CAST and flow take their region/depth tables from the atlas, not from each other."""
    import ast
    from pathlib import Path

    import ieegrecon.models.flow as flow

    tree = ast.parse(Path(flow.__file__).read_text(encoding="utf-8"))
    sources = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "cast" not in sources and "atlas.vocab" in sources
