"""HDF5 store: round trip, lazy read, scalp/iEEG kept apart, atomic writes."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from ieegrecon.errors import InputError, OutputError
from ieegrecon.io.edf import write_edf
from ieegrecon.io.read import read_recording
from ieegrecon.io.store import open_store, write_store

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def mixed_edf(tmp_path):
    rng = np.random.default_rng(2)
    names = ["EEG T3-Ref", "EEG Cz-Ref", "POL E", "LA1", "LA2", "LA3"]
    data = rng.normal(0, 25e-6, (len(names), 1000))
    f = tmp_path / "mixed.edf"
    write_edf(f, data, 200.0, names)
    return f, data


def test_round_trip_split_lazy(tmp_path, mixed_edf):
    f, data = mixed_edf
    out = write_store([f], tmp_path / "s.h5")
    with open_store(out) as st:
        assert st.entries == ["mixed"]
        assert sorted(st.parts("mixed")) == ["ieeg", "other", "scalp"]
        d = st.data("mixed", "ieeg")
        assert isinstance(d, h5py.Dataset) and d.shape == (3, 1000) and d.compression == "gzip"
        scalp = st.recording("mixed", "scalp")
        assert scalp.ch_names == ["T7", "Cz"] and set(scalp.ch_types) == {"eeg"}
        np.testing.assert_allclose(scalp.data, data[:2], atol=1e-7)
        assert st.renamed("mixed")["EEG T3-Ref"] == "T7"
        assert st.recording("mixed", "ieeg").ch_names == ["LA1", "LA2", "LA3"]
    assert not list(tmp_path.glob(".*.tmp"))


def test_refuses_overwrite_and_input(tmp_path, mixed_edf):
    f, _ = mixed_edf
    out = write_store([read_recording(f)], tmp_path / "s.h5")
    with pytest.raises(OutputError, match="exists"):
        write_store([f], out)
    write_store([f], out, overwrite=True)
    with pytest.raises(OutputError, match="one of the inputs"):
        write_store([f], f, overwrite=True)


def test_open_non_store(tmp_path):
    p = tmp_path / "x.h5"
    with h5py.File(p, "w") as h:
        h["a"] = 1
    with pytest.raises(InputError, match="not an ieegrecon store"):
        open_store(p)
    with pytest.raises(InputError):
        open_store(tmp_path / "none.h5")


@pytest.mark.skipif(not (DATA / "ds004752").is_dir(), reason="ds004752 not found")
def test_sidecar_only_session_keeps_electrodes(tmp_path):
    out = write_store([DATA / "ds004752" / "sub-03" / "ses-01"], tmp_path / "s.h5")
    with open_store(out) as st:
        g = st.group(st.entries[0])
        assert st.entries == ["sub-03_ses-01"] and st.parts(st.entries[0]) == []
        assert g["electrodes"]["positions"].shape[1] == 3 and g["electrodes"].attrs["coord_frame"] == "mni"
        assert any("swapped" in q for q in st.quirks(st.entries[0]))
