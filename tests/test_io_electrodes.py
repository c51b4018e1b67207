"""Electrode positions (io/electrodes.py): one test per ds004752 / sample_ecog quirk, moved from test_bids.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import DS004752 as DS
from conftest import SHARED as DATA

from ieegrecon.errors import InputError
from ieegrecon.io.electrodes import contact_side, read_electrodes

needs_ds = pytest.mark.skipif(not DS.is_dir(), reason="ds004752 sidecars not found in ../shared/data")


def _ses(sub: str) -> Path:
    """ds004752 sub-``sub`` ses-01."""
    return DS / f"sub-{sub}" / "ses-01"


@needs_ds
def test_no_label_found_and_no_coordsystem():
    el = read_electrodes(_ses("01"))
    assert el.coord_frame == "mni"
    assert any("no coordsystem.json" in q and "MNI" in q for q in el.quirks)
    assert any("no_label_found" in q for q in el.quirks)
    assert np.nanmax(np.abs(el.positions)) < 0.1  # mm were converted to metres
    assert "AnatomicalLocation" in el.table


@needs_ds
def test_left_right_name_disagreeing_with_x(tmp_path):
    src = next((_ses("02") / "ieeg").glob("*_electrodes.tsv"))
    shutil.copy(src.with_suffix(".json"), tmp_path / src.with_suffix(".json").name)
    df = pd.read_csv(src, sep="\t")
    assert contact_side(df["name"][0]) in ("L", "R")
    df.loc[0, "x"] = -df.loc[0, "x"]
    df.to_csv(tmp_path / src.name, sep="\t", index=False)
    el = read_electrodes(tmp_path / src.name)
    assert any("Left/Right name disagrees" in q and df["name"][0] in q for q in el.quirks)
    assert not any("Left/Right" in q for q in read_electrodes(src).quirks)


def test_non_mni_coordsystem_refused(tmp_path):
    (tmp_path / "sub-1_electrodes.tsv").write_text("name\tx\ty\tz\nA1\t1\t2\t3\n")
    (tmp_path / "sub-1_coordsystem.json").write_text('{"iEEGCoordinateSystem": "ACPC", "iEEGCoordinateUnits": "mm"}')
    with pytest.raises(InputError, match="not an MNI"):
        read_electrodes(tmp_path / "sub-1_electrodes.tsv")


@pytest.mark.skipif(not (DATA / "sample_ecog").is_dir(), reason="sample_ecog not found")
def test_sample_ecog_fif_to_mni_with_talairach():
    el = read_electrodes(DATA / "sample_ecog" / "sample_ecog_ieeg.fif")
    assert len(el.names) == 394 and el.coord_frame == "mni" and el.subject == "sample_ecog"
    assert any("talairach" in q for q in el.quirks)
    # the implant is over the right hemisphere: MNI x > 0 for nearly every contact
    assert np.mean(el.positions[:, 0] > 0) > 0.95
    assert np.abs(el.positions).max() < 0.12
    # the transform is not the identity: MRI and MNI positions differ
    assert np.median(np.linalg.norm(el.positions - el.mri_positions, axis=1)) > 0.002


# --------------------------------------------------------------------------- the table's stages, called through read_electrodes
def _table(tmp_path, rows: str, coordsystem: str | None = None, name: str = "sub-1_electrodes.tsv") -> Path:
    (tmp_path / name).write_text("name\tx\ty\tz\n" + rows)
    if coordsystem is not None:
        (tmp_path / "sub-1_coordsystem.json").write_text(coordsystem)
    return tmp_path / name


def test_units_from_coordsystem_or_inferred(tmp_path):
    cs = '{"iEEGCoordinateSystem": "MNI152NLin2009aSym", "iEEGCoordinateUnits": "cm"}'
    el = read_electrodes(_table(tmp_path, "A1\t1\t2\t3\n", cs))
    np.testing.assert_allclose(el.positions, [[0.01, 0.02, 0.03]])
    (tmp_path / "b").mkdir()
    el = read_electrodes(_table(tmp_path / "b", "A1\t10\t20\t30\n", name="sub-1_space-MNI152_electrodes.tsv"))
    np.testing.assert_allclose(el.positions, [[0.01, 0.02, 0.03]])  # no coordsystem.json: space- says MNI, mm inferred
    assert any("MNI inferred from space-MNI152" in q for q in el.quirks)
    assert any("mm inferred from the values" in q for q in el.quirks)


@pytest.mark.parametrize("rows,cs,match", [
    ("A1\t1\t2\t3\n", '{"iEEGCoordinateSystem": "MNI152", "iEEGCoordinateUnits": "inch"}', "unknown coordinate units"),
    ("A1\t300\t2\t3\n", '{"iEEGCoordinateSystem": "MNI152", "iEEGCoordinateUnits": "mm"}', "outside any head"),
    ("A1\t1\t2\t3\n", None, "nothing says the coordinates are MNI"),
    ("A1\tn/a\tn/a\tn/a\n", '{"iEEGCoordinateSystem": "MNI152"}', "no row holds three finite coordinates"),
    ("A1\t1\t2\t3\nA1\t1\t2\t4\n", '{"iEEGCoordinateSystem": "MNI152"}', "duplicate contact names"),
])
def test_table_refusals(rows, cs, match, tmp_path):
    with pytest.raises(InputError, match=match):
        read_electrodes(_table(tmp_path, rows, cs))


def test_contact_side_conventions():
    assert contact_side("ECOG_RIGHT_0") == "R" and contact_side("ECOG_LEFT_3") == "L"
    assert contact_side("mAHL1") == "L" and contact_side("LA3") is None and contact_side("G12") is None
