"""The posterior object (ieegrecon.models.posterior) and the flow's posterior API."""

from __future__ import annotations

import numpy as np
import pytest

from ieegrecon.models import get_model_class, method_names
from ieegrecon.models.flow import FlowModel
from ieegrecon.models.posterior import Posterior
from test_flow import _toy


def _fixed(draws: np.ndarray, widen: float = 1.0) -> Posterior:
    calls = []

    def draw(k: int) -> np.ndarray:
        calls.append(k)
        return draws[:k]

    post = Posterior(draw=draw, mean=lambda: draws.mean(0), to_volts=lambda z: z * 2.0,
                     widen=np.full((draws.shape[1], 1), widen), n_samples=len(draws))
    post.calls = calls
    return post


def test_quantiles_widen_around_the_median_and_reuse_the_draws():
    rng = np.random.default_rng(0)
    d = rng.normal(size=(101, 2, 50))
    plain, wide = _fixed(d), _fixed(d, widen=3.0)
    q = plain.quantiles((0.05, 0.5, 0.95))
    assert q.shape == (3, 2, 50)
    np.testing.assert_allclose(q, 2.0 * np.quantile(d, [0.05, 0.5, 0.95], axis=0))
    w = wide.quantiles((0.05, 0.5, 0.95))
    np.testing.assert_allclose(w[1], q[1])
    np.testing.assert_allclose(w[2] - w[1], 3.0 * (q[2] - q[1]))
    np.testing.assert_allclose(w[1] - w[0], 3.0 * (q[1] - q[0]))
    wide.quantiles((0.25,))
    wide.sample()
    assert wide.calls == [101]  # one set of draws for every quantile and sample() call
    np.testing.assert_allclose(plain.mean, 2.0 * d.mean(0))
    assert plain.sample(3).shape == (3, 2, 50)
    with pytest.raises(ValueError, match="'q' parameter"):
        plain.quantiles((0.5, 1.5))
    with pytest.raises(ValueError, match="'k' parameter"):
        plain.sample(0)


def test_supports_posterior_is_declared_per_method():
    flags = {m: get_model_class(m).supports_posterior for m in method_names()}
    assert flags == {"cast": False, "flow": True, "ridge": False, "source": False, "ridge0": False, "ridge-cv": False,
                     "ridge-prior": False, "xs-ridge": False, "ridge-gauss": True}


@pytest.fixture(scope="module")
def flow():
    import torch

    torch.set_num_threads(1)
    model = FlowModel()
    model.calibrate(_toy(60, 0), seed=0, epochs=1)
    return model, _toy(20, 9).scalp[:, :777]


def test_flow_posterior_equals_bands_sample_and_predict_bit_for_bit(flow):
    model, x = flow
    post = model.posterior(x, n_samples=8, seed=3)
    lo, med, hi = model.bands(x, n_samples=8, q=(0.1, 0.9), seed=3)
    q = post.quantiles((0.1, 0.5, 0.9))
    assert q.shape == (3, 3, 777)
    np.testing.assert_array_equal(q[0], lo)
    np.testing.assert_array_equal(q[1], med)
    np.testing.assert_array_equal(q[2], hi)
    np.testing.assert_array_equal(post.sample(), model.sample(x, 8, seed=3))
    np.testing.assert_array_equal(post.sample(3), model.sample(x, 3, seed=3))
    np.testing.assert_array_equal(post.mean, model.predict(x, n_samples=8, seed=3))
    for a, b in zip(post.quantiles((0.05, 0.5, 0.95)), model.bands(x, n_samples=8, seed=3)):  # default bands
        np.testing.assert_array_equal(a, b)


def test_flow_posterior_errors_come_at_the_call():
    with pytest.raises(RuntimeError, match="not calibrated"):
        FlowModel().posterior(np.zeros((4, 100)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_draw_quantiles_equal_numpy_quantile_bit_for_bit(dtype):
    from ieegrecon.models.posterior import draw_quantiles

    rng = np.random.default_rng(0)
    levels = [0.05, 0.95, 0.5, 0.0, 1.0, 0.25]
    for n in (2, 3, 8, 16, 31, 32, 33):
        for shape in ((4, 257), (257,), (2, 3, 50)):  # contact by contact (>= 2 further axes) or at once
            d = rng.standard_normal((n,) + shape).astype(dtype)
            np.testing.assert_array_equal(draw_quantiles(d, levels), np.quantile(d, levels, axis=0))
