"""read_recording: one test per documented corner case of the real scalp files (edfio style)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ieegrecon.errors import InputError
from ieegrecon.io.edf import write_edf
from ieegrecon.io.read import read_recording

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SCALP = DATA / "scalp_eeg"
needs_scalp = pytest.mark.skipif(not SCALP.is_dir(), reason="real scalp EDFs not found in ../shared/data")


@needs_scalp
def test_edf_plus_d_read_by_mne_refused_by_pyedflib():
    """MB0400FU.EDF is EDF+D: pyedflib refuses it, we read it through MNE and say so."""
    import pyedflib

    with pytest.raises(OSError):
        pyedflib.EdfReader(str(SCALP / "MB0400FU.EDF"))
    rec = read_recording(SCALP / "MB0400FU.EDF")
    assert rec.sfreq == 200 and abs(rec.duration - 29) < 0.01
    assert any("EDF+D" in q and "discontinuous" in q for q in rec.quirks)
    assert not any(a.description.startswith("+") for a in rec.annotations)  # time-keeping is not an event


@needs_scalp
def test_old_names_renamed_and_pol_channels_are_misc():
    rec = read_recording(SCALP / "MB0400FU.EDF")
    assert {"T7", "T8", "P7", "P8"} <= set(rec.ch_names)
    assert rec.renamed["EEG T3-Ref"] == "T7"
    assert any("T3->T7" in q.replace("EEG ", "").replace("-Ref", "") for q in rec.quirks)
    types = dict(zip(rec.ch_names, rec.ch_types))
    assert types["POL E"] == "misc" and types["POL $A1"] == "misc"
    assert not set(rec.ch_types) & {"seeg", "ecog"}
    assert np.median(np.std(rec.data[[i for i, t in enumerate(rec.ch_types) if t == "eeg"]], axis=1)) < 1e-3


@needs_scalp
def test_chtypes_edf_non_eeg_channels_are_not_contacts():
    rec = read_recording(SCALP / "chtypes_edf.edf")
    types = dict(zip(rec.ch_names, rec.ch_types))
    assert types["ECG ECG1"] == "ecg" and types["POL PG1"] == "misc" and types["SaO2 X9"] == "misc"
    assert types["POL T1"] == "misc"
    assert not set(rec.ch_types) & {"seeg", "ecog"}
    assert all(n in rec.ch_names for n in ("Fp1", "T7", "P9"))


@needs_scalp
def test_bci2000_dotted_labels_and_overlapping_annotations():
    rec = read_recording(SCALP / "test_edf_overlapping_annotations.edf")
    assert rec.renamed["Fc5."] == "FC5" and "Iz" in rec.ch_names and set(rec.ch_types) == {"eeg"}
    ann = sorted(rec.annotations, key=lambda a: a.onset)
    overlaps = sum(1 for a, b in zip(ann, ann[1:]) if b.onset < a.onset + a.duration - 1e-9)
    assert overlaps > 0 and {"T0", "T1", "T2"} <= {a.description for a in ann}


def test_mixed_edf_split_by_regex_and_by_contact_shape(tmp_path):
    rng = np.random.default_rng(0)
    names = ["EEG Fp1-Ref", "EEG T3-Ref", "EEG Cz-Ref", "POL E", "mAHL1", "mAHL2", "G1"]
    data = rng.normal(0, 20e-6, (len(names), 400))
    f = tmp_path / "mixed.edf"
    write_edf(f, data, 200.0, names)
    rec = read_recording(f)
    t = dict(zip(rec.ch_names, rec.ch_types))
    assert t["Fp1"] == "eeg" and t["T7"] == "eeg" and t["POL E"] == "misc"
    assert t["mAHL1"] == "seeg" and t["G1"] == "seeg"
    assert any("missing" in q for q in rec.quirks)
    rec2 = read_recording(f, ieeg_channels=r"^mAHL", ch_types={"G1": "ecog"})
    t2 = dict(zip(rec2.ch_names, rec2.ch_types))
    assert t2["G1"] == "ecog" and t2["mAHL2"] == "seeg"
    np.testing.assert_allclose(rec.data, data, atol=1e-7)  # volts in, volts out
    assert len(rec.source_sha256) == 64


def test_truncated_file_is_an_input_error(tmp_path):
    f = tmp_path / "ok.edf"
    write_edf(f, np.zeros((2, 400)) + 1e-6, 200.0, ["Cz", "Pz"])
    bad = tmp_path / "bad.edf"
    bad.write_bytes(f.read_bytes()[:300])
    with pytest.raises(InputError, match="bad.edf"):
        read_recording(bad)


@pytest.mark.parametrize("name,content,match", [
    ("missing.edf", None, "no such file"), ("x.txt", b"hello", "unsupported extension"),
])
def test_bad_paths(tmp_path, name, content, match):
    p = tmp_path / name
    if content is not None:
        p.write_bytes(content)
    with pytest.raises(InputError, match=match):
        read_recording(p)


def test_bad_regex_is_an_input_error(tmp_path):
    f = tmp_path / "ok.edf"
    write_edf(f, np.zeros((1, 400)) + 1e-6, 200.0, ["Cz"])
    with pytest.raises(InputError, match="regex"):
        read_recording(f, ieeg_channels="([")


@pytest.mark.skipif(not (DATA / "sample_ecog").is_dir(), reason="sample_ecog not found")
def test_fif_keeps_types_and_head_positions():
    rec = read_recording(DATA / "sample_ecog" / "sample_ecog_ieeg.fif")
    assert rec.ch_types.count("ecog") == 320 and rec.ch_types.count("seeg") == 74
    assert rec.coord_frame == "head" and np.isfinite(rec.positions).all()


@pytest.mark.skipif(not (DATA / "pyneuromod_ecog").is_dir(), reason="pyneuromod_ecog not found")
def test_brainvision_bids_types_and_arbitrary_amplitudes():
    f = next((DATA / "pyneuromod_ecog").rglob("*_ieeg.vhdr"))
    rec = read_recording(f)
    t = dict(zip(rec.ch_names, rec.ch_types))
    assert t["ECOG_RIGHT_0"] == "ecog" and t["LFP_RIGHT_0"] == "dbs" and t["MOV_RIGHT"] == "misc"
    assert any("unit scaling" in q for q in rec.quirks)
