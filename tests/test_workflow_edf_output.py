"""Long recordings: chunked processing and streamed EDF writing give the same surrogate."""

from __future__ import annotations

import mne
import numpy as np
import pyedflib
import pytest

from ieegrecon.models.io import load_patient_model
from ieegrecon.workflow import chunking, reconstruct
from ieegrecon.workflow.calibrate import calibrate


@pytest.fixture(scope="module")
def model(linear_session, tmp_path_factory):
    out = tmp_path_factory.mktemp("stream") / "pm"
    calibrate(linear_session, method="ridge", minutes=1.5, out=out)
    return load_patient_model(out)


def test_streamed_output_equals_in_memory_output(model, mb0400fu, tmp_path, monkeypatch):
    mdl, cfg = model
    ref = reconstruct.reconstruct_file(mb0400fu, mdl, cfg, tmp_path / "mem.edf")
    monkeypatch.setattr(reconstruct, "STREAM_OVER_S", 5.0)
    monkeypatch.setattr(chunking, "CHUNK_S", 7.0)
    res = reconstruct.reconstruct_file(mb0400fu, mdl, cfg, tmp_path / "stream.edf")
    assert any("streamed" in n for n in res.notes)
    a = mne.io.read_raw_edf(tmp_path / "mem.edf", verbose=False)
    b = mne.io.read_raw_edf(tmp_path / "stream.edf", verbose=False)
    assert a.ch_names == b.ch_names and a.n_times == b.n_times == ref.n_times
    assert a.info["meas_date"] == b.info["meas_date"]
    # same signal up to EDF quantization: the in-memory file's range is each channel's own, the streamed
    # one's STREAM_RANGE_SCALE times the calibration's (fixed in advance): half a step of each
    step = np.array([(hi - lo) / 65535 for lo, hi in
                     (cfg.physical_range_uv[c] for c in ref.ch_names)]) * 1e-6
    step_b = reconstruct.STREAM_RANGE_SCALE * step
    with pyedflib.EdfReader(str(tmp_path / "mem.edf")) as f:  # own range (V) / levels
        step_a = np.array([f.getPhysicalMaximum(i) - f.getPhysicalMinimum(i) for i in range(len(step))]) * 1e-6 / 65535
    diff = np.abs(a.get_data() - b.get_data()).max(axis=1)
    assert np.all(diff <= 1.01 * (step_a + step_b)), diff / step_b
    assert res.n_clipped == ref.n_clipped == dict.fromkeys(ref.ch_names, 0)
    texts_a = [x["description"] for x in a.annotations]
    texts_b = [x["description"] for x in b.annotations]
    # EDFlib's 40-character limit: the streamed file splits long texts, losing nothing
    assert all(len(t) <= 40 for t in texts_b)
    joined = " ".join(texts_b)
    for t in texts_a:
        assert t in joined
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_streamed_write_leaves_nothing_when_interrupted(model, mb0400fu, tmp_path, monkeypatch):
    mdl, cfg = model
    monkeypatch.setattr(reconstruct, "STREAM_OVER_S", 5.0)
    monkeypatch.setattr(chunking, "CHUNK_S", 7.0)
    calls = {"n": 0}
    real = mdl.predict

    def flaky(x):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(x)

    monkeypatch.setattr(mdl, "predict", flaky)
    with pytest.raises(KeyboardInterrupt):
        reconstruct.reconstruct_file(mb0400fu, mdl, cfg, tmp_path / "x.edf")
    assert list(tmp_path.iterdir()) == []
