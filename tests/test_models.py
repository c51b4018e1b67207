"""The model interface, ridge and source methods, and safe save/load."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ieegrecon.errors import ModelFileError, OutputError
from ieegrecon.models import ContactInfo, PairedSegment, available_methods, get_model_class, load_model, save_model
from ieegrecon.models.ridge import (RidgeModel, apply_lagged, fit_residual_ridge, lag_matrix, lag_prior_cov, lag_rows,
                                    pearson_r)
from ieegrecon.models.source import SourceModel

NAMES19 = ["Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T3", "C3", "Cz", "C4", "T4", "T5", "P3", "Pz", "P4",
           "T6", "O1", "O2"]


def _segment(seconds=120, lag=3, seed=0, n_contacts=6):
    rng = np.random.default_rng(seed)
    n = int(seconds * 200)
    s = rng.normal(size=(5, n))
    x = rng.normal(size=(19, 5)) @ s + 0.5 * rng.normal(size=(19, n))
    y = rng.normal(size=(n_contacts, 5)) @ np.roll(s, lag, axis=1) + 0.5 * rng.normal(size=(n_contacts, n))
    contacts = ContactInfo([f"c{i}" for i in range(n_contacts)], rng.normal(size=(n_contacts, 3)) * 0.03)
    return PairedSegment(x * 1e-5, y * 1e-4, 200.0, NAMES19, contacts)


def test_registry_lists_builtin_methods():
    assert {"ridge", "source"} <= set(available_methods())
    with pytest.raises(ValueError, match="Allowed values are"):
        get_model_class("nope")


def test_lag_matrix_shifts_past_and_future():
    x = np.arange(10.0)[None]
    m = lag_matrix(x, np.array([-1, 0, 2]))
    assert m.shape == (10, 3)
    assert m[5].tolist() == [6.0, 5.0, 3.0]
    assert m[0, 2] == 0.0 and m[9, 0] == 0.0


def test_ridge_recovers_lagged_linear_map():
    seg = _segment()
    model = RidgeModel()
    model.calibrate(seg.crop_samples(0, 200 * 60))
    r = pearson_r(seg.ieeg[:, 12000:], model.predict(seg.scalp[:, 12000:]))
    assert np.all(r > 0.9), r


def test_ridge_without_lags_cannot_see_a_delay():
    """A lag outside the window is invisible: guards against a leak of the target."""
    seg = _segment(lag=60)  # 300 ms, beyond +-100 ms
    model = RidgeModel()
    model.calibrate(seg.crop_samples(0, 200 * 60))
    r = pearson_r(seg.ieeg[:, 12000:], model.predict(seg.scalp[:, 12000:]))
    assert np.all(np.abs(r) < 0.1), r


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
    from ieegrecon.models import ridge

    seg = _segment(seconds=23, n_contacts=3)
    z = (seg.scalp - seg.scalp.mean(1, keepdims=True)) / seg.scalp.std(1, keepdims=True)
    lags, alphas, Y = np.arange(-3, 4), np.logspace(-4, 2, 5), seg.ieeg.T
    X = lag_matrix(z, lags)
    a, b = 1000, 2300  # one test fold
    train = np.setdiff1d(np.arange(len(X)), np.arange(a, b))
    ref = np.stack([pearson_r(Y[a:b].T, p.T) for p in _ridge_path(X[train], Y[train], X[a:b], alphas)])
    monkeypatch.setattr(ridge, "CHUNK_ROWS", 301)  # several chunks per fold
    stats = [ridge._fold_stats(z, Y, lags, *ab) for ab in [(0, a), (a, b), (b, len(X))]]
    tr = {k: stats[0][k] + stats[2][k] for k in stats[0]}
    np.testing.assert_allclose(ridge._cv_scores(z, Y, lags, a, b, tr, alphas), ref, atol=1e-9)
    m_small = RidgeModel()
    m_small.calibrate(seg)
    monkeypatch.setattr(ridge, "CHUNK_ROWS", 10**6)  # one chunk
    m_big = RidgeModel()
    m_big.calibrate(seg)
    np.testing.assert_array_equal(m_small.alpha_, m_big.alpha_)
    np.testing.assert_allclose(m_small.coef_, m_big.coef_, rtol=1e-9, atol=1e-12 * np.abs(m_big.coef_).max())


def test_ridge_out_of_fold_prediction_is_the_fit_on_the_other_blocks():
    """Each CV block of ``out_of_fold`` is predicted by ridge fitted on the other blocks (chosen alphas)."""
    seg = _segment(seconds=23, n_contacts=3)
    m = RidgeModel(max_lag_ms=15.0)
    oof = m.calibrate(seg, out_of_fold=True)["out_of_fold"]
    assert oof.shape == seg.ieeg.shape
    z = (seg.scalp - m.x_mean_[:, None]) / m.x_scale_[:, None]
    X, Y = lag_matrix(z, m.lags), seg.ieeg.T
    alphas = np.asarray(m.alphas)
    best = [int(np.argmin(np.abs(alphas - a))) for a in m.alpha_]
    block = np.array_split(np.arange(len(X)), m.n_folds)[2]
    train = np.setdiff1d(np.arange(len(X)), block)
    path = _ridge_path(X[train], Y[train], X[block], alphas)  # (n_alphas, n_block, n_contacts)
    ref = np.stack([path[b, :, k] for k, b in enumerate(best)])
    np.testing.assert_allclose(oof[:, block], ref, rtol=1e-7, atol=1e-9 * np.abs(ref).max())
    # honest: out-of-fold residuals are larger than in-sample ones
    assert np.mean((seg.ieeg - oof) ** 2) > np.mean((seg.ieeg - m.predict(seg.scalp)) ** 2)


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
    from ieegrecon.models import ridge

    rng, x, lags, X, clean = _residual_problem(2, n=2500)
    Y = clean + 1.5 * rng.normal(size=clean.shape)
    P = clean + 1.5 * rng.normal(size=clean.shape)  # a noisy but useful prior
    alphas = np.logspace(-4, 2, 7)
    monkeypatch.setattr(ridge, "CHUNK_ROWS", 10**6)
    one = fit_residual_ridge(x, lags, Y, P, alphas)
    monkeypatch.setattr(ridge, "CHUNK_ROWS", 173)
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
        np.testing.assert_allclose(one["gain"][j], ridge.ls_gain(P, Y)[j], rtol=1e-9)


def test_lag_prior_is_generalized_ridge_and_identity_changes_nothing(monkeypatch):
    """With ``lag_cov`` S the weights solve ``(Xc'Xc + a m (I (x) S)^-1) w = Xc'(Y - gain P)``.

    ``m`` is the mean eigenvalue of the Gram matrix of the transformed features, as everywhere
    in ridge.py; S = identity gives exactly the plain fit; the chunked path agrees with one chunk.
    """
    from ieegrecon.models import ridge

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
    monkeypatch.setattr(ridge, "CHUNK_ROWS", 10**6)
    one = fit_residual_ridge(x, lags, Y, P, alphas, lag_cov=S)
    monkeypatch.setattr(ridge, "CHUNK_ROWS", 211)
    many = fit_residual_ridge(x, lags, Y, P, alphas, lag_cov=S)
    for key in ("coef", "gain", "intercept", "cv_r"):
        np.testing.assert_allclose(one[key], many[key], rtol=1e-8, atol=1e-10)
    B = np.kron(np.eye(x.shape[0]), ridge._psd_sqrt(S))
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


def test_ridge_refuses_too_short_calibration():
    with pytest.raises(ValueError, match="too short"):
        RidgeModel().calibrate(_segment(seconds=5))


def test_save_load_roundtrip_is_exact(tmp_path):
    seg = _segment()
    model = RidgeModel()
    model.calibrate(seg.crop_samples(0, 200 * 30))
    save_model(model, tmp_path / "m", extra={"note": "x"})
    loaded, cfg = load_model(tmp_path / "m")
    assert cfg["extra"]["note"] == "x" and len(cfg["sha256"]) == 64
    assert loaded.contacts.ch_names == seg.contacts.ch_names
    for k, v in model.state_dict().items():  # the weights round-trip bit for bit
        np.testing.assert_array_equal(loaded.state_dict()[k], v)
    # predictions agree to BLAS rounding (buffer alignment may pick another kernel)
    np.testing.assert_allclose(loaded.predict(seg.scalp[:, :500]), model.predict(seg.scalp[:, :500]),
                               rtol=1e-12, atol=0)
    with pytest.raises(OutputError, match="already exists"):
        save_model(model, tmp_path / "m")


def test_load_refuses_pickles_and_corruption(tmp_path):
    bad = tmp_path / "pickled"
    bad.mkdir()
    (bad / "model.pt").write_bytes(b"\x80\x04not really")
    with pytest.raises(ModelFileError, match="refusing pickled"):
        load_model(bad)
    seg = _segment()
    model = RidgeModel()
    model.calibrate(seg.crop_samples(0, 200 * 30))
    save_model(model, tmp_path / "m")
    w = tmp_path / "m" / "model.safetensors"
    w.write_bytes(w.read_bytes()[:100])
    with pytest.raises(ModelFileError, match="corrupted safetensors"):
        load_model(tmp_path / "m")
    save_model(model, tmp_path / "m2")
    cfg = json.loads((tmp_path / "m2" / "config.json").read_text())
    cfg["tensors"]["coef"]["shape"] = [1, 2]
    (tmp_path / "m2" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelFileError, match="coef"):
        load_model(tmp_path / "m2")
    cfg["format_version"] = 99
    (tmp_path / "m2" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelFileError, match="format_version"):
        load_model(tmp_path / "m2")


def test_source_readout_is_physical_and_signed():
    """A dipole just under a contact: the zero-shot eLORETA read-out follows it, with sign.

    Scalp data are generated with the template forward model itself from one
    source; the contact 8 mm from that source must correlate positively
    with the dipole's own potential there, a far contact much less.
    """
    import mne

    from ieegrecon.headmodel import dipole_potential_matrix, template_forward

    fwd, _ = template_forward(NAMES19)
    fwd = mne.convert_forward_solution(fwd, force_fixed=False, verbose=False)
    gain = fwd["sol"]["data"]  # (n_ch, n_src*3)
    src_rr = fwd["source_rr"]
    k = int(np.argmin(np.linalg.norm(src_rr - [-0.05, -0.02, 0.06], axis=1)))  # left central cortex
    rng = np.random.default_rng(0)
    q = np.cumsum(rng.normal(size=4000)) * 1e-9
    q -= q.mean()
    scalp = np.outer(gain[:, 3 * k + 2], q)  # radial-ish z dipole
    scalp -= scalp.mean(axis=0)
    near = src_rr[k] + [0, 0, 0.008]
    far = np.array([0.05, -0.08, 0.0])
    contacts = ContactInfo(["near", "far"], np.vstack([near, far]))
    model = SourceModel()
    model.set_targets(contacts, scalp_names=NAMES19)
    pred = model.predict(scalp)
    truth = dipole_potential_matrix(np.vstack([near, far]), src_rr[k:k + 1])[:, 2:3] @ q[None]
    r = pearson_r(truth, pred)
    assert r[0] > 0.9, r
    assert np.std(pred[0]) > 5 * np.std(pred[1])


def test_source_calibration_fits_signed_gain():
    seg = _segment(seconds=60)
    seg.contacts.positions[:] = [[-0.04, -0.02, 0.05]] * len(seg.contacts.ch_names)
    model = SourceModel()
    model.calibrate(seg)
    flipped = PairedSegment(seg.scalp, -seg.ieeg, seg.sfreq, seg.scalp_names, seg.contacts)
    model2 = SourceModel()
    model2.calibrate(flipped)
    np.testing.assert_allclose(model2.gain_, -model.gain_, rtol=1e-10)


def test_source_refuses_contacts_without_positions():
    from ieegrecon.errors import ModelInputMismatch

    seg = _segment(seconds=30)
    seg.contacts.positions[0] = np.nan
    with pytest.raises(ModelInputMismatch, match="without MNI position"):
        SourceModel().calibrate(seg)


def test_lcmv_variant_runs_and_round_trips(tmp_path):
    seg = _segment(seconds=60)
    seg.contacts.positions[:] = [[-0.04, -0.02, 0.05]] * len(seg.contacts.ch_names)
    model = SourceModel(inverse="LCMV")
    model.calibrate(seg)
    save_model(model, tmp_path / "lcmv")
    loaded, cfg = load_model(tmp_path / "lcmv")
    assert cfg["params"]["inverse"] == "LCMV"
    np.testing.assert_allclose(loaded.predict(seg.scalp[:, :100]), model.predict(seg.scalp[:, :100]),
                               rtol=1e-12, atol=0)
