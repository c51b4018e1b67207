"""BIDS sessions and electrodes: one test per ds004752 / pyneuromod / sample_ecog quirk."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ieegrecon.errors import InputError
from ieegrecon.io.bids import (
    contact_side,
    find_sessions,
    read_bids_session,
    read_electrodes,
)
from ieegrecon.io.edf import write_edf

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DS = DATA / "ds004752"
needs_ds = pytest.mark.skipif(not DS.is_dir(), reason="ds004752 sidecars not found in ../shared/data")


def _ses(sub, ses="01"):
    return DS / f"sub-{sub}" / f"ses-{ses}"


@needs_ds
def test_find_sessions_every_session_of_ds004752():
    sessions = find_sessions(DS)
    assert len(sessions) == len(list(DS.glob("sub-*/ses-*")))
    assert all(s.name.startswith("ses-") for s in sessions)
    assert find_sessions(_ses("01")) == [_ses("01")]


@needs_ds
def test_swapped_cutoffs():
    q = read_bids_session(_ses("01")).quirks
    assert any("swapped" in x and "1000" in x for x in q)


@needs_ds
@pytest.mark.parametrize("sub,n", [("02", 8), ("03", 8), ("07", 8), ("09", 8), ("06", 10)])
def test_few_scalp_channels(sub, n):
    q = read_bids_session(_ses(sub)).quirks
    assert any(f"{n} scalp channels" in x for x in q), q


@needs_ds
def test_old_1020_names():
    q = read_bids_session(_ses("01")).quirks
    assert any("old 10-20 names T3 T4 T5 T6" in x for x in q)


@needs_ds
def test_no_label_found_and_no_coordsystem():
    el = read_electrodes(_ses("01"))
    assert el.coord_frame == "mni"
    assert any("no coordsystem.json" in q and "MNI" in q for q in el.quirks)
    assert any("no_label_found" in q for q in el.quirks)
    assert np.nanmax(np.abs(el.positions)) < 0.1  # mm were converted to metres
    assert "AnatomicalLocation" in el.table


@needs_ds
def test_epoched_and_different_sfreq():
    q = read_bids_session(_ses("01")).quirks
    assert any("epoched" in x for x in q)
    assert any("200 Hz" in x and "2000 Hz" in x for x in q)


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


@needs_ds
def test_generated_bids_session_with_signals(tmp_path):
    """ds004752 sidecars + EDFs written here: scalp 200 Hz, iEEG 2000 Hz, positions in MNI metres."""
    ses = tmp_path / "sub-02" / "ses-01"
    shutil.copytree(_ses("02"), ses)
    rng = np.random.default_rng(1)
    for kind, sf in (("eeg", 200.0), ("ieeg", 2000.0)):
        tsv = next((ses / kind).glob("*_channels.tsv"))
        names = list(pd.read_csv(tsv, sep="\t")["name"])
        out = tsv.with_name(tsv.name.replace("_channels.tsv", f"_{kind}.edf"))
        write_edf(out, rng.normal(0, 30e-6, (len(names), int(2 * sf))), sf, names)
    s = read_bids_session(ses)
    assert s.subject == "02" and s.session == "01"
    assert s.scalp.sfreq == 200 and s.ieeg.sfreq == 2000
    assert set(s.scalp.ch_types) == {"eeg"} and set(s.ieeg.ch_types) == {"seeg"}
    assert s.ieeg.coord_frame == "mni" and np.isfinite(s.ieeg.positions).all()
    el = s.electrodes
    i = el.names.index(s.ieeg.ch_names[0])
    np.testing.assert_allclose(s.ieeg.positions[0], el.positions[i])
    assert not any("no signal file" in q for q in s.quirks)


def test_not_a_session(tmp_path):
    with pytest.raises(InputError):
        read_bids_session(tmp_path)
    with pytest.raises(InputError):
        find_sessions(tmp_path)


def test_non_mni_coordsystem_refused(tmp_path):
    (tmp_path / "sub-1_electrodes.tsv").write_text("name\tx\ty\tz\nA1\t1\t2\t3\n")
    (tmp_path / "sub-1_coordsystem.json").write_text('{"iEEGCoordinateSystem": "ACPC", "iEEGCoordinateUnits": "mm"}')
    with pytest.raises(InputError, match="not an MNI"):
        read_electrodes(tmp_path / "sub-1_electrodes.tsv")


@pytest.mark.skipif(not (DATA / "pyneuromod_ecog").is_dir(), reason="pyneuromod_ecog not found")
def test_pyneuromod_metres_and_other_space_mni():
    ses = DATA / "pyneuromod_ecog" / "sub-testsub" / "ses-EphysMedOff"
    el = read_electrodes(ses)
    assert any("'Other'" in q and "space-mni" in q for q in el.quirks)
    i = el.names.index("ECOG_RIGHT_0")
    assert 0.02 < el.positions[i, 0] < 0.06  # metres, right hemisphere
    s = read_bids_session(ses)
    assert s.scalp is None and s.ieeg is not None and s.ieeg.coord_frame == "mni"
    assert np.isnan(s.ieeg.positions[s.ieeg.ch_names.index("MOV_RIGHT")]).all()


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
