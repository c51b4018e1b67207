"""Real-archive quirks, unit level: the seconds=60 header, trial pieces, pooling, HUP typing and coordinates."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from conftest import SHARED, need
from ieegrecon.channels import non_contact_type, scalp_1020_name
from ieegrecon.io.edf import write_edf
from ieegrecon.io.edf_header import start_time_fix
from ieegrecon.io.read import read_recording
from ieegrecon.models.base import ContactInfo
from ieegrecon.preprocessing import Preprocessing
from ieegrecon.recording import Recording, concatenate, sha256_file
from ieegrecon.workflow.inputs import make_segment_pieces
from ieegrecon.workflow.pieces import predict_pieces, shift_bounds, snap_to_piece

HUP = SHARED / "hup_ds004100" / "sub-HUP060" / "ses-presurgery"


def _edf_with_seconds_60(path):
    rng = np.random.default_rng(0)
    write_edf(path, 20e-6 * rng.normal(size=(3, 400)), 200.0, ["Fp1", "Cz", "O2"],
              meas_date=dt.datetime(2016, 12, 17, 23, 59, 59))
    with open(path, "r+b") as f:
        f.seek(182)
        f.write(b"60")
    return path


def test_start_time_fix_carries_over():
    head = bytearray(b" " * 256)
    head[168:184] = b"31.12.9923.59.60"
    fixed, quirk = start_time_fix(bytes(head))
    assert fixed[168:184] == b"01.01.0000.00.00"  # 60 s -> next minute, hour, day and year
    assert "seconds out of range" in quirk and "\n" not in quirk
    head[168:184] = b"17.12.1612.14.59"
    assert start_time_fix(bytes(head)) is None


@pytest.mark.parametrize("preload", [True, False])
def test_seconds_60_read_through_a_patched_copy(tmp_path, preload):
    edf = _edf_with_seconds_60(tmp_path / "sub-01_ses-01_task-x_run-01_eeg.edf")
    before = sha256_file(edf)
    rec = read_recording(edf, preload=preload)
    assert rec.meas_date.replace(tzinfo=None) == dt.datetime(2016, 12, 18, 0, 0, 0)
    line = [q for q in rec.quirks if "start time" in q]
    assert len(line) == 1 and "23.59.60" in line[0] and "file is unchanged" in line[0]
    assert np.asarray(rec.data[:, :10]).shape == (3, 10)
    assert sha256_file(edf) == before and edf.read_bytes()[182:184] == b"60"


def test_hup_names_typed_by_name():
    assert scalp_1020_name("FP1") == "Fp1" and scalp_1020_name("T3") == "T7" and scalp_1020_name("cz") == "Cz"
    assert scalp_1020_name("RH1") is None
    assert non_contact_type("EKG1", "seeg") == "ecg" and non_contact_type("FZ", "seeg") == "eeg"
    assert non_contact_type("RA1", "seeg") == "seeg" and non_contact_type("FZ", "misc") == "misc"


def _rec(data, sfreq, names, types, boundaries=()):
    return Recording(data, sfreq, names, types, boundaries=list(boundaries))


def test_segments_cut_at_boundaries_and_concatenate():
    rec = _rec(np.zeros((1, 1000)), 100.0, ["a"], ["seeg"], boundaries=[2.0, 6.0])
    assert rec.segments() == [(0, 200), (200, 600), (600, 1000)]
    assert rec.crop(1.0, 8.0).boundaries == [1.0, 5.0]
    joined = concatenate([rec, rec])
    assert joined.n_times == 2000 and joined.boundaries == [2.0, 6.0, 10.0, 12.0, 16.0]
    assert "pooled end to end" in joined.quirks[-1]


def test_pieces_filtered_and_predicted_one_by_one():
    """A step between two trials leaks into neither: each piece is filtered and lagged on its own."""
    rng = np.random.default_rng(1)
    fs, n = 200.0, 1600
    x = 10e-6 * rng.normal(size=(4, 2 * n))
    x[:, n:] += 500e-6  # a DC jump at the trial boundary
    scalp = _rec(x, fs, ["Fp1", "Cz", "O1", "O2"], ["eeg"] * 4, boundaries=[n / fs])
    intra = _rec(x[:2].repeat(10, axis=1), 2000.0, ["A1x", "A2x"], ["seeg"] * 2, boundaries=[n / fs])
    contacts = ContactInfo(["A1x", "A2x"], np.full((2, 3), np.nan))
    seg, bounds = make_segment_pieces(scalp, intra, contacts, Preprocessing(line_freq=None))
    assert bounds == [(0, n), (n, 2 * n)]
    whole = make_segment_pieces(_rec(x, fs, scalp.ch_names, scalp.ch_types),
                                _rec(intra.data, 2000.0, intra.ch_names, intra.ch_types), contacts,
                                Preprocessing(line_freq=None))[0]
    edge = slice(n - 20, n + 20)  # the high-pass rings on the step when it filters across the boundary
    assert np.abs(seg.ieeg[:, edge]).max() < 0.2 * np.abs(whole.ieeg[:, edge]).max()

    class Lag:  # y[t] = x[t - 5]: a lag reaching 5 samples back
        def predict(self, s):
            return np.concatenate([np.zeros((s.shape[0], 5)), s[:, :-5]], axis=1)

    y = predict_pieces(Lag(), seg.scalp, bounds, fs, margin_s=0.1)
    assert np.allclose(y[:, n:n + 5], seg.scalp[:, n + 1:n + 6][:, ::-1])  # mirrored trial 2, not trial 1
    assert shift_bounds(bounds, 1000, 2 * n) == [(0, 600), (600, 2200)]
    assert snap_to_piece(1000, bounds) == n and snap_to_piece(1000, [(0, 2 * n)]) == 1000


def test_hup_electrodes_frame_units_and_map():
    from ieegrecon.atlas import map_contacts
    from ieegrecon.io.electrodes import read_electrodes

    el = read_electrodes(need(HUP))
    assert "FP1" not in el.names and "EKG1" not in el.names and len(el.names) == 38
    assert np.nanmax(np.abs(el.positions)) < 0.1  # metres after reading mm declared as m
    lines = " | ".join(el.quirks)
    assert "byte-order mark" in lines and "declares metres but the values are millimetres" in lines
    assert "fsaverage (MNI305): converted to MNI152" in lines and all("\n" not in q for q in el.quirks)
    df = map_contacts(el.names, el.positions).set_index("name")
    assert df.loc["RH1", "region_key"] == "hippocampus_R" and df.loc["RA1", "region_key"] == "amygdala_R"


def test_unseen_hup_layout_map(tmp_path):
    """A HUP-style table not seen before (STG/MTG/HIPP shafts): temporal cortex and hippocampus."""
    from ieegrecon.atlas import map_contacts
    from ieegrecon.io.electrodes import mni305_to_mni152, read_electrodes

    mni = {"LSTG1": (-60, -20, 4), "LMTG1": (-64, -30, -8), "LHIPP1": (-26, -22, -14),
           "RSTG1": (58, -18, 2), "RMTG1": (62, -34, -6), "RHIPP1": (28, -20, -14)}
    d = tmp_path / "sub-HUP999" / "ses-presurgery" / "ieeg"
    d.mkdir(parents=True)
    stem = "sub-HUP999_ses-presurgery_acq-seeg_space-fsaverage"
    rows = ["CZ\tn/a\tn/a\tn/a", "EKG1\tn/a\tn/a\tn/a"] + [
        f"{n}\t" + "\t".join(f"{v:.4f}" for v in mni305_to_mni152(np.array([p]) * 1e-3, inverse=True)[0] * 1e3)
        for n, p in mni.items()]
    (d / f"{stem}_electrodes.tsv").write_text("\ufeffname\tx\ty\tz\n" + "\n".join(rows) + "\n", encoding="utf-8")
    (d / f"{stem}_coordsystem.json").write_text('{"iEEGCoordinateSystem": "fsaverage", "iEEGCoordinateUnits": "m"}')
    (d / "sub-HUP999_ses-presurgery_task-interictal_run-01_channels.tsv").write_text(
        "name\ttype\tstatus\n" + "".join(f"{n}\tSEEG\tgood\n" for n in ["CZ", "EKG1", *mni]))
    el = read_electrodes(d.parent)
    df = map_contacts(el.names, el.positions).set_index("name")
    assert el.names == list(mni)
    for n in mni:
        key = df.loc[n, "region_key"]
        assert key == ("hippocampus_" if "HIPP" in n else ("superiortemporal_" if "STG" in n else
                                                           "middletemporal_")) + n[0]
