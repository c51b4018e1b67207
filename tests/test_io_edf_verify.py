"""verify_edf: the written EDF read back (header by pyedflib, samples in one pass over the records)."""

from __future__ import annotations

import numpy as np
import pytest

from ieegrecon.errors import OutputError
from ieegrecon.io.edf import write_edf
from ieegrecon.io.edf_verify import _data_records, verify_edf

NAMES = ["A1x", "B2", "C3x", "D4"]


@pytest.fixture
def written(tmp_path):
    rng = np.random.default_rng(3)
    data = rng.normal(0.0, 50e-6, (4, 2000)) + np.arange(4)[:, None] * 20e-6
    path = tmp_path / "x.edf"
    write_edf(path, data, 200.0, NAMES)
    return path, data


def test_intact_file_passes_and_layout_matches_pyedflib(written):
    import pyedflib

    path, data = written
    verify_edf(path, NAMES, data.shape[1], 200.0, data)
    with pyedflib.EdfReader(str(path)) as r:
        ref = [r.readSignal(i, digital=True) for i in range(4)]
    records, offsets, spr = _data_records(path, 4)  # the EDF+ annotation signal is skipped
    for i in range(4):
        assert np.array_equal(records[:, offsets[i]:offsets[i] + spr[i]].reshape(-1)[:2000], ref[i][:2000])


def test_one_corrupted_sample_of_a_later_channel_is_caught(written):
    path, data = written
    records, offsets, _ = _data_records(path, 4)
    header = path.stat().st_size - records.size * 2
    del records
    raw = bytearray(path.read_bytes())
    pos = header + 2 * (offsets[2] + 17)  # channel C3x, first record, sample 17
    raw[pos:pos + 2] = (int.from_bytes(raw[pos:pos + 2], "little", signed=True) // 2 + 9000).to_bytes(
        2, "little", signed=True)
    path.write_bytes(bytes(raw))
    with pytest.raises(OutputError, match="C3x"):
        verify_edf(path, NAMES, data.shape[1], 200.0, data)


def test_other_data_or_labels_are_refused(written):
    path, data = written
    with pytest.raises(OutputError, match="differs by"):
        verify_edf(path, NAMES, data.shape[1], 200.0, data[::-1])
    with pytest.raises(OutputError, match="labels"):
        verify_edf(path, NAMES[::-1], data.shape[1], 200.0, None)
    with pytest.raises(OutputError, match="samples"):
        verify_edf(path, NAMES, data.shape[1] + 400, 200.0, None)
