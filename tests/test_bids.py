"""BIDS sessions (io/bids.py): one test per ds004752 / pyneuromod quirk; electrodes in test_io_electrodes.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ieegrecon.errors import InputError
from ieegrecon.io.bids import find_sessions, read_bids_session
from ieegrecon.io.electrodes import read_electrodes
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
def test_epoched_and_different_sfreq():
    q = read_bids_session(_ses("01")).quirks
    assert any("epoched" in x for x in q)
    assert any("200 Hz" in x and "2000 Hz" in x for x in q)


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