"""Tests of the CAST model and of the generic training utilities."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from scipy.signal import lfilter

from ieegrecon.channels import STANDARD_1020_19
from ieegrecon.models.base import ContactInfo, PairedSegment, get_model_class
from ieegrecon.errors import ModelInputMismatch
from ieegrecon.headmodel import scalp_positions
from ieegrecon.metrics import pearson_r
from ieegrecon.models.cast import CastModel
from ieegrecon.models.io import load_model, save_model

SFREQ = 200.0
EIGHT = ["F3", "F4", "C3", "C4", "O1", "O2", "A1", "A2"]  # ds004752 sub-02/03/07/09 montage


def _sources(rng: np.random.Generator, n_src: int = 10) -> np.ndarray:
    d = rng.normal(size=(n_src, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    return d * rng.uniform(0.02, 0.06, size=(n_src, 1))


def _segment(rng, src_pos, n_times, scalp_names=STANDARD_1020_19, n_contacts=12, subject="s",
             contact_pos=None) -> PairedSegment:
    """Synthetic subject: resonant sources mixed by inverse-square gains into scalp and contacts."""
    n_src = len(src_pos)
    s = np.empty((n_src, n_times))
    for i in range(n_src):
        f = rng.uniform(3, 30)
        s[i] = lfilter([1], [1, -2 * 0.97 * np.cos(2 * np.pi * f / SFREQ), 0.97**2], rng.normal(size=n_times))
    s /= s.std(1, keepdims=True)
    if contact_pos is None:
        contact_pos = src_pos[rng.integers(0, n_src, n_contacts)] + rng.normal(scale=0.01, size=(n_contacts, 3))

    def gains(p):
        return 1.0 / (np.linalg.norm(p[:, None] - src_pos[None], axis=2) / 0.02) ** 2

    scalp = gains(scalp_positions(list(scalp_names))) @ s * 5e-6
    scalp += rng.normal(scale=0.3 * scalp.std(), size=scalp.shape)
    ieeg = gains(contact_pos) @ s * 1e-5
    ieeg += rng.normal(scale=0.2 * ieeg.std(), size=ieeg.shape)
    k = len(contact_pos)
    ci = ContactInfo([f"c{i}" for i in range(k)], contact_pos, ["precentral_L"] * k, ["deep"] * k)
    return PairedSegment(scalp, ieeg, SFREQ, list(scalp_names), ci, subject)


def _small(**kw) -> CastModel:
    return CastModel(d_model=16, n_heads=2, n_layers=1, **kw)


@pytest.fixture(scope="module")
def pretrained() -> tuple[CastModel, dict]:
    rng = np.random.default_rng(1)
    segs = [_segment(rng, _sources(rng), int(40 * SFREQ), subject=f"s{i}",
                     scalp_names=STANDARD_1020_19 if i % 2 else EIGHT) for i in range(3)]
    m = _small()
    info = m.pretrain(segs, epochs=2, seed=0, max_windows_per_epoch=60)
    return m, info


# ------------------------------------------------------------------ model
def test_predict_on_two_workers_equals_one(monkeypatch):
    """Batches of windows run side by side (ieegrecon._threads.ordered_map) and are added in order."""
    from ieegrecon import _threads

    rng = np.random.default_rng(4)
    m = _small()
    seg = _segment(rng, _sources(rng), int(37.3 * SFREQ), scalp_names=EIGHT, n_contacts=4)
    m.set_targets(seg.contacts, EIGHT)
    one = m.predict(seg.scalp)
    monkeypatch.setitem(_threads._policy, "n_threads", 2)
    assert np.array_equal(m.predict(seg.scalp), one)


@pytest.mark.parametrize("names", [EIGHT, list(STANDARD_1020_19)])
@pytest.mark.parametrize("n_times", [1001, 151])
def test_predict_shape_any_scalp_subset_and_odd_length(names, n_times):
    rng = np.random.default_rng(0)
    m = _small()
    seg = _segment(rng, _sources(rng), n_times, scalp_names=names, n_contacts=5)
    m.set_targets(seg.contacts, names)
    y = m.predict(seg.scalp)
    assert y.shape == (5, n_times) and np.all(np.isfinite(y))
    assert get_model_class("cast") is CastModel


def test_mismatched_scalp_rows_and_bad_inputs_raise():
    rng = np.random.default_rng(0)
    m = _small()
    seg = _segment(rng, _sources(rng), 800, scalp_names=EIGHT, n_contacts=3)
    with pytest.raises(ValueError, match="no targets"):
        m.scalp_names = list(EIGHT)
        m.predict(seg.scalp)
    m.set_targets(seg.contacts, EIGHT)
    with pytest.raises(ValueError, match="expected scalp of shape"):
        m.predict(seg.scalp[:7])
    with pytest.raises(ModelInputMismatch, match=r"\['XYZ'\] are not 10-05 electrodes"):
        m.set_targets(seg.contacts, ["F3", "XYZ"])
    with pytest.raises(ValueError, match="zero-shot"):
        m.calibrate(seg, minutes=0)
    bad = PairedSegment(seg.scalp, seg.ieeg, 250.0, EIGHT, seg.contacts)
    with pytest.raises(ValueError, match="Hz"):
        m.calibrate(bad)


def test_pretrain_is_deterministic_under_seed():
    rng = np.random.default_rng(2)
    segs = [_segment(rng, _sources(rng), int(12 * SFREQ), subject=f"s{i}") for i in range(2)]
    states = []
    for seed in (3, 3, 4):
        m = _small()
        m.pretrain(segs, epochs=1, seed=seed, max_windows_per_epoch=16, batch_size=8)
        states.append(m.state_dict())
    assert all(np.array_equal(states[0][k], states[1][k]) for k in states[0])
    assert not all(np.array_equal(states[0][k], states[2][k]) for k in states[0])


def test_pretrain_reports_losses_and_zero_shot_scale(pretrained):
    m, info = pretrained
    assert info["epochs_run"] >= 1 and len(info["val_loss"]) == info["epochs_run"]
    assert info["n_val_windows"] > 0
    # contacts of the synthetic subjects have amplitudes of order 1e-5 V
    assert 1e-7 < info["zero_shot_scale"] < 1e-3
    assert m.trained_on["pretrain"]["subjects"] == ["s0", "s1", "s2"]
    # the lag prior pooled the within-subject ridge filters of the three training segments
    assert info["lag_prior"]["used"] and info["lag_prior"]["segments"] == 3
    assert info["lag_prior"]["filters"] == 3 * 12 and m.lag_cov.shape == (len(m.res_lags),) * 2


def test_lag_prior_helps_a_short_calibration(pretrained):
    """15 s of a new subject: residual ridge with the learned lag prior beats the plain penalty on new data."""
    rng = np.random.default_rng(12)
    src = _sources(rng)
    cal = _segment(rng, src, int(15 * SFREQ), subject="new")
    test = _segment(rng, src, int(30 * SFREQ), subject="new", contact_pos=cal.contacts.positions)
    r = {}
    for prior in (True, False):
        m = _copy(pretrained[0])
        if not prior:
            m.lag_cov = None
        info = m.calibrate(cal)
        assert info["residual_ridge"]["lag_prior"] is prior
        r[prior] = np.nanmean(pearson_r(m.predict(test.scalp), test.ieeg))
    assert r[True] > r[False] + 0.01, r


def test_zero_shot_on_unseen_layout(pretrained):
    m, _ = pretrained
    rng = np.random.default_rng(5)
    seg = _segment(rng, _sources(rng), int(10 * SFREQ), scalp_names=EIGHT, n_contacts=4)
    pos = seg.contacts.positions.copy()
    pos[1] = np.nan  # a contact without coordinates
    targets = ContactInfo(["a", "b", "hippocampus_L", "x"], pos, ["precentral_L", "unknown", "hippocampus_L", "zzz"],
                          ["superficial", "deep", "deep", "unknown"])
    m.set_targets(targets, EIGHT)
    y = m.predict(seg.scalp)
    assert y.shape == (4, seg.scalp.shape[1]) and np.all(np.isfinite(y))
    # amplitude in volts comes from the pretraining median scale
    assert 0.01 < np.std(y) / m.zero_shot_scale < 10


def test_calibration_improves_heldout_r(pretrained):
    m, _ = pretrained
    m = _copy(m)
    rng = np.random.default_rng(11)
    src = _sources(rng)
    cal = _segment(rng, src, int(60 * SFREQ), subject="new")
    test = _segment(rng, src, int(30 * SFREQ), subject="new", contact_pos=cal.contacts.positions)
    m.set_targets(cal.contacts, cal.scalp_names)
    r_zero = np.nanmedian(pearson_r(m.predict(test.scalp), test.ieeg))
    info = m.calibrate(cal, epochs=6, seed=0)
    r_cal = np.nanmedian(pearson_r(m.predict(test.scalp), test.ieeg))
    assert len(info["heldout_r"]) == 12 and info["epochs_run"] >= 1
    assert info["heldout_median_r"] > np.nanmedian(info["heldout_r_before"])
    assert r_cal > r_zero + 0.05
    # the residual ridge keeps the network alone as a candidate: it never scores worse in CV
    rr = info["residual_ridge"]
    assert len(rr["cv_r"]) == 12 and all(a >= b - 1e-12 for a, b in zip(rr["cv_r"], rr["cv_r_network"]))
    # least-squares gain: calibrated output is in volts of the right order
    assert 0.05 < np.std(m.predict(test.scalp)) / np.std(test.ieeg) < 2


def test_calibrated_output_does_not_depend_on_the_rest_of_the_input(pretrained):
    """A calibrated model standardizes with the calibration's scalp statistics, not the input's:
    a loud second half leaves the first half's reconstruction unchanged (chunks of a long recording
    get one gain). Zero-shot there is no calibration, so the input's own statistics are used."""
    m = _copy(pretrained[0])
    rng = np.random.default_rng(21)
    src = _sources(rng)
    cal = _segment(rng, src, int(20 * SFREQ), subject="new")
    test = _segment(rng, src, int(20 * SFREQ), subject="new", contact_pos=cal.contacts.positions)
    m.calibrate(cal)
    np.testing.assert_allclose(m.scalp_center, np.median(cal.scalp, axis=1))
    x = test.scalp
    n = x.shape[1] // 2
    loud = np.concatenate([x[:, :n], 5.0 * x[:, n:]], axis=1)
    keep = n - m.win - 50  # windows and lags wholly inside the first half
    np.testing.assert_allclose(m.predict(loud)[:, :keep], m.predict(x[:, :n])[:, :keep], rtol=1e-5,
                               atol=1e-6 * np.abs(test.ieeg).max())
    m.set_targets(cal.contacts, cal.scalp_names)
    assert m.scalp_center is None
    assert not np.allclose(m.predict(loud)[:, :keep], m.predict(x[:, :n])[:, :keep], rtol=1e-3)


def test_short_calibration_says_so(pretrained):
    m = _copy(pretrained[0])
    rng = np.random.default_rng(3)
    seg = _segment(rng, _sources(rng), 450, scalp_names=EIGHT, n_contacts=2)
    info = m.calibrate(seg, epochs=20)
    assert "too short" in info["note"] and info["epochs_run"] <= 5
    assert "skipped" in info["residual_ridge"] and m.res_coef is None
    assert "heldout_r" not in info


def test_save_load_round_trip_is_bit_exact(pretrained, tmp_path):
    m = _copy(pretrained[0])
    rng = np.random.default_rng(4)
    seg = _segment(rng, _sources(rng), int(20 * SFREQ), scalp_names=EIGHT, n_contacts=3)
    m.calibrate(seg, epochs=1)
    save_model(m, tmp_path / "m")
    m2, cfg = load_model(tmp_path / "m")
    assert isinstance(m2, CastModel) and cfg["method"] == "cast"
    s1, s2 = m.state_dict(), m2.state_dict()
    assert s1["residual_coef"].shape == (3, len(EIGHT) * len(m.res_lags))
    assert set(s1) == set(s2) and all(np.array_equal(s1[k], s2[k]) for k in s1)
    assert "lag_prior_cov" in s1 and np.array_equal(m2.lag_cov, m.lag_cov)
    assert np.array_equal(m2.scalp_scale, m.scalp_scale) and len(m.scalp_scale) == len(EIGHT)
    assert m2.scalp_names == EIGHT and m2.contacts.ch_names == seg.contacts.ch_names
    np.testing.assert_array_equal(m.predict(seg.scalp), m2.predict(seg.scalp))


def _copy(m: CastModel) -> CastModel:
    m2 = CastModel(**m.get_params())
    m2.contacts = None
    m2.load_state_dict({k: v for k, v in m.state_dict().items() if k.startswith("net.") or k in ("zero_shot_scale", "lag_prior_cov")})
    return m2
