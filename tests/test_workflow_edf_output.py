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


def test_spilled_output_is_bit_identical_to_whole_array_output(model, mb0400fu, tmp_path):
    """The bounded-memory path (pieces spilled to a file, written a channel at a time) writes exactly the
    bytes the former in-memory path wrote (the whole reconstruction concatenated, then write_edf)."""
    from ieegrecon.io.edf import write_edf
    from ieegrecon.io.edf_verify import verify_edf

    mdl, cfg = model
    res = reconstruct.reconstruct_file(mb0400fu, mdl, cfg, tmp_path / "spilled.edf", samples=0)
    pm = reconstruct.as_patient_model(cfg)
    inp = reconstruct.read_input(mb0400fu, mdl, pm, tmp_path / "x.edf", 0)
    target, _ = reconstruct._edf_target(inp, mdl, pm, tmp_path / "whole.edf", overwrite=False, anonymize=False)
    y = np.concatenate(list(reconstruct.predict_segments(inp.picked, inp.layout, mdl, inp.prep, None, ())), axis=-1)
    assert y.shape[-1] == res.n_times
    write_edf(target.path, y, target.sfreq, target.labels, meas_date=target.meas_date,
              annotations=target.annotations, **target.header,
              verify=lambda tmp: verify_edf(tmp, target.labels, target.n_times, target.sfreq, y))
    assert (tmp_path / "spilled.edf").read_bytes() == target.path.read_bytes()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # the spill file is gone


def test_channel_spill_round_trip(tmp_path):
    from ieegrecon.io.edf_stream import ChannelSpill

    rng = np.random.default_rng(0)
    y = rng.standard_normal((3, 4, 50))
    spill = ChannelSpill(tmp_path, 12, 50)
    for a in range(0, 50, 17):
        spill.write(y[..., a:a + 17])
    assert spill.n_written == 50
    flat = y.reshape(12, 50)
    assert all(np.array_equal(spill[i], flat[i]) for i in range(12))
    band = spill.rows(4, 8)
    assert band.shape == (4, 50) and np.array_equal(band[1], y[1, 1]) and np.array_equal(band.array(), y[1])
    with pytest.raises(ValueError):
        spill.write(y[..., :1])
    spill.close()
    assert not list(tmp_path.iterdir())
