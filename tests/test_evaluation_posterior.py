"""evaluation.posterior: coverage of the 90 % bands and the draw metrics, on a model with a known posterior."""

import numpy as np

from ieegrecon.evaluation.posterior import posterior_metrics, samples_posterior
from ieegrecon.models.ridge import RidgeModel


class _Post:
    """A posterior object as models return it (``.sample()``, ``.quantiles(q)``)."""

    def __init__(self, draws, lo, med, hi):
        self.draws, self.bands = draws, {0.05: lo, 0.5: med, 0.95: hi}

    def sample(self):
        return self.draws

    def quantiles(self, q):
        return np.stack([self.bands[v] for v in q])


class _KnownPosterior:
    """Draws are the truth plus unit-variance noise (in the model's units); bands are the truth +- ``half``."""

    supports_posterior = True

    def __init__(self, y: np.ndarray, half: np.ndarray):
        self.y, self.half, self.calls = y, half, []

    def posterior(self, scalp, n_samples=32, seed=0):
        a = int(scalp[0, 0])  # the scalp carries the sample index: the chunk's position
        y = self.y[:, a:a + scalp.shape[1]]
        rng = np.random.default_rng(seed)
        draws = y[None] + rng.standard_normal((n_samples,) + y.shape)
        self.calls.append((a, scalp.shape[1], n_samples, seed))
        return _Post(draws, y - self.half[:, None], y, y + self.half[:, None])


def test_coverage_and_draw_metrics():
    sfreq, n = 100.0, 30_000  # 300 s: three 120-s chunks with context
    rng = np.random.default_rng(0)
    y = rng.standard_normal((3, n))
    scalp = np.tile(np.arange(n, dtype=float), (2, 1))
    half = np.array([1.0, 0.0, -1.0])  # inside always, on the edges (inclusive), never
    model = _KnownPosterior(y, half)
    out = posterior_metrics(model, y, scalp, sfreq, n_draws=6, n_metric_draws=2, seed=5)
    np.testing.assert_array_equal(out["coverage90"], [1.0, 1.0, 0.0])
    assert [c[3] for c in model.calls] == [5, 6, 7]  # one seed per chunk
    assert all(c[2] == 6 for c in model.calls)
    assert set(out) >= {"draw_bp_err_alpha", "draw_psd_hellinger", "draw_fc_alpha_rel_err",
                        "draw_fc_alpha_rel_err_total"}
    for v in out.values():
        assert v.shape == (3,) and np.isfinite(v).all()


def test_samples_posterior():
    assert not samples_posterior(RidgeModel(sfreq=200.0))
    assert samples_posterior(_KnownPosterior(np.zeros((1, 1)), np.zeros(1)))


def test_posterior_metrics_scores_draw_shapes_against_ground_truth_events():
    """The draws of every chunk reach the kurtosis, skewness and IED-waveform errors; contacts without
    events and calls without ground truth get no waveform error."""
    sfreq, n = 100.0, 30_000
    rng = np.random.default_rng(3)
    y = 0.1 * rng.standard_normal((2, n))
    onsets = np.arange(5.0, 295.0, 10.0)  # events in every chunk, on contact 0 only
    for o in np.round(onsets * sfreq).astype(int):
        y[0, o:o + 5] += 20.0  # draws = y + unit noise carry the discharge, not the truth's tails
    scalp = np.tile(np.arange(n, dtype=float), (2, 1))
    model = _KnownPosterior(y, np.ones(2))
    out = posterior_metrics(model, y, scalp, sfreq, n_draws=3, n_metric_draws=2, seed=1,
                            onsets=[onsets, np.zeros(0)])
    assert out["draw_ied_waveform_err"][0] < 0.1 and np.isnan(out["draw_ied_waveform_err"][1])
    assert out["draw_kurtosis_err"][0] > 5.0 > 0.2 > out["draw_kurtosis_err"][1]
    assert np.isfinite(out["draw_skew_err"]).all()
    assert "draw_ied_waveform_err" not in posterior_metrics(model, y, scalp, sfreq, n_draws=3, n_metric_draws=2)
