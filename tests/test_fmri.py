"""EEG-conditioned BOLD frames on fsaverage5 and null-space completion (issue #8)."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest

from ieegrecon.errors import InputError, ModelFileError
from ieegrecon.fmri.completion import (
    complete,
    linear_interpolation,
    matern52,
    parse_frames,
    random_mask,
)
from ieegrecon.fmri.io import SURROGATE, read_bold_gifti, write_bold
from ieegrecon.fmri.mesh import N_VERTICES, load_fsaverage5
from ieegrecon.fmri.metrics import mse, pearson_r, ssim
from ieegrecon.fmri.model import METHOD, FmriModel, hrf_basis

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:tvb.*")


# ---------------------------------------------------------------------------- mesh
def test_mesh_matches_annotation():
    mesh = load_fsaverage5()
    assert mesh.n_vertices == 2 * N_VERTICES == 20484
    assert mesh.n_parcels == 68
    lab = mesh.labels[:N_VERTICES]
    e = np.concatenate([mesh.tris[:, [0, 1]], mesh.tris[:, [1, 2]]])
    same = np.mean(lab[e[:, 0]] == lab[e[:, 1]])
    perm = np.random.default_rng(0).permutation(N_VERTICES)
    shuffled = np.mean(lab[perm][e[:, 0]] == lab[perm][e[:, 1]])
    assert same > 0.85
    assert shuffled < 0.2


def test_parcel_vertex_round_trip():
    mesh = load_fsaverage5()
    x = np.random.default_rng(1).standard_normal((4, mesh.n_parcels))
    v = mesh.parcel_to_vertex(x)
    assert v.shape == (4, 20484)
    np.testing.assert_allclose(mesh.vertex_to_parcel(v), x)
    assert np.all(v[:, mesh.labels < 0] == 0)


# ---------------------------------------------------------------------- completion
def _smooth_toy(rng, n_frames=120, n_series=50, length=4.0):
    t = np.arange(n_frames)
    c = matern52(t[:, None] - t[None, :], length) + 1e-8 * np.eye(n_frames)
    return np.linalg.cholesky(c) @ rng.standard_normal((n_frames, n_series))


def test_parse_frames():
    assert parse_frames("0,5,10-12", 20).tolist() == [0, 5, 10, 11, 12]
    assert parse_frames("3\n1 2", 5).tolist() == [1, 2, 3]
    with pytest.raises(ValueError):
        parse_frames("0,30", 20)
    with pytest.raises(ValueError):
        parse_frames("5-2", 20)


def test_completion_keeps_measured_frames_exactly():
    rng = np.random.default_rng(0)
    truth = _smooth_toy(rng).astype(np.float32)
    prior = truth + rng.standard_normal(truth.shape)
    keep = random_mask(truth.shape[0], 0.5, rng)
    out = complete(prior, truth[keep], keep, length=4.0, nugget=0.05)
    assert out.shape == truth.shape
    assert np.array_equal(out[keep], truth[keep])
    assert out.dtype == np.float32


def test_completion_beats_interpolation_and_prior_on_toy():
    rng = np.random.default_rng(3)
    truth = _smooth_toy(rng)
    # an informative prior whose error is slower than the signal (the EEG model's role: its
    # predictions are HRF-convolved, so their errors are smooth too)
    prior = 0.8 * truth + 0.6 * _smooth_toy(rng, length=15.0)
    keep = random_mask(truth.shape[0], 0.5, rng)
    miss = np.setdiff1d(np.arange(truth.shape[0]), keep)
    out = complete(prior, truth[keep], keep, length=4.0, nugget=0.05)
    lin = linear_interpolation(truth[keep], keep, truth.shape[0])
    r_c = np.mean(pearson_r(out[miss], truth[miss]))
    r_l = np.mean(pearson_r(lin[miss], truth[miss]))
    r_p = np.mean(pearson_r(prior[miss], truth[miss]))
    assert r_c > r_l and r_c > r_p
    assert mse(out[miss], truth[miss]) < mse(lin[miss], truth[miss])


def test_linear_interpolation_exact_on_lines():
    t = np.arange(10.0)[:, None] * np.array([[1.0, -2.0]])
    keep = np.array([0, 3, 9])
    np.testing.assert_allclose(linear_interpolation(t[keep], keep, 10), t)


# ------------------------------------------------------------------------- metrics
def test_metrics():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 60))
    assert ssim(x, x) == pytest.approx(1.0)
    assert ssim(x + 0.5 * rng.standard_normal(x.shape), x) < ssim(x + 0.1 * rng.standard_normal(x.shape), x) < 1
    np.testing.assert_allclose(pearson_r(x, 2 * x + 1), 1.0)
    assert mse(x, x + 2) == pytest.approx(4.0)


def test_hrf_basis_peaks_near_5s():
    b = hrf_basis(0.8)
    assert b.shape[1] == 3
    assert 4.0 <= np.argmax(b[:, 0]) * 0.8 <= 6.5


# ------------------------------------------------------------------------------ io
def test_gifti_round_trip(tmp_path):
    x = np.random.default_rng(0).standard_normal((5, 20484)).astype(np.float32)
    files = write_bold(tmp_path / "b.func.gii", x, tr=0.8, meta={"model_sha256": "abc"})
    assert [f.name for f in files] == ["b.lh.func.gii", "b.rh.func.gii"]
    for f in files:
        img = nib.load(str(f))
        assert len(img.darrays) == 5 and img.darrays[0].data.shape == (10242,)
        assert img.meta["Description"] == SURROGATE and img.meta["model_sha256"] == "abc"
    y, _meta = read_bold_gifti(files[1])
    assert np.array_equal(x, y)
    nii = write_bold(tmp_path / "b.nii.gz", x, tr=0.8, meta={})[0]
    assert nib.load(str(nii)).shape == (20484, 1, 1, 5)


def test_gifti_wrong_vertex_count(tmp_path):
    for h in ("lh", "rh"):
        img = nib.gifti.GiftiImage(darrays=[nib.gifti.GiftiDataArray(np.zeros(642, np.float32))])
        nib.save(img, str(tmp_path / f"x.{h}.func.gii"))
    with pytest.raises(InputError, match="x.lh.func.gii.*642 vertices"):
        read_bold_gifti(tmp_path / "x.lh.func.gii")


# --------------------------------------------------------------- model + CLI (sim)
@pytest.fixture(scope="module")
def sim_pair():
    from ieegrecon.fmri.simulate import simulate_subject

    return simulate_subject(32.0, 7, warmup_s=5.0), simulate_subject(24.0, 8, warmup_s=5.0)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_simulated_subject_shapes(sim_pair):
    a, _ = sim_pair
    assert a.eeg.shape == (19, round(40 * 0.8 * a.sfreq))
    assert a.bold.shape == (40, 20484) and np.all(np.isfinite(a.bold))
    assert 5e-6 < a.eeg.std() < 1e-4  # tens of µV
    assert 0.05 < a.bold_parcels.std() < 10  # percent signal change


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_model_save_load_and_cli(sim_pair, tmp_path):
    from typer.testing import CliRunner

    import ieegrecon.cli.fmri_cmd  # noqa: F401 - registers the commands
    from ieegrecon.cli.app import app
    from ieegrecon.io.edf import write_edf

    train, test = sim_pair
    mesh = load_fsaverage5()
    m = FmriModel(train.ch_names, 0.8, alpha=100.0).fit(
        [train.eeg], train.sfreq, [mesh.vertex_to_parcel(train.bold)], vertex_bolds=[train.bold], mesh=mesh)
    m.save(tmp_path / "model")
    m2 = FmriModel.load(tmp_path / "model")
    pred = m2.predict(test.eeg, test.sfreq, test.n_frames)
    assert pred.shape == (test.n_frames, 68)
    np.testing.assert_array_equal(pred, m.predict(test.eeg, test.sfreq, test.n_frames))
    assert json.loads((tmp_path / "model" / "config.json").read_text())["method"] == METHOD

    write_edf(tmp_path / "eeg.edf", test.eeg, test.sfreq, test.ch_names)
    write_bold(tmp_path / "known.func.gii", test.bold, tr=0.8, meta={})
    runner = CliRunner()
    res = runner.invoke(app, ["fmri", str(tmp_path / "eeg.edf"), "--model", str(tmp_path / "model"),
                              "--known-bold", str(tmp_path / "known.lh.func.gii"), "--known-frames", "0,5,10-20",
                              "--tr", "0.8", "--out", str(tmp_path / "out.func.gii"), "--json"])
    assert res.exit_code == 0, res.output
    out, meta = read_bold_gifti(tmp_path / "out.lh.func.gii")
    known, _ = read_bold_gifti(tmp_path / "known.lh.func.gii")
    idx = [0, 5] + list(range(10, 21))
    assert out.shape == (test.n_frames, 20484)
    assert np.array_equal(out[idx], known[idx])
    assert meta["Description"].startswith("SURROGATE:")
    assert meta["model_sha256"] == json.loads(res.stdout)["model_sha256"] and len(meta["input_sha256"]) == 64

    # errors are one line naming the file
    res = runner.invoke(app, ["fmri", str(tmp_path / "eeg.edf"), "--model", str(tmp_path / "nomodel"),
                              "--out", str(tmp_path / "o2.func.gii")])
    assert res.exit_code == ModelFileError.exit_code and "nomodel" in res.output
    res = runner.invoke(app, ["fmri", str(tmp_path / "eeg.edf"), "--model", str(tmp_path / "model"),
                              "--known-bold", str(tmp_path / "known.lh.func.gii"), "--known-frames", "0,999",
                              "--out", str(tmp_path / "o3.func.gii")])
    assert res.exit_code == InputError.exit_code and "0,999" in res.output
    res = runner.invoke(app, ["fmri", str(tmp_path / "eeg.edf"), "--model", str(tmp_path / "model"),
                              "--out", str(tmp_path / "out.func.gii")])
    assert res.exit_code == 5 and "out.lh.func.gii" in res.output


def test_coupling_weights_follow_the_literature_signs():
    from ieegrecon.fmri.coupling import DRIVE_BANDS, coupling_weights

    mesh = load_fsaverage5()
    w = coupling_weights(mesh.parcel_names, np.random.default_rng(0), jitter=0.0)
    col = {b: i for i, b in enumerate(DRIVE_BANDS)}
    name = {n: i for i, n in enumerate(mesh.parcel_names)}
    assert w[name["lh.lateraloccipital"], col["alpha"]] == -1.0  # posterior alpha: strongest negative
    assert w[name["rh.precentral"], col["beta"]] == -0.8  # sensorimotor beta: negative
    assert w[name["lh.posteriorcingulate"], col["beta"]] == 0.4  # default-mode beta: positive
    assert w[name["lh.posteriorcingulate"], col["theta"]] == -0.5
    assert np.all(w[:, col["gamma"]] > 0)
    jittered = coupling_weights(mesh.parcel_names, np.random.default_rng(1))
    assert not np.array_equal(jittered, w) and np.all(np.sign(jittered) == np.sign(w))


def test_vertex_noise_has_drift_and_physiology():
    from ieegrecon.fmri.coupling import vertex_noise

    mesh = load_fsaverage5()
    n = vertex_noise(60, 0.8, mesh, 2.0, np.random.default_rng(0))
    assert n.shape == (60, 20484) and np.all(np.isfinite(n))
    assert 1.0 < n.std() < 2.0  # ~0.6 x the parcel SD in all
    spec = np.abs(np.fft.rfft(n - n.mean(axis=0), axis=0)) ** 2
    assert spec[1:3].mean() > spec[10:].mean()  # slow drift above the white floor


def test_drift_term_extrapolates_a_polynomial_drift_into_a_gap():
    from ieegrecon.fmri.completion import drift_basis

    rng = np.random.default_rng(3)
    n, v = 120, 40
    truth = drift_basis(n, 2) @ rng.normal(size=(2, v)) + 0.1 * rng.standard_normal((n, v))
    keep = np.r_[0:40, 80:120]
    miss = np.arange(40, 80)
    err = {}
    for order in (0, 2):
        out = complete(np.zeros((n, v)), truth[keep], keep, length=3.0, nugget=0.2, offset=False, trend=order)
        assert np.max(np.abs(out[keep] - truth[keep])) == 0
        err[order] = np.mean((out[miss] - truth[miss]) ** 2)
    assert err[2] < 0.2 * err[0], err
