"""Tests of the conditional flow model and the uncertainty utilities (tiny sizes)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import lfilter

from ieegrecon.models.base import ContactInfo, PairedSegment
from ieegrecon.models import _flow_draw
from ieegrecon.models._flow_fit import conformal_quantile
from ieegrecon.models.flow import FlowModel
from ieegrecon.workflow.uncertainty import (
    coverage,
    coverage_summary,
    read_uncertainty_h5,
    write_uncertainty_h5,
)

SF = 200.0
SCALP = ["Fz", "Cz", "Pz", "Oz"]


def _toy(n_s: float, seed: int, scalp_names=SCALP) -> PairedSegment:
    """Scalp AR(1) noise; contacts = linear mixes of it plus AR(1) noise the scalp cannot explain."""
    rng = np.random.default_rng(seed)
    n = int(n_s * SF)
    x = lfilter([1], [1, -0.9], rng.standard_normal((len(scalp_names), n)), axis=1) * 1e-5
    noise = lfilter([1], [1, -0.8], rng.standard_normal((3, n)), axis=1) * 5e-6
    y = np.stack([x[0] + 0.5 * x[1], x[2] - x[-1], x[1]]) + noise + 2e-6
    ci = ContactInfo(["A1", "B2", "C3"], np.array([[0.01, -0.02, 0.0], [0.04, 0.01, 0.02], [np.nan] * 3]),
                     ["hippocampus_L", "precentral_R", "unknown"], ["deep", "superficial", "superficial"])
    return PairedSegment(x, y, SF, list(scalp_names), ci, f"toy{seed}")


@pytest.fixture(scope="module")
def calibrated():
    import torch

    torch.set_num_threads(1)
    seg = _toy(100, 0)
    cut = int(70 * SF)
    model = FlowModel()
    info = model.calibrate(seg.crop_samples(0, cut), seed=0, epochs=2)
    return model, info, seg.crop_samples(cut, seg.scalp.shape[1])


def test_shapes_and_exact_length(calibrated):
    model, _, test = calibrated
    n_t = 1013  # not a multiple of the hop
    x = test.scalp[:, :n_t]
    assert model.predict(x).shape == (3, n_t)
    s = model.sample(x, n_samples=4, seed=1)
    assert s.shape == (4, 3, n_t) and np.all(np.isfinite(s))
    lo, med, hi = model.bands(x, n_samples=8)
    assert lo.shape == med.shape == hi.shape == (3, n_t)
    assert np.all(lo <= med) and np.all(med <= hi)
    # shorter than one window still works
    assert model.predict(test.scalp[:, :30]).shape == (3, 30)


def test_sample_determinism(calibrated):
    model, _, test = calibrated
    x = test.scalp[:, :600]
    a, b = model.sample(x, 3, seed=7), model.sample(x, 3, seed=7)
    c = model.sample(x, 3, seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_predict_tracks_scalp_and_units(calibrated):
    model, _, test = calibrated
    pred = model.predict(test.scalp)
    r = [np.corrcoef(pred[k], test.ieeg[k])[0, 1] for k in range(3)]
    assert min(r) > 0.1  # learned something from the scalp
    # volts: same order of magnitude as the truth
    ratio = pred.std(axis=1) / test.ieeg.std(axis=1)
    assert np.all((ratio > 0.05) & (ratio < 5))


def test_calibrated_coverage_toy(calibrated):
    model, info, test = calibrated
    assert 0.85 <= info["tail_coverage_calibrated"] <= 0.95
    lo, _, hi = model.bands(test.scalp, n_samples=32, seed=3)
    cov = coverage(test.ieeg, lo, hi)
    assert 0.85 <= cov.mean() <= 0.95, cov


def test_bands_are_conformal_draws_are_not(calibrated):
    """posterior(): draws as the flow made them; bands = their quantiles widened by the conformal factor."""
    model, _, test = calibrated
    x = test.scalp[:, :800]
    post = model.posterior(x, n_samples=16, seed=4)
    draws = post.sample()
    lo, med, hi = post.quantiles((0.05, 0.5, 0.95))
    np.testing.assert_array_equal(draws, model.sample(x, 16, seed=4))
    f = model._factors()
    qlo, qmed, qhi = np.quantile(draws, [0.05, 0.5, 0.95], axis=0)
    tol = 1e-5 * np.abs(draws).max()  # draws are computed in float32
    np.testing.assert_allclose(med, qmed, rtol=0, atol=tol)
    np.testing.assert_allclose(hi - med, f * (qhi - qmed), rtol=0, atol=tol)
    np.testing.assert_allclose(med - lo, f * (qmed - qlo), rtol=0, atol=tol)
    assert np.all(f > 1.0) and np.mean(hi - lo) > 1.02 * np.mean(qhi - qlo)  # this toy's bands were widened


def test_ridge_location_and_window_whitening_give_spectrum_and_waveform():
    """Residual flow around ridge: posterior mean ~ ridge; draws keep a steep residual spectrum."""
    import torch

    from ieegrecon.metrics import band_power, pearson_r, welch_psd
    from ieegrecon.models.ridge import RidgeModel

    torch.set_num_threads(1)
    rng = np.random.default_rng(5)
    n = int(150 * SF)
    x = lfilter([1], [1, -0.5], rng.standard_normal((4, n)), axis=1) * 1e-5
    # residual the scalp cannot explain: a steep low-pass (AR(1), 0.97), 100x less power at 40 Hz than 2 Hz
    noise = lfilter([1], [1, -0.97], rng.standard_normal((2, n)), axis=1) * 2e-6
    y = np.stack([x[0] - 0.5 * x[2], x[1] + x[3]]) + noise
    ci = ContactInfo(["A1", "B1"], np.zeros((2, 3)), ["hippocampus_L", "precentral_L"], ["deep", "superficial"])
    seg = PairedSegment(x, y, SF, SCALP, ci, "steep")
    cal, test = seg.crop_samples(0, int(120 * SF)), seg.crop_samples(int(120 * SF), n)
    ridge = RidgeModel()
    ridge.calibrate(cal)
    r_ridge = pearson_r(test.ieeg, ridge.predict(test.scalp))
    flow = FlowModel()
    flow.calibrate(cal, seed=0, epochs=3)
    assert flow.loc_ is not None and flow.window_chol_.shape == (2, flow.win, flow.win)
    r_flow = pearson_r(test.ieeg, flow.predict(test.scalp, n_samples=16))  # the Monte Carlo posterior mean
    assert np.all(r_flow > r_ridge - 0.05), (r_flow, r_ridge)
    draw = flow.sample(test.scalp, 1, seed=0)[0]
    f, p = welch_psd(test.ieeg, SF)
    _, q = welch_psd(draw, SF)
    err = np.abs(np.log10(band_power(f, q) / band_power(f, p)))  # (2 contacts, 5 bands)
    assert np.all(err < 0.3), err  # within a factor of 2 in every band, gamma included


def test_save_load_round_trip(calibrated, tmp_path):
    from ieegrecon.models.io import load_model, save_model

    model, _, test = calibrated
    save_model(model, tmp_path / "m")
    loaded, cfg = load_model(tmp_path / "m")
    assert cfg["method"] == "flow" and isinstance(loaded, FlowModel)
    a, b = model.state_dict(), loaded.state_dict()
    assert set(a) == set(b)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
        assert a[k].dtype == b[k].dtype
    x = test.scalp[:, :500]
    np.testing.assert_array_equal(model.sample(x, 2, seed=5), loaded.sample(x, 2, seed=5))
    assert loaded.contacts.regions == model.contacts.regions


def test_pretrain_then_calibrate_frozen_encoder():
    import torch

    torch.set_num_threads(1)
    model = FlowModel()
    segs = [_toy(30, 1), _toy(30, 2, scalp_names=["Oz", "Cz", "Fz", "Pz", "T7"])]
    info = model.pretrain(segs, epochs=1, max_steps_per_epoch=5)
    assert model.scalp_names == ["Fz", "Cz", "Pz", "Oz"]  # channels common to all, first order
    assert info["history"]
    enc_before = [p.detach().clone() for p in model.net.encoder_parameters()]
    cal = _toy(40, 3)
    cinfo = model.calibrate(cal, epochs=1)
    assert cinfo["encoder_frozen"] is True
    for p, q in zip(enc_before, model.net.encoder_parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    assert model.predict(cal.scalp[:, :300]).shape == (3, 300)


def test_errors():
    model = FlowModel()
    with pytest.raises(RuntimeError, match="calibrated"):
        model.state_dict()
    with pytest.raises(ValueError, match="too short"):
        model.calibrate(_toy(5, 0))
    with pytest.raises(ValueError, match="hop"):
        FlowModel(win=32, hop=40)


def test_coverage_on_known_gaussians():
    rng = np.random.default_rng(0)
    y = rng.standard_normal((4, 50_000))
    z = 1.6448536269514722  # 95 % quantile of N(0, 1)
    cov = coverage(y, -z * np.ones_like(y), z * np.ones_like(y))
    np.testing.assert_allclose(cov, 0.90, atol=0.006)
    half = coverage(y, np.zeros_like(y), np.full_like(y, np.inf))
    np.testing.assert_allclose(half, 0.5, atol=0.01)
    # exact small case, inclusive bounds
    assert coverage(np.array([[0.0, 1.0, 2.0, 3.0]]), np.zeros((1, 4)), np.full((1, 4), 2.0))[0] == 0.75
    with pytest.raises(ValueError):
        coverage(y, y[:2], y)


def test_coverage_summary_groups():
    y = np.zeros((3, 10))
    lo = np.array([[-1] * 10, [1] * 10, [-1] * 5 + [1] * 5], float)
    hi = np.ones((3, 10)) * 2
    ci = ContactInfo(["a", "b", "c"], np.zeros((3, 3)), ["hippocampus_L", "hippocampus_L", "insula_R"],
                     ["deep", "deep", "superficial"])
    s = coverage_summary(y, lo, hi, ci)
    assert s["overall"] == pytest.approx(0.5)
    assert s["depth_class"] == {"deep": 0.5, "superficial": 0.5}
    assert s["region"]["hippocampus_L"] == 0.5 and s["region"]["insula_R"] == 0.5
    assert s["per_contact"] == {"a": 1.0, "b": 0.0, "c": 0.5}
    assert s["n_contacts"]["region"]["hippocampus_L"] == 2


def test_conformal_quantile_finite_sample():
    s = np.arange(1, 11, dtype=float)  # ceil(11 * 0.9) = 10 -> the largest
    assert conformal_quantile(s) == 10.0
    assert conformal_quantile(np.arange(1, 101, dtype=float)) == 91.0


def test_write_uncertainty_h5(tmp_path):
    rng = np.random.default_rng(1)
    med = rng.standard_normal((2, 50)) * 1e-5
    lo, hi = med - 1e-6, med + 1e-6
    p = write_uncertainty_h5(tmp_path / "u.h5", lo, hi, med, 200.0, ["A1", "B2"], (0.05, 0.95))
    d = read_uncertainty_h5(p)
    assert d["ch_names"] == ["A1", "B2"] and d["sfreq"] == 200.0 and d["q"] == (0.05, 0.95)
    np.testing.assert_allclose(d["median"], med, rtol=1e-6)
    assert np.all(d["lo"] <= d["hi"]) and d["layout"] == "arrays"
    part = read_uncertainty_h5(p, start=10, stop=20)
    np.testing.assert_array_equal(part["hi"], d["hi"][:, 10:20])
    assert [f.name for f in tmp_path.iterdir()] == ["u.h5"]  # no temporary left behind
    import h5py

    with h5py.File(p, "r") as f:  # standard HDF5 filters only (any reader), lossless
        assert all(f[k].compression == "gzip" and f[k].shuffle for k in ("lo", "median", "hi"))
        np.testing.assert_array_equal(f["median"][:], med.astype(np.float32))
    with pytest.raises(ValueError):
        write_uncertainty_h5(tmp_path / "v.h5", lo, hi, med, 200.0, ["A1"], (0.05, 0.95))
    assert not (tmp_path / "v.h5").exists()


def test_center_point_is_the_flow_at_the_origin_near_the_mean(calibrated):
    """predict(n_samples=0): z = 0 through the flow, deterministic, near the Monte Carlo mean; the flow matters."""
    model, _, test = calibrated
    x = test.scalp[:, :1200]
    c = model.predict(x, n_samples=0)
    np.testing.assert_array_equal(c, model.predict(x, n_samples=0, seed=5))  # no randomness
    mc = model.predict(x, n_samples=32)
    base = model._to_volts(np.zeros_like(c), model._base(x))  # the ridge location alone (flow residual 0)
    err_c, err_base = np.abs(c - mc).mean(), np.abs(base - mc).mean()
    assert np.corrcoef(c.ravel(), mc.ravel())[0, 1] > 0.95
    assert np.all(np.isfinite(c)) and err_c < err_base, (err_c, err_base)  # the learned residual is not zero


def test_draws_leave_nothing_for_the_cyclic_collector(calibrated, monkeypatch):
    """torch's Transform.inv made a cycle per flow call (its tensors waited for the collector): draws make none."""
    import gc

    import torch

    model, _, test = calibrated
    monkeypatch.setattr(_flow_draw, "MAX_FLOW_ROWS", 48)  # 2 windows of 8 draws x 3 contacts per call
    x = test.scalp[:, :2400]

    def cyclic_tensors() -> int:
        """Tensors and transforms that one more draw (22 flow calls) leaves to the cyclic collector."""
        model.sample(x, 8, seed=1)  # warm: lazy imports and caches of a first call are not the draw's
        gc.collect()
        gc.disable()  # no automatic collection: what the draw leaves is found below
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            model.sample(x, 8, seed=1)
            gc.collect()
            found = [o for o in gc.garbage if isinstance(o, (torch.Tensor, torch.distributions.Transform))]
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()
        return len(found)

    assert cyclic_tensors() == 0
    from ieegrecon.models import _flow_nn

    monkeypatch.setattr(_flow_nn, "_inverse", lambda t, z: t.inv(z))  # the check can fail: zuko's .inv
    assert cyclic_tensors() > 0


def test_point_estimate_is_the_ridge_location_without_a_flow_pass(calibrated, monkeypatch):
    """predict() with a ridge location: the location alone (the same as the flow's ridge), no draw made."""
    model, _, test = calibrated
    x = test.scalp[:, :1200]
    mc = model.predict(x, n_samples=16)
    ridge_only = model.loc_.predict(x) + model.y_center_[:, None]
    monkeypatch.setattr(model.net, "sample_from", lambda *a: pytest.fail("the point estimate drew from the flow"))
    point = model.predict(x)
    np.testing.assert_allclose(point, ridge_only, rtol=0, atol=1e-12)
    assert np.abs(point - mc).max() > 0.01 * np.abs(mc).max()  # the Monte Carlo mean is another number


def test_the_point_estimate_streams_as_ridge_and_only_draws_bound_the_heap(calibrated, monkeypatch, tmp_path):
    """reconstruct streams the flow's point estimate as its ridge location (ridge's chunking, no heap
    bound, equal to predict bit for bit) and the flow itself only when it draws (--samples)."""
    from ieegrecon.models.flow import LocationPoint
    from ieegrecon.models.ridge import RidgeModel
    from ieegrecon.workflow import chunking, reconstruct

    model, _, test = calibrated
    point = model.point_estimator()
    assert isinstance(point, LocationPoint) and type(point).reads_ahead and not type(point).fragments_heap
    x = test.scalp[:, :1500]
    assert np.array_equal(point.predict(x), model.predict(x))  # bit for bit, not merely close
    assert not np.array_equal(point.predict(x), RidgeModel.predict(point, x))  # the contacts' centre is in

    calls = []

    class Stop(Exception):
        pass

    def stop(*a, **k):
        raise Stop

    monkeypatch.setattr(reconstruct, "as_patient_model", lambda config: config)
    monkeypatch.setattr(reconstruct, "check_calibrated", lambda *a: None)
    monkeypatch.setattr(chunking, "bound_heap", lambda: calls.append(1) or True)
    monkeypatch.setattr(chunking, "cap_arenas", stop)  # the step after the heap policy
    for samples, expected in ((0, []), (4, [1])):
        calls.clear()
        with pytest.raises(Stop):
            reconstruct.reconstruct_file(tmp_path / "x.edf", model, None, tmp_path / "y.edf", samples=samples)
        assert calls == expected, samples  # the heap policy is the streamed model's: LocationPoint at 0


def test_a_point_estimate_loads_without_torch_and_draws_check_the_network_at_load(calibrated, tmp_path):
    """load_model(sampling=False) keeps the flow's network as arrays (no torch import, 1.0 s of a 1-h
    reconstruct); sampling=True (the default) builds it, so weights that do not fit are refused at load."""
    import subprocess
    import sys

    from ieegrecon.errors import ModelFileError
    from ieegrecon.models.io import load_model, save_model

    model, _, test = calibrated
    save_model(model, tmp_path / "m")
    code = ("import sys, numpy as np; from ieegrecon.models.io import load_model; "
            f"m, _ = load_model({str(tmp_path / 'm')!r}, sampling=SAMPLING); "
            "y = m.predict(np.random.default_rng(0).normal(0, 1e-5, (len(m.scalp_names), 400))); "
            "print(y.shape[0], 'torch' in sys.modules)")
    for sampling, torch_loaded in ((False, "False"), (True, "True")):
        out = subprocess.run([sys.executable, "-c", code.replace("SAMPLING", str(sampling))],
                             capture_output=True, text=True, check=True).stdout.split()
        assert out == ["3", torch_loaded], out
    lazy, _ = load_model(tmp_path / "m", sampling=False)
    x = test.scalp[:, :500]
    np.testing.assert_array_equal(lazy.sample(x, 2, seed=5), model.sample(x, 2, seed=5))  # built on first use

    bad, _ = load_model(tmp_path / "m", sampling=False)
    bad._net_state["encoder.extra"] = np.zeros(3, np.float32)  # a tensor the network does not have
    save_model(bad, tmp_path / "bad")
    loaded, _ = load_model(tmp_path / "bad", sampling=False)  # the point estimate does not need the network
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    with pytest.raises(ValueError, match="network weights do not fit"):
        loaded.prepare_sampling()
    with pytest.raises(ModelFileError, match="weights do not fit"):
        load_model(tmp_path / "bad")


def test_shared_context_inverse_is_zukos_inverse_with_half_the_passes(calibrated):
    """Draws sharing a context: the context-only first pass made once per context equals zuko's inverse."""
    import torch

    model, _, _ = calibrated
    net = model.net
    gen = torch.Generator().manual_seed(0)
    S, N, W = 5, 7, net.win
    c = torch.randn((N, net.ctx_mlp[-1].out_features), generator=gen)
    z = torch.randn((S, N, W), generator=gen)
    cs = c[None].expand(S, N, -1).reshape(S * N, -1)
    with torch.no_grad():
        ref = net.flow(cs).transform.inv(z.reshape(S * N, W)).reshape(S, N, W)
        got = net.inverse_shared(c, z)
        one_pass = z.reshape(S * N, W)  # what skipping the first pass would give: the test can tell
        for t in reversed(net.flow.transform.transforms):
            one_pass = t.meta(cs, torch.zeros_like(one_pass)).inv(one_pass)
    np.testing.assert_allclose(got.numpy(), ref.numpy(), rtol=1e-5, atol=1e-6)
    assert np.abs(one_pass.reshape(S, N, W).numpy() - ref.numpy()).max() > 1e-3


def test_encoder_blocks_give_the_draws_of_one_window_per_call(calibrated, monkeypatch):
    """The scalp encoder runs on blocks of windows; draws equal those of one encoder call per flow batch."""
    model, _, test = calibrated
    x = test.scalp[:, :2400]
    monkeypatch.setattr(_flow_draw, "MAX_FLOW_ROWS", 48)  # 2 windows of 8 draws x 3 contacts per flow call
    calls = []
    enc = model.net.encoder.forward
    monkeypatch.setattr(model.net.encoder, "forward", lambda xb: calls.append(len(xb)) or enc(xb))
    blocked = model.sample(x, 8, seed=3)
    n_blocked = len(calls)
    monkeypatch.setattr(_flow_draw, "ENC_WINDOWS", 1)
    per_batch = model.sample(x, 8, seed=3)
    assert n_blocked < len(calls) - n_blocked, (n_blocked, len(calls))
    np.testing.assert_allclose(blocked, per_batch, rtol=1e-5, atol=1e-6 * np.abs(per_batch).max())


def test_reconstruct_band_function_draws_each_chunk_with_a_new_seed(calibrated):
    """--samples with draw-based bands: consecutive chunks must not repeat the same noise (one fixed seed did)."""
    from ieegrecon.workflow.uncertainty import band_function

    model, _, test = calibrated
    x = test.scalp[:, :2000]
    band = band_function(model, 8)
    first, second = band(x), band(x)  # two chunks with the same scalp: only the draws differ
    assert first.shape == second.shape == (3, 3, 2000)
    w1, w2 = (b[2] - b[0] for b in (first, second))
    w1, w2 = w1 - w1.mean(axis=1, keepdims=True), w2 - w2.mean(axis=1, keepdims=True)
    assert abs(np.corrcoef(w1.ravel(), w2.ravel())[0, 1]) < 0.1
    again = band_function(model, 8)
    np.testing.assert_array_equal(again(x), first)  # deterministic: the same chunk order, the same bands


def test_draws_on_worker_threads_equal_one_thread(calibrated, monkeypatch):
    """Flow batches run side by side on the policy's workers; the draws are those of one thread."""
    from ieegrecon import _threads

    model, _, test = calibrated
    x = test.scalp[:, :2400]
    monkeypatch.setattr(_flow_draw, "MAX_FLOW_ROWS", 48)  # 22 flow calls
    one = model.sample(x, 8, seed=2)
    used = []
    real = _threads.ordered_map

    def two_workers(fn, items, n_workers=None):
        used.append(1)
        return real(fn, items, n_workers=2)

    monkeypatch.setattr(_flow_draw, "ordered_map", two_workers)
    np.testing.assert_array_equal(model.sample(x, 8, seed=2), one)
    assert used
