"""Agreement of the atlas labels with Brainnetome and a subject's own aparc+aseg (ieegrecon.atlas.agreement)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ieegrecon.atlas import aparc_agreement, brainnetome_agreement, brainnetome_class


DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def test_brainnetome_class():
    assert brainnetome_class("Hipp, Left Hippocampus rHipp, rostral hippocampus") == "hippocampus"
    assert brainnetome_class("no_label_found") is None


@pytest.mark.skipif(not (DATA / "ds004752").is_dir(), reason="ds004752 not found")
def test_ds004752_coverage_and_agreement():
    res = brainnetome_agreement(DATA / "ds004752")
    assert res["n_contacts"] > 400
    assert res["frac_within"] >= 0.95
    assert res["agreement"] > 0.8 and res["n_compared"] > 200


@pytest.mark.skipif(not (DATA / "sample_ecog").is_dir(), reason="sample_ecog not found")
def test_sample_ecog_agrees_with_own_aparc():
    from ieegrecon.io.electrodes import read_electrodes

    res = aparc_agreement(read_electrodes(DATA / "sample_ecog" / "sample_ecog_ieeg.fif"))
    assert res["n_compared"] > 300
    assert res["class_agreement"] > 0.8 and res["label_agreement"] > 0.6
    assert any(k.startswith("hippocampus_R") for k in res["subject_keys"])
