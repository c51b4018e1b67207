"""Evaluation parts of the IED metrics and CAST's protocol: ground truth from events.tsv, per-channel scores,
the scalp-to-contact rule, the montages, and the selection threshold chosen on calibration data."""

import numpy as np
import pytest

from ieegrecon.errors import UsageError
from ieegrecon.evaluation.events import channel_truth, read_truth, reference_columns, scalp_events, scores
from ieegrecon.evaluation.selection import selection_columns, selection_threshold
from ieegrecon.montages import rereference
from ieegrecon.simulate.ied import complex_waveform

FS = 200.0


def _events(tmp_path, rows):
    d = tmp_path / "ses-02" / "ieeg"
    d.mkdir(parents=True)
    lines = ["onset\tduration\ttrial_type\tchannels"] + ["\t".join(map(str, r)) for r in rows]
    (d / "sub-01_ses-02_task-sim_run-01_events.tsv").write_text("\n".join(lines) + "\n")
    return d.parent


def test_read_truth_offsets_borders_and_contacts(tmp_path):
    ses = _events(tmp_path, [(0.5, 0.3, "IED", "A1,A2"), (12.0, 0.3, "IED", "A2"), (15.0, 5.0, "state/drowsy", "all"),
                             (30.0, 0.3, "IED", "B1"), (69.5, 0.3, "IED", "A1")])
    onsets, contacts = read_truth(ses, offset_s=10.0, duration_s=60.0)
    # 0.5 s is before the test part, 69.5 - 10 = 59.5 s is within 1 s of its end
    np.testing.assert_allclose(onsets, [2.0, 20.0])
    assert contacts == [{"A2"}, {"B1"}]
    names, _, members = rereference(["A1", "A2", "A3", "B1"], np.zeros((4, 10)), "bipolar")
    assert names == ["A1-A2", "A2-A3"] and members == [(0, 1), (1, 2)]
    truth = channel_truth((onsets, contacts), ["A1", "A2", "A3", "B1"], members)
    np.testing.assert_allclose(truth[0], [2.0])
    np.testing.assert_allclose(truth[1], [2.0])
    assert read_truth(tmp_path / "nothing", 0.0, 60.0) is None
    assert read_truth(_events(tmp_path / "v", [(3.0, 1.0, "state/drowsy", "all")]), 0.0, 60.0) is None


def test_scores_per_channel():
    truth = [np.array([5.0, 10.0]), np.zeros(0), np.zeros(0)]
    det = [np.array([5.03, 20.0]), np.array([7.0]), np.zeros(0)]
    s = scores(det, truth)
    np.testing.assert_allclose(s["ied_sensitivity"][:1], [0.5])
    np.testing.assert_allclose(s["ied_precision"][:2], [0.5, 0.0])
    np.testing.assert_allclose(s["ied_f1"][:2], [0.5, 0.0])  # a false alarm on a contact without IEDs: F1 0
    assert np.isnan(s["ied_f1"][2]) and np.isnan(s["ied_sensitivity"][1])
    assert all(np.isnan(v).all() for v in scores(det, None).values())


def test_scalp_events_count_on_every_contact():
    rng = np.random.default_rng(0)
    n = int(40 * FS)
    scalp = rng.standard_normal((3, n)) * 5e-6
    ieeg = rng.standard_normal((2, n)) * 5e-6
    w = complex_waveform(FS, 0.03, 0.2)
    for t in (10.0, 20.0, 30.0):  # on two scalp channels at once: one scalp event each
        i = int(t * FS)
        scalp[:2, i:i + len(w)] += 8 * 5e-6 * w
        ieeg[0, i:i + len(w)] += 10 * 5e-6 * w
    ev = scalp_events(scalp, FS, 50.0)
    assert len(ev) == 3 and np.all(np.abs(ev - [10.0, 20.0, 30.0]) < 0.1)
    truth = [np.array([10.0, 20.0, 30.0]), np.array([20.0])]
    cols = reference_columns(truth, ieeg, scalp, FS, 50.0)
    assert cols["ied_f1_ieeg"][0] == 1.0
    assert cols["ied_f1_ieeg"][1] == 0.0  # its IED is not visible on the true signal: missed
    assert cols["ied_f1_scalp"][0] == 1.0  # every scalp event is one of contact 0's IEDs
    assert cols["ied_sensitivity_scalp"][1] == 1.0 and cols["ied_precision_scalp"][1] == pytest.approx(1 / 3)
    assert all(np.isnan(v).all() for v in reference_columns(None, ieeg, scalp, FS, 50.0).values())


def test_rereference_average_and_refusal():
    x = np.arange(12.0).reshape(3, 4)
    names, y, members = rereference(["A1", "A2", "B1"], x, "average")
    np.testing.assert_allclose(y, x - x.mean(axis=0))
    assert names == ["A1", "A2", "B1"] and members == [(0,), (1,), (2,)]
    assert rereference(["A1"], x[:1], "recorded")[1] is not None
    with pytest.raises(UsageError, match="the 'scheme' parameter"):
        rereference(["A1"], x[:1], "laplacian")


def test_selection_threshold_keeps_reliable_contacts():
    rng = np.random.default_rng(0)
    n = 4000
    s = rng.standard_normal((6, n))
    y = s + rng.standard_normal((6, n)) * np.array([0.3, 0.5, 0.8, 3.0, 5.0, 10.0])[:, None]
    # r ≈ 0.96, 0.89, 0.78, 0.32, 0.2, 0.1: the good three are worth keeping over a 0.5 level
    t = selection_threshold(y, s, level=0.5)
    r = np.array([np.corrcoef(a, b)[0, 1] for a, b in zip(y, s)])
    assert r[3] < t <= r[2]
    cols = selection_columns(np.array([0.9, 0.8, 0.7, 0.3, 0.2, 0.1]), r, t)
    np.testing.assert_allclose(cols["selected_fraction"], [1, 1, 1, 0, 0, 0])
    assert np.nanmean(cols["selected_r"]) == pytest.approx(0.8)
    assert selection_threshold(y[3:], s[3:], level=0.5) == np.inf  # nothing worth selecting
    assert np.isnan(selection_columns(r, None, None)["selected_r"]).all()
