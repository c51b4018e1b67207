"""Lagged filters (ieegrecon.models.lagged): lag matrix, chunked Gram sums and CV, residual ridge, lag prior."""

from __future__ import annotations

import numpy as np
import pytest

from ieegrecon.metrics import pearson_r
from ieegrecon.models import lagged
from ieegrecon.models.lagged import apply_lagged, fit_residual_ridge, lag_matrix, lag_prior_cov, lag_rows
from ieegrecon.models.ridge import RidgeModel
from _synthetic import lagged_segment


_segment = lagged_segment


def test_lag_matrix_shifts_past_and_future():
    x = np.arange(10.0)[None]
    m = lag_matrix(x, np.array([-1, 0, 2]))
    assert m.shape == (10, 3)
    assert m[5].tolist() == [6.0, 5.0, 3.0]
    assert m[0, 2] == 0.0 and m[9, 0] == 0.0


def test_apply_lagged_equals_the_lag_matrix_product():
    rng = np.random.default_rng(0)
    x, lags = rng.normal(size=(3, 50)), np.array([-2, 0, 1, 4])
    coef = rng.normal(size=(2, 3 * len(lags)))
    np.testing.assert_allclose(apply_lagged(coef, x, lags), coef @ lag_matrix(x, lags).T, atol=1e-12)


def test_lag_rows_are_slices_of_the_lag_matrix():
    x, lags = np.random.default_rng(0).normal(size=(3, 100)), np.array([-4, 0, 2, 7])
    for a, b in [(0, 100), (10, 57), (95, 100)]:
        np.testing.assert_array_equal(lag_rows(x, lags, a, b), lag_matrix(x, lags)[a:b])


def _ridge_path(X, Y, Xtest, alphas):
    """In-memory reference: ridge on centred rows, regularization relative to the mean Gram eigenvalue;
    test predictions for every alpha, shape (n_alphas, n_test, n_targets)."""
    xm, ym = X.mean(axis=0), Y.mean(axis=0)
    Xc, Yc = X - xm, Y - ym
    evals, evecs = np.linalg.eigh(Xc.T @ Xc)
    evals = np.clip(evals, 0, None)
    P, Q = (Xtest - xm) @ evecs, evecs.T @ (Xc.T @ Yc)
    return np.stack([P @ (Q / (evals + a * evals.mean())[:, None]) + ym for a in alphas])


def test_chunked_ridge_cv_equals_the_in_memory_fit(monkeypatch):
    """Gram sums over chunks give the same CV scores and weights as the whole lag matrix."""
    seg = _segment(seconds=23, n_contacts=3)
    z = (seg.scalp - seg.scalp.mean(1, keepdims=True)) / seg.scalp.std(1, keepdims=True)
    lags, alphas, Y = np.arange(-3, 4), np.logspace(-4, 2, 5), seg.ieeg.T
    X = lag_matrix(z, lags)
    a, b = 1000, 2300  # one test fold
    train = np.setdiff1d(np.arange(len(X)), np.arange(a, b))
    ref = np.stack([pearson_r(Y[a:b].T, p.T) for p in _ridge_path(X[train], Y[train], X[a:b], alphas)])
    monkeypatch.setattr(lagged, "CHUNK_ROWS", 301)  # several chunks per fold
    stats = [lagged._fold_stats(z, Y, lags, *ab) for ab in [(0, a), (a, b), (b, len(X))]]
    tr = {k: stats[0][k] + stats[2][k] for k in stats[0]}
    np.testing.assert_allclose(lagged._cv_scores(z, Y, lags, a, b, tr, alphas), ref, atol=1e-9)
    m_small = RidgeModel()
    m_small.calibrate(seg)
    monkeypatch.setattr(lagged, "CHUNK_ROWS", 10**6)  # one chunk
    m_big = RidgeModel()
    m_big.calibrate(seg)
    np.testing.assert_array_equal(m_small.alpha_, m_big.alpha_)
    np.testing.assert_allclose(m_small.coef_, m_big.coef_, rtol=1e-9, atol=1e-12 * np.abs(m_big.coef_).max())


def _residual_problem(seed=0, n=6000):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(4, n))
    lags = np.arange(-2, 3)
    X = lag_matrix(x, lags)
    w = rng.normal(size=(X.shape[1], 3))
    return rng, x, lags, X, X @ w


def test_residual_ridge_keeps_a_perfect_prior_alone():
    rng, x, lags, X, clean = _residual_problem()
    Y = clean + 0.3 * rng.normal(size=clean.shape)
    fit = fit_residual_ridge(x[:, :600], lags, Y[:600], 2.0 * clean[:600], np.logspace(-4, 2, 7))
    # the prior is the noiseless truth (scaled by 2): the gain undoes the scale, little is left to fit
    assert fit["uses_prior"].all()
    np.testing.assert_allclose(fit["gain"], 0.5, rtol=0.05)
    assert np.all(fit["cv_r"] >= np.maximum(fit["cv_r_prior"], fit["cv_r_ridge"]) - 1e-12)
    pred = fit["gain"] * clean[600:] + X[600:] @ fit["coef"].T + fit["intercept"]
    assert np.all(pearson_r(Y[600:].T, pred.T) > 0.95)


def test_residual_ridge_falls_back_to_plain_ridge_when_the_prior_is_useless():
    rng, x, lags, X, clean = _residual_problem(1)
    Y = clean + 0.3 * rng.normal(size=clean.shape)
    prior = rng.normal(size=Y.shape)  # unrelated to Y
    fit = fit_residual_ridge(x[:, :3000], lags, Y[:3000], prior[:3000], np.logspace(-4, 2, 7))
    assert np.all(np.isfinite(fit["alpha"])) and np.all(np.abs(fit["cv_r_prior"]) < 0.1)
    assert np.all(fit["cv_r"] >= fit["cv_r_ridge"] - 1e-12)
    plain = ~fit["uses_prior"]
    assert np.all(fit["gain"][plain] == 0.0)
    pred = fit["gain"] * prior[3000:] + X[3000:] @ fit["coef"].T + fit["intercept"]
    assert np.all(pearson_r(Y[3000:].T, pred.T) > 0.95)


def test_residual_ridge_is_chunk_invariant_and_solves_the_full_problem(monkeypatch):
    """Chunked Gram sums give the in-memory solution: coef = ridge of (Y - gain P) on the centred lag matrix."""
    rng, x, lags, X, clean = _residual_problem(2, n=2500)
    Y = clean + 1.5 * rng.normal(size=clean.shape)
    P = clean + 1.5 * rng.normal(size=clean.shape)  # a noisy but useful prior
    alphas = np.logspace(-4, 2, 7)
    monkeypatch.setattr(lagged, "CHUNK_ROWS", 10**6)
    one = fit_residual_ridge(x, lags, Y, P, alphas)
    monkeypatch.setattr(lagged, "CHUNK_ROWS", 173)
    many = fit_residual_ridge(x, lags, Y, P, alphas)
    for key in ("coef", "gain", "intercept", "cv_r"):
        np.testing.assert_allclose(one[key], many[key], rtol=1e-8, atol=1e-10)
    np.testing.assert_array_equal(one["alpha"], many["alpha"])
    T = Y - one["gain"] * P
    Xc, Tc = X - X.mean(0), T - T.mean(0)
    G, mean_eig = Xc.T @ Xc, np.linalg.eigvalsh(Xc.T @ Xc).clip(0).mean()
    for j in range(Y.shape[1]):
        a = one["alpha"][j]
        ref = np.zeros(X.shape[1]) if not np.isfinite(a) else np.linalg.solve(G + a * mean_eig * np.eye(len(G)),
                                                                              Xc.T @ Tc[:, j])
        np.testing.assert_allclose(one["coef"][j], ref, rtol=1e-6, atol=1e-9)
    if one["uses_prior"].any():  # gain of a prior-using target = least squares of Y on P
        j = int(np.flatnonzero(one["uses_prior"])[0])
        np.testing.assert_allclose(one["gain"][j], lagged.ls_gain(P, Y)[j], rtol=1e-9)


def test_lag_prior_is_generalized_ridge_and_identity_changes_nothing(monkeypatch):
    """With ``lag_cov`` S the weights solve ``(Xc'Xc + a m (I (x) S)^-1) w = Xc'(Y - gain P)``.

    ``m`` is the mean eigenvalue of the Gram matrix of the transformed features, as everywhere
    in lagged.py; S = identity gives exactly the plain fit; the chunked path agrees with one chunk.
    """
    rng, x, lags, X, clean = _residual_problem(3, n=2500)
    Y = clean + 1.5 * rng.normal(size=clean.shape)
    P = clean + 1.5 * rng.normal(size=clean.shape)
    alphas = np.logspace(-4, 2, 7)
    L = len(lags)
    plain = fit_residual_ridge(x, lags, Y, P, alphas)
    ident = fit_residual_ridge(x, lags, Y, P, alphas, lag_cov=np.eye(L))
    for key in ("coef", "gain", "intercept", "cv_r"):
        np.testing.assert_allclose(ident[key], plain[key], rtol=1e-9, atol=1e-12)
    A = rng.normal(size=(L, L))
    S = A @ A.T + 0.1 * np.eye(L)
    monkeypatch.setattr(lagged, "CHUNK_ROWS", 10**6)
    one = fit_residual_ridge(x, lags, Y, P, alphas, lag_cov=S)
    monkeypatch.setattr(lagged, "CHUNK_ROWS", 211)
    many = fit_residual_ridge(x, lags, Y, P, alphas, lag_cov=S)
    for key in ("coef", "gain", "intercept", "cv_r"):
        np.testing.assert_allclose(one[key], many[key], rtol=1e-8, atol=1e-10)
    B = np.kron(np.eye(x.shape[0]), lagged._psd_sqrt(S))
    np.testing.assert_allclose(B @ B, np.kron(np.eye(x.shape[0]), S), rtol=1e-9, atol=1e-9)
    Xb = X @ B
    Xc = X - X.mean(0)
    m = np.linalg.eigvalsh((Xb - Xb.mean(0)).T @ (Xb - Xb.mean(0))).clip(0).mean()
    prec = np.linalg.inv(np.kron(np.eye(x.shape[0]), S))
    R = Y - one["gain"] * P
    for j in range(Y.shape[1]):
        a = one["alpha"][j]
        ref = (np.zeros(X.shape[1]) if not np.isfinite(a)
               else np.linalg.solve(Xc.T @ Xc + a * m * prec, Xc.T @ (R[:, j] - R[:, j].mean())))
        np.testing.assert_allclose(one["coef"][j], ref, rtol=1e-6, atol=1e-9)
    pred = one["gain"] * P + X @ one["coef"].T + one["intercept"]
    np.testing.assert_allclose(pred.mean(0), Y.mean(0), rtol=1e-9, atol=1e-9)


def test_lag_prior_cov_learns_the_shape_of_filters():
    """Filters that are all smooth in lag give a prior whose leading eigenvector is smooth."""
    rng = np.random.default_rng(0)
    L = 11
    bump = np.exp(-0.5 * ((np.arange(L) - 5) / 2.0) ** 2)
    coefs = [np.outer(rng.normal(size=6) * 10.0 ** rng.uniform(-3, 3, 6), np.tile(bump, 4)).reshape(6, 4 * L)]
    S = lag_prior_cov(coefs + [rng.normal(size=(3, 2 * L)) * 1e-3], L)
    assert S.shape == (L, L) and np.isclose(np.trace(S), L) and np.allclose(S, S.T)
    top = np.linalg.eigh(S)[1][:, -1]
    assert abs(top @ bump) / np.linalg.norm(bump) > 0.95  # the scale of each contact did not matter
    with pytest.raises(ValueError, match="lags"):
        lag_prior_cov([np.ones((2, 10))], L)
    with pytest.raises(ValueError, match="non-zero"):
        lag_prior_cov([np.zeros((2, L))], L)


@pytest.mark.parametrize("lags", [np.arange(-20, 21), np.arange(0, 41), np.arange(-40, 1), np.arange(5, 46),
                                  np.arange(-45, -4), np.arange(0, 2)])
def test_windowed_fast_path_equals_the_lag_matrix_product(lags):
    """apply_lagged's fast path (consecutive lags) against the definition, short and long signals."""
    from ieegrecon.models.lag_windows import apply_windows, consecutive

    rng = np.random.default_rng(1)
    assert consecutive(lags) and not consecutive(lags[::2])
    for n_t in (7, 50, 3000):  # shorter than the lag span, and several blocks
        x, coef = rng.standard_normal((5, n_t)), rng.standard_normal((4, 5 * len(lags)))
        ref = coef @ lag_matrix(x, lags).T
        np.testing.assert_allclose(apply_windows(coef, x, lags, block=64), ref, rtol=0, atol=1e-12)
        np.testing.assert_allclose(apply_lagged(coef, x, lags), ref, rtol=0, atol=1e-12)
