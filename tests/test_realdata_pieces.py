"""Trial pieces beyond the methods' fits: blocked-CV fold predictions, the ridge limit, posterior draws.

Toy recordings of 3 trials in which every trial holds its own constant (or
its own noise): a lagged copy, a prediction context or a draw's context that
reached into another trial would carry that trial's value across the boundary.
"""

from __future__ import annotations

import numpy as np
import pytest

from ieegrecon.models.base import ContactInfo, PairedSegment

FS, N_TRIAL = 50.0, 200  # 3 trials of 4 s
BOUNDS = [(0, 200), (200, 400), (400, 600)]
TRIAL = np.repeat([1.0, 2.0, 3.0], N_TRIAL)  # each trial's own value


def _seg(scalp, ieeg):
    names = [f"A{k}" for k in range(len(ieeg))]
    return PairedSegment(scalp, ieeg, FS, ["Fp1", "Cz", "O1"][:len(scalp)],
                         ContactInfo(names, np.zeros((len(names), 3)), ["x"] * len(names), ["deep"] * len(names)))


class _Lag:
    """y[t] = x[0, t - 1] (zero before the signal): a lag reaching one sample back."""

    def predict(self, s):
        return np.concatenate([np.zeros((1, 1)), s[:1, :-1]], axis=1)


def test_cv_fold_predictions_stay_inside_trials():
    """Blocked CV (12 s, no 10-s tail): folds of 2.4 s straddle the trial boundaries at 4 s and 8 s;
    the fold predictions carry no value of another trial."""
    from ieegrecon.workflow.confidence import held_out
    from ieegrecon.workflow.pieces import PieceFit

    x = np.vstack([TRIAL, np.ones_like(TRIAL)])
    seg = _seg(x, TRIAL[None] + 0.01 * np.random.default_rng(0).standard_normal((1, 600)))
    fit = PieceFit(lambda train, zs: _Lag(), BOUNDS, 600)
    held = held_out(seg, 600, fit, say=fit.at_fold)
    assert held.kind == "cv"
    y = held.y_hat[0]
    assert np.all((y == TRIAL) | (y == 0.0)), np.flatnonzero((y != TRIAL) & (y != 0.0))  # 0: zeros before a fold
    assert y[200] == 2.0 and y[400] == 3.0  # first samples of trials 2 and 3, inside folds 1 and 3
    # one piece: as before (the fold is predicted whole, zeros before it)
    cont = held_out(seg, 600, PieceFit(lambda train, zs: _Lag(), [(0, 600)], 600))
    assert cont.y_hat[0, 200] == 1.0 and cont.y_hat[0, 120] == 0.0


def _subject(cal, test, cal_bounds, test_bounds):
    import pandas as pd

    from ieegrecon.evaluation.data import Subject

    regions = pd.DataFrame({"name": cal.contacts.ch_names})
    return Subject("01", cal, test, 0, cal.scalp.shape[1], regions, None, False, [],
                   cal_bounds=cal_bounds, test_bounds=test_bounds)


def test_ridge_limit_fits_and_predicts_inside_trials(monkeypatch):
    """The ridge-limit ceiling: lags inside each calibration trial, the test part predicted trial by trial."""
    import ieegrecon.evaluation.ceilings as ceilings
    import ieegrecon.models.lagged as lagged
    from ieegrecon.evaluation.config import EvalConfig
    from ieegrecon.workflow.pieces import predict_pieces

    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 600))
    seg = _seg(x, x[:1] + 0.5 * np.roll(x[1:2], 2))
    test = _seg(x[:, ::-1].copy(), x[:1, ::-1].copy())
    inside, real_rows, fitted = [], lagged.lag_rows, []

    def spy(z, lags, start, stop):
        inside.append(lagged.piece_ids(z.shape[1]) is not None)
        return real_rows(z, lags, start, stop)

    def fit(*args, **kw):
        fitted.append(real_fit(*args, **kw))
        return fitted[-1]

    real_fit = ceilings.fit_model
    monkeypatch.setattr(lagged, "lag_rows", spy)
    monkeypatch.setattr(ceilings, "fit_model", fit)
    sub = _subject(seg, test, BOUNDS, BOUNDS)
    y_hat, _ = ceilings.ridge_limit(sub, 600, EvalConfig(["ridge"], seed=0))
    assert inside and all(inside)  # every lag design of the fit was built trial by trial
    assert np.array_equal(y_hat, predict_pieces(fitted[0], test.scalp, BOUNDS, FS))
    cont = predict_pieces(fitted[0], test.scalp, [(0, 600)], FS)
    assert not np.allclose(y_hat[:, 195:205], cont[:, 195:205])  # the check can fail
    assert ceilings.limit_samples(sub, EvalConfig(["ridge"], limit_minutes=0.12)) == 400  # 7.2 s: snapped to a trial edge


class _Echo:
    """A 'posterior' whose draws and bands (±0.5) repeat the chunk's first scalp channel one sample late,
    on two contacts."""

    supports_posterior = True

    def posterior(self, scalp, n_samples, seed):
        lag = np.repeat(np.concatenate([np.zeros(1), scalp[0, :-1]])[None], 2, axis=0)

        class _Post:
            def quantiles(self, q):
                return lag - 0.5, lag, lag + 0.5

            def sample(self):
                return np.repeat(lag[None], n_samples, axis=0)

        return _Post()


@pytest.mark.filterwarnings("ignore:Mean of empty slice")  # bands above 25 Hz (Nyquist) are NaN at 50 Hz
def test_posterior_draws_stay_inside_trials():
    """Coverage of the 90 % bands: a band lagged across a trial boundary misses the next trial's value."""
    from ieegrecon.evaluation.posterior import posterior_metrics
    from ieegrecon.workflow.pieces import piece_chunks

    x = TRIAL + 0.01 * np.random.default_rng(3).standard_normal(600)
    y, scalp = np.vstack([x, x]), np.vstack([x, x])
    pieces = posterior_metrics(_Echo(), y, scalp, FS, n_draws=2, n_metric_draws=1, bounds=BOUNDS)
    assert np.all(pieces["coverage90"] == 1.0)  # every sample inside its trial's band
    whole = posterior_metrics(_Echo(), y, scalp, FS, n_draws=2, n_metric_draws=1)
    assert np.all(whole["coverage90"] == 1 - 3 / 600)  # continuous (as before): the 3 trials' first samples missed
    chunks = list(piece_chunks(scalp, FS, BOUNDS))
    assert [(a, b) for a, b, _, _ in chunks] == BOUNDS
    for (a, b, ctx, keep) in chunks:
        assert np.array_equal(ctx[0, keep], x[a:b]) and np.abs(ctx[0] - TRIAL[a]).max() < 0.1  # own trial only


def test_calibrate_band_coverage_stays_inside_trials():
    """calibrate's held-out 90 % band coverage, drawn trial by trial (continuous: one call, as before)."""
    from ieegrecon.workflow.calibrate import _band_coverage

    x = TRIAL + 0.01 * np.random.default_rng(4).standard_normal(600)
    seg = _seg(np.vstack([x, x]), np.vstack([x, x]))
    pieces = _band_coverage(_Echo(), seg, 0, lambda *a: None, bounds=BOUNDS)
    assert np.all(pieces == 1.0)
    whole = _band_coverage(_Echo(), seg, 0, lambda *a: None)
    assert np.all(whole == 1 - 3 / 600)  # the 3 trials' first samples fall outside a band lagged across
