"""Atlas mapping on real MNI atlases (Desikan-Killiany volume, AAL3) (ieegrecon.atlas.mapping)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from ieegrecon.atlas import (
    DEPTH_RULE,
    distance_to_scalp_mm,
    list_atlases,
    map_contacts,
    region_centroid,
    region_keys,
)
from ieegrecon.errors import InputError


PTS = np.array([[-38, -20, 56], [28, -22, -14], [-22, -4, -18]]) * 1e-3


@pytest.mark.parametrize("atlas", ["desikan_killiany", "aal3"])
def test_known_points(atlas):
    df = map_contacts(["a", "b", "c"], PTS, atlas=atlas)
    assert list(df["region_key"]) == ["precentral_L", "hippocampus_R", "amygdala_L"]
    assert df["region"][0] == "precentral gyrus" and df["hemisphere"][0] == "L"
    assert df["region"][1] == "hippocampus" and df["hemisphere"][1] == "R"
    assert df["atlas_probability"].isna().all()
    assert list(df["depth_class"][1:]) == ["deep", "deep"]
    assert all(re.fullmatch(r"[a-z0-9_]+_[LR]", k) for k in df["region_key"])


def test_far_point_is_unknown_with_nearest():
    df = map_contacts(["x", "nan"], np.array([[0, 0, 0.2], [np.nan] * 3]), max_distance_mm=5)
    assert df["region_key"][0] == "unknown" and df["distance_to_label_mm"][0] > 5
    assert df["nearest_region"][0] != "n/a"
    assert df["depth_class"][1] == "n/a"


def test_scalp_distance():
    import mne

    mont = mne.channels.make_standard_montage("colin27_1005").get_positions()["ch_pos"]
    d = distance_to_scalp_mm(np.array([mont["Cz"], mont["T7"], [0, 0, 0]]))
    assert d[0] < 15 and d[1] < 15 and d[2] > 60


def test_list_atlases_and_rule():
    names = {a["name"]: a for a in list_atlases()}
    assert {"desikan_killiany", "aal3"} <= set(names)
    assert all(a["licence"] and a["version"] for a in names.values())
    assert "deep" in DEPTH_RULE and "mm" in DEPTH_RULE


def test_region_centroid_lies_in_its_region():
    for key in ("hippocampus_L", "precentral_R"):
        c = region_centroid(key)
        assert c.shape == (3,)
        df = map_contacts(["c"], c[None], max_distance_mm=10)
        assert df["region_key"][0] == key
    assert "entorhinal_L" in region_keys() and "parahippocampal_R" in region_keys()
    with pytest.raises(InputError):
        region_centroid("nope_L")
