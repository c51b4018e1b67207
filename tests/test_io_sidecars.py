"""BIDS sidecars (ieegrecon/io/sidecars.py): channels.tsv tables and JSON sidecar fields, called directly.

Through the session reader these are also tested in tests/test_input_strict.py (test_bad_sidecars)
and tests/test_bids.py (ds004752 quirks).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ieegrecon.errors import InputError
from ieegrecon.io.sidecars import (
    bids_channels_tsv,
    channels_tsv_quirks,
    check_field,
    json_object,
    read_channels_tsv,
)


def _tsv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_channels_tsv_beside_a_bids_signal_file(tmp_path):
    tsv = _tsv(tmp_path / "sub-01_ses-01_task-x_run-01_channels.tsv", "name\ttype\nFp1\tEEG\n")
    assert bids_channels_tsv(tmp_path / "sub-01_ses-01_task-x_run-01_eeg.edf") == tsv
    assert bids_channels_tsv(tmp_path / "sub-01_ses-01_task-x_run-02_eeg.edf") is None  # no table for run 02
    assert bids_channels_tsv(tmp_path / "recording.edf") is None  # not a BIDS name


def test_read_channels_tsv_rows_as_strings(tmp_path):
    tsv = _tsv(tmp_path / "c_channels.tsv", "\ufeffname\ttype\tstatus\nFp1\tEEG\tbad\nA1\tSEEG\n")
    rows = read_channels_tsv(tsv)  # a byte-order mark and a short row are tolerated
    assert rows == {"Fp1": {"name": "Fp1", "type": "EEG", "status": "bad"},
                    "A1": {"name": "A1", "type": "SEEG", "status": ""}}


@pytest.mark.parametrize("text,match", [
    ("name\tunits\nFp1\tV\n", "lacks a 'name' or 'type' column"),
    ("name\ttype\nFp1\tEEG\nFp1\tEEG\n", r"duplicate channel names \['Fp1'\]"),
])
def test_read_channels_tsv_refuses(text, match, tmp_path):
    with pytest.raises(InputError, match=match):
        read_channels_tsv(_tsv(tmp_path / "c_channels.tsv", text))


def test_swapped_cutoffs_quirk(tmp_path):
    rows = {"A1": {"low_cutoff": "1000", "high_cutoff": "0.5"}, "A2": {"low_cutoff": "n/a", "high_cutoff": "n/a"}}
    (q,) = channels_tsv_quirks(rows, tmp_path / "x_channels.tsv")
    assert "x_channels.tsv" in q and "1/2 channels" in q and "0.5-1000 Hz band-pass" in q
    assert channels_tsv_quirks({"A1": {"low_cutoff": "0.5", "high_cutoff": "1000"}}, tmp_path / "x.tsv") == []


def test_json_object_and_field_types(tmp_path):
    js = tmp_path / "x_ieeg.json"
    assert json_object({"a": 1}, js) == {"a": 1}
    with pytest.raises(InputError, match="JSON sidecar is a list, not an object"):
        json_object([1], js)
    check_field({"SamplingFrequency": 200, "RecordingType": None}, "SamplingFrequency", js)
    check_field({"RecordingType": None}, "RecordingType", js)  # JSON null is allowed
    for meta, key, want in (({"SamplingFrequency": True}, "SamplingFrequency", "a finite number"),
                            ({"SamplingFrequency": float("nan")}, "SamplingFrequency", "a finite number"),
                            ({"iEEGCoordinateSystem": 152}, "iEEGCoordinateSystem", "a string")):
        with pytest.raises(InputError, match=f"field '{key}' is .* expected {want}"):
            check_field(meta, key, js)
