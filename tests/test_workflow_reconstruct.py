"""The surrogate's signal does not mislead: no border transients, no silent clipping, SURROGATE beside each trace."""

from __future__ import annotations

import mne
import numpy as np
import pyedflib
import pytest

from ieegrecon.workflow import reconstruct
from ieegrecon.workflow.calibrate import calibrate
from ieegrecon.workflow.inputs import match_scalp_channels
from ieegrecon.io.edf import strip_surrogate_label, surrogate_label, write_edf
from ieegrecon.io.edf_stream import StreamedEdfWriter
from ieegrecon.io.read import read_recording
from ieegrecon.models import load_model
from ieegrecon.preprocessing import Preprocessing, extend_by_reflection
from ieegrecon.recording import Annotation
from ieegrecon.workflow.chunking import predict_chunked

FS = 200


@pytest.fixture(scope="module")
def model(linear_session, tmp_path_factory):
    out = tmp_path_factory.mktemp("signal") / "pm"
    calibrate(linear_session, method="ridge", minutes=1.5, out=out)
    mdl, cfg = load_model(out)
    return mdl, cfg


@pytest.fixture(scope="module")
def surrogate(model, mb0400fu, tmp_path_factory):
    """MB0400FU reconstructed in memory (the usual path for outputs under an hour)."""
    mdl, cfg = model
    out = tmp_path_factory.mktemp("recon") / "recon.edf"
    return reconstruct.reconstruct_file(mb0400fu, mdl, cfg, out), out


def _per_second(y: np.ndarray) -> np.ndarray:
    """Median over channels of max|y| in each second."""
    return np.array([np.median(np.abs(y[:, k * FS:(k + 1) * FS]).max(axis=1)) for k in range(y.shape[1] // FS)])


def test_crop_borders_look_like_the_same_seconds_inside_the_recording(model, mb0400fu):
    # before the border rule, the last second of a 5-25 s crop was ~7x the same second of the full file
    mdl, cfg = model
    prep = Preprocessing.from_dict(cfg["extra"]["preprocessing"])
    rec = read_recording(mb0400fu)
    scalp = rec.pick_types(("eeg",))
    x = scalp.pick(match_scalp_channels(scalp, mdl.scalp_names)).data
    def predict(seg):  # one contiguous segment through the pipeline's chunking and border rule
        pieces = predict_chunked(lambda i, j: seg[:, i:j], seg.shape[1], FS, mdl, prep)
        return np.concatenate(list(pieces), axis=-1)

    full = _per_second(predict(x))
    a, b = 5, 25
    crop = _per_second(predict(x[:, a * FS:b * FS]))
    ratio = crop / full[a:b]
    assert 0.5 <= ratio[0] <= 2.0 and 0.5 <= ratio[-1] <= 2.0, ratio
    np.testing.assert_allclose(ratio[5:-5], 1.0, rtol=1e-3)  # the interior is the same signal


def test_read_ahead_chunks_equal_serial_chunks(model, mb0400fu, monkeypatch):
    """Ridge reads the next chunk on a second thread (ReconModel.reads_ahead): the pieces are the same."""
    from ieegrecon import _threads

    mdl, cfg = model
    assert type(mdl).reads_ahead
    prep = Preprocessing.from_dict(cfg["extra"]["preprocessing"])
    rec = read_recording(mb0400fu)
    scalp = rec.pick_types(("eeg",))
    x = scalp.pick(match_scalp_channels(scalp, mdl.scalp_names)).data
    calls = []

    def get(i, j):
        calls.append(i)
        return x[:, i:j]

    serial = list(predict_chunked(get, x.shape[1], FS, mdl, prep, chunk_s=6.0))
    monkeypatch.setitem(_threads._policy, "n_threads", 2)
    ahead = list(predict_chunked(get, x.shape[1], FS, mdl, prep, chunk_s=6.0))
    assert len(serial) == len(ahead) > 2 and calls[:len(serial)] == calls[len(serial):]  # read in order
    for a, b in zip(serial, ahead):
        assert np.array_equal(a, b)


def test_reflection_continues_line_noise_and_keeps_the_segment():
    t = np.arange(4 * FS) / FS
    x = np.vstack([50e-6 * np.sin(2 * np.pi * 50 * t + 0.3), 1e-5 * t])
    ext = extend_by_reflection(x, 300, 500, sfreq=FS, line_freq=50.0)
    assert ext.shape == (2, 300 + x.shape[1] + 500)
    np.testing.assert_array_equal(ext[:, 300:300 + x.shape[1]], x)
    tt = np.arange(-300, x.shape[1] + 500) / FS
    np.testing.assert_allclose(ext[0], 50e-6 * np.sin(2 * np.pi * 50 * tt + 0.3), atol=1e-9)  # phase kept


def test_in_memory_surrogate_clips_nothing(surrogate):
    # the old physical range (±8 calibration SD) clipped ~2 % of this example's samples
    res, out = surrogate
    assert sum(res.n_clipped.values()) == 0 and not any("clipped" in n for n in res.notes)
    with pyedflib.EdfReader(str(out)) as f:
        for i in range(f.signals_in_file):
            d = f.readSignal(i, digital=True)
            assert f.getDigitalMinimum(i) < d.min() and d.max() < f.getDigitalMaximum(i), f.getLabel(i)
        assert not [t for t in f.readAnnotations()[2] if t.startswith("CLIPPED")]


def test_surrogate_marker_beside_each_trace_and_contacts_still_match(surrogate, model):
    # EDFbrowser shows only the label beside a trace: it carries SURROGATE; our reader strips it
    res, out = surrogate
    contacts = model[0].contacts.ch_names
    with pyedflib.EdfReader(str(out)) as f:
        labels = [s.strip() for s in f.getSignalLabels()]
    assert labels == [f"{c} SURROGATE" for c in contacts]
    rec = read_recording(out)
    assert rec.ch_names == list(contacts) and set(rec.ch_types) == {"seeg"}
    assert any("surrogate marker" in q for q in rec.quirks)
    assert res.ch_names == list(contacts) and set(res.n_clipped) == set(contacts)


def test_label_marker_fits_sixteen_characters():
    assert surrogate_label("LA1") == "LA1 SURROGATE"
    assert surrogate_label("RHippo12") == "RHippo12 SUR"
    assert surrogate_label("A_very_long_lab") == "A_very_long_lab"  # no room: left as is
    for name in ("LA1", "RHippo12", "A_very_long_lab", "SUR", "Fp1"):
        assert strip_surrogate_label(surrogate_label(name)) == name


def test_streamed_writer_counts_and_annotates_clipping(tmp_path):
    out = tmp_path / "s.edf"
    w = StreamedEdfWriter(out, ["A1 SURROGATE", "A2 SURROGATE"], 10, [(-100.0, 100.0)] * 2)
    x = np.zeros((2, 95))  # EDFlib stores one annotation per data record (1 s): enough records for the texts
    x[1, 22] = 5e-3  # one outlier of 5000 µV at 2.2 s
    w.write(x[:, :20])
    w.write(x[:, 20:])
    w.close()
    assert w.n_clipped == {"A1 SURROGATE": 0, "A2 SURROGATE": 1}
    raw = mne.io.read_raw_edf(out, verbose=False)
    text = " ".join(raw.annotations.description)
    assert "CLIPPED: 1 samples in 1 channels" in text and "2.20 s" in text


def test_in_memory_writer_annotates_clipping_with_a_given_range(tmp_path):
    x = np.zeros((2, 40))
    x[0, 5] = -1e-3
    rep = write_edf(tmp_path / "m.edf", x, 10.0, ["A", "B"], physical_range_uv=[(-100, 100)] * 2,
                    annotations=[Annotation(0.0, 0.0, "SURROGATE: test")])
    assert rep.n_clipped == {"A": 1, "B": 0}
    texts = list(mne.io.read_raw_edf(tmp_path / "m.edf", verbose=False).annotations.description)
    assert "SURROGATE: test" in texts and any(t.startswith("CLIPPED: 1 samples in 1 channels") for t in texts)


def test_streamed_reconstruction_reports_clipping(model, mb0400fu, tmp_path, monkeypatch):
    # a streamed output's range is fixed in advance; force it narrow: clipping is counted, noted, annotated
    mdl, cfg = model
    monkeypatch.setattr(reconstruct, "STREAM_OVER_S", 5.0)
    monkeypatch.setattr(reconstruct, "STREAM_RANGE_SCALE", 0.5)
    res = reconstruct.reconstruct_file(mb0400fu, mdl, cfg, tmp_path / "s.edf")
    n = sum(res.n_clipped.values())
    assert n > 0 and any(f"{n} samples in" in note for note in res.notes)
    texts = " ".join(mne.io.read_raw_edf(tmp_path / "s.edf", verbose=False).annotations.description)
    assert f"CLIPPED: {n} samples" in texts


def test_only_surrogates_lose_the_label_marker(tmp_path):
    """A recording that is not an ieegrecon surrogate keeps a label ending in ' SUR' (e.g. a vendor's name)."""
    from ieegrecon.io.read import read_recording

    x = np.random.default_rng(0).normal(size=(2, 400)) * 20e-6
    write_edf(tmp_path / "plain.edf", x, 200.0, ["Cz", "LA1 SUR"])
    rec = read_recording(tmp_path / "plain.edf")
    assert rec.ch_names[1] == "LA1 SUR" and not any("surrogate marker" in q for q in rec.quirks)
