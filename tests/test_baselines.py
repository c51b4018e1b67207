"""The linear baselines (ridge0, ridge-cv, ridge-prior, xs-ridge, ridge-gauss): each must be able to fail."""

from __future__ import annotations

import numpy as np
import pytest

from _synthetic import NAMES19, lagged_segment
from ieegrecon.metrics import pearson_r
from ieegrecon.models import ContactInfo, PairedSegment, get_model_class, load_model, save_model
from ieegrecon.models.ridge import RidgeModel

FS = 200


def _filtered_segment(seconds, seed, filt, positions, noise=1.0, subject="s"):
    """White scalp; each contact = sum over channels of ``filt[k]`` (n_ch, n_lags) applied at lags 0..n_lags-1."""
    rng = np.random.default_rng(seed)
    n = int(seconds * FS)
    x = rng.normal(size=(19, n))
    y = np.zeros((len(filt), n))
    for k, h in enumerate(filt):
        for c in range(19):
            y[k] += np.convolve(x[c], h[c])[:n]
    y += noise * rng.normal(size=y.shape) * y.std(axis=1, keepdims=True)
    contacts = ContactInfo([f"c{i}" for i in range(len(filt))], positions)
    return PairedSegment(x * 1e-5, y * 1e-4, float(FS), NAMES19, contacts, subject)


def _smooth_filters(seed, n_contacts=4, n_lags=10):
    """Smooth causal filters (a Gaussian bump at 20 ms), random per channel and contact."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_lags) * 5.0
    bump = np.exp(-0.5 * ((t - 20.0) / 8.0) ** 2)
    return rng.normal(size=(n_contacts, 19, 1)) * bump


def _test_r(model, seg):
    return float(np.mean(pearson_r(seg.ieeg, model.predict(seg.scalp))))


def test_registry_builds_every_baseline_with_its_name():
    for name in ("ridge0", "ridge-cv", "ridge-prior", "xs-ridge", "ridge-gauss"):
        assert get_model_class(name).method == name
    assert get_model_class("xs-ridge").supports_pretrain and get_model_class("xs-ridge").requires_pretrain
    assert get_model_class("ridge-gauss").supports_posterior


def test_ridge0_is_ridge_without_lags():
    seg = lagged_segment(seconds=20, lag=0, n_contacts=3)
    a, b = get_model_class("ridge0")(), RidgeModel(max_lag_ms=0.0)
    a.calibrate(seg)
    b.calibrate(seg)
    assert a.coef_.shape == (3, 19)
    np.testing.assert_array_equal(a.predict(seg.scalp), b.predict(seg.scalp))


@pytest.mark.parametrize("lag, window", [(0, 0.0), (15, 100.0)])
def test_ridge_cv_picks_no_lags_for_an_instantaneous_map_and_100ms_for_a_75ms_delay(lag, window):
    seg = lagged_segment(seconds=20, lag=lag, n_contacts=3)
    model = get_model_class("ridge-cv")()
    info = model.calibrate(seg)
    assert info["lag_window_ms"] == window, info["lag_window_cv_r"]
    assert model.max_lag_ms == window


def test_ridge_prior_beats_ridge_on_a_smooth_filter_with_little_data():
    filt = _smooth_filters(0)
    pos = np.zeros((4, 3))
    cal, test = _filtered_segment(15, 1, filt, pos), _filtered_segment(20, 2, filt, pos)
    prior, ridge = get_model_class("ridge-prior")(max_lag_ms=50.0), RidgeModel(max_lag_ms=50.0)
    info = prior.calibrate(cal)
    ridge.calibrate(cal)
    assert set(info["prior_cv_r"]) == {"10/30", "10/100", "25/30", "25/100"}
    assert _test_r(prior, test) > _test_r(ridge, test) + 0.02


def _cohort(shared: bool):
    """Four subjects on the same contact positions; the scalp -> contact filters shared or subject-specific."""
    pos = np.array([[0.01 * i, 0.02, 0.03] for i in range(4)])
    segs = [_filtered_segment(30 if s < 3 else 12, 10 + s, _smooth_filters(0 if shared else s), pos,
                              subject=f"sub-0{s + 1}") for s in range(4)]
    test = _filtered_segment(20, 99, _smooth_filters(0 if shared else 3), pos, subject="sub-04")
    return segs[:3], segs[3], test


@pytest.fixture(scope="module")
def shared():
    """A cohort sharing the map and an xs-ridge pretrained on its three training subjects (±50 ms lags)."""
    train, cal, test = _cohort(shared=True)
    xs = get_model_class("xs-ridge")(max_lag_ms=50.0, prior_minutes=0.5)
    xs.pretrain(train)
    return xs, cal, test


def test_xs_ridge_beats_ridge_when_subjects_share_the_map_and_a_zero_prior_does_not(shared):
    xs, cal, test = shared
    xs.calibrate(cal)
    zero = get_model_class("xs-ridge")(max_lag_ms=50.0)  # the pretraining replaced by a zero prior: plain ridge
    zero.calibrate(cal)
    ridge = RidgeModel(max_lag_ms=50.0)
    ridge.calibrate(cal)
    r_xs, r_zero, r_ridge = _test_r(xs, test), _test_r(zero, test), _test_r(ridge, test)
    assert r_xs > r_ridge + 0.05, (r_xs, r_ridge)
    assert not r_zero > r_ridge + 0.05, (r_zero, r_ridge)
    np.testing.assert_allclose(r_zero, r_ridge, atol=0.01)


def test_xs_ridge_round_trips_pretrained_and_calibrated(shared, tmp_path):
    import copy

    xs, cal, test = shared
    xs = copy.deepcopy(xs)
    xs.coef_, xs.contacts, xs.scalp_names = None, None, []  # as pretrained
    save_model(xs, tmp_path / "pre")
    pre, _ = load_model(tmp_path / "pre")
    pre.set_targets(cal.contacts, cal.scalp_names)  # zero-shot from the loaded bank
    xs.set_targets(cal.contacts, cal.scalp_names)
    np.testing.assert_allclose(pre.predict(test.scalp), xs.predict(test.scalp))
    pre.calibrate(cal)
    save_model(pre, tmp_path / "cal")
    back, _ = load_model(tmp_path / "cal")
    np.testing.assert_array_equal(back.predict(test.scalp), pre.predict(test.scalp))


def _ar_noise_segment(seconds, seed, mix, phi=0.8):
    """Scalp -> contacts instantaneous map plus AR(1) residual correlated across contacts by ``mix``."""
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    n = int(seconds * FS)
    x = rng.normal(size=(19, n))
    e = lfilter([1.0], [1.0, -phi], mix @ rng.normal(size=(len(mix), n)), axis=1)
    y = np.random.default_rng(123).normal(size=(len(mix), 19)) @ x * 0.3 + e  # the same map in every segment
    contacts = ContactInfo([f"c{i}" for i in range(len(mix))], np.zeros((len(mix), 3)))
    return PairedSegment(x * 1e-5, y * 1e-4, float(FS), NAMES19, contacts), e * 1e-4


def test_ridge_gauss_draws_have_the_calibration_residual_covariance_and_spectrum(tmp_path):
    mix = np.array([[1.0, 0.0, 0.0], [0.8, 0.6, 0.0], [-0.5, 0.2, 0.5]])
    cal, _ = _ar_noise_segment(60, 0, mix)
    test, _ = _ar_noise_segment(30, 1, mix)
    model = get_model_class("ridge-gauss")(max_lag_ms=10.0)
    model.calibrate(cal)
    post = model.posterior(test.scalp, n_samples=64, seed=3)
    draws = post.sample()
    assert draws.shape == (64,) + test.ieeg.shape
    np.testing.assert_allclose(post.mean, model.predict(test.scalp))
    resid = test.ieeg - post.mean  # the test residual: what the draws must resemble
    d = (draws - post.mean[None]).astype(float)
    cov_d = np.mean([np.cov(x) for x in d], axis=0)
    np.testing.assert_allclose(cov_d, np.cov(resid), rtol=0.15, atol=0.05 * np.cov(resid).max())
    lag1 = lambda r: np.sum(r[:, 1:] * r[:, :-1], axis=1) / np.sum(r * r, axis=1)  # noqa: E731
    np.testing.assert_allclose(np.mean([lag1(x) for x in d], axis=0), lag1(resid), atol=0.05)
    lo, hi = post.quantiles((0.05, 0.95))
    cover = np.mean((test.ieeg >= lo) & (test.ieeg <= hi))
    assert 0.85 < cover < 0.95, cover
    # a white, independent residual model would fail the same checks: its lag-1 autocorrelation is 0
    assert np.all(lag1(resid) > 0.5)
    from ieegrecon.evaluation.posterior import posterior_metrics, samples_posterior

    assert samples_posterior(model)  # scored by evaluate like flow
    pm = posterior_metrics(model, test.ieeg, test.scalp, FS, n_draws=32, n_metric_draws=2, seed=0)
    assert np.all((pm["coverage90"] > 0.8) & (pm["coverage90"] < 0.97)), pm["coverage90"]
    save_model(model, tmp_path / "g")
    back, _ = load_model(tmp_path / "g")
    np.testing.assert_array_equal(back.posterior(test.scalp, 4, seed=3).sample(), post.sample(4))


def test_ridge_gauss_bands_are_the_exact_gaussian_quantiles_of_its_draws(monkeypatch):
    """Closed-form bands: mean +- 1.645 sd, what many draws converge to; no draw made; median = predict."""
    from ieegrecon.workflow.uncertainty import band_function

    mix = np.array([[1.0, 0.0, 0.0], [0.8, 0.6, 0.0], [-0.5, 0.2, 0.5]])
    cal, _ = _ar_noise_segment(30, 0, mix)
    model = get_model_class("ridge-gauss")(max_lag_ms=10.0)
    model.calibrate(cal)
    x = cal.scalp[:, :400]
    post = model.posterior(x, n_samples=2000, seed=1)
    d = post.sample() - post.mean[None]  # 2000 draws of the residual process
    emp = np.quantile(d, (0.05, 0.95), axis=0).mean(axis=-1)  # (2, n_contacts): averaged over samples
    sd = model.residual_sd()
    np.testing.assert_allclose(emp, np.outer([-1.6449, 1.6449], sd), rtol=0.03)
    np.testing.assert_allclose(d.std(axis=(0, 2)), sd, rtol=0.03)
    assert post.exact
    monkeypatch.setattr(model, "residual_draws", lambda *a, **k: pytest.fail("exact bands drew"))
    lo, med, hi = model.posterior(x, n_samples=32, seed=5).quantiles((0.05, 0.5, 0.95))
    np.testing.assert_array_equal(med, model.predict(x))  # the point estimate, without Monte Carlo noise
    np.testing.assert_allclose(hi - med, np.broadcast_to(1.6448536 * sd[:, None], med.shape), rtol=1e-6)
    np.testing.assert_allclose(med - lo, hi - med, rtol=1e-9)
    band = band_function(model, 8)
    np.testing.assert_array_equal(band(x), band(x))  # no seed: every chunk gets its exact bands
    # the offsets the reconstruct sidecar stores are those of the bands, the same at every sample
    off = model.band_offsets((0.05, 0.5, 0.95))
    assert off.shape == (3, 3) and np.all(off[1] == 0)
    np.testing.assert_allclose(hi - med, np.broadcast_to(off[2][:, None], med.shape), rtol=1e-9)
    np.testing.assert_allclose(lo - med, np.broadcast_to(off[0][:, None], med.shape), rtol=1e-9)
    with pytest.raises(TypeError, match="no exact bands"):
        get_model_class("ridge")().band_offsets((0.05, 0.95))


def test_model_card_of_a_closed_form_model_names_its_own_method():
    """xs-ridge is fitted in closed form: its card gives no epochs and tells to calibrate with xs-ridge."""
    from ieegrecon.workflow.pretrain import model_card

    summary = {"method": "xs-ridge", "ieegrecon_version": "0", "created": "now", "command": "ieegrecon pretrain X",
               "epochs": 20, "windows_per_epoch": None, "seed": 0, "loso": [], "pretrain": {},
               "data": {"description": "d", "simulated": True, "subjects": ["sub-01"], "max_minutes_per_session": None}}
    card = model_card(summary, get_model_class("xs-ridge")())
    assert "Epochs" not in card and "closed form" in card and "calibrate --method xs-ridge" in card
    cast_card = model_card({**summary, "method": "cast"}, get_model_class("cast")())
    assert "calibrate --method cast" in cast_card
