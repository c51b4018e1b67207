"""Flow through the pipeline: calibrate with a pretrained flow, reconstruct with --samples."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pyedflib
import pytest

from ieegrecon.errors import UsageError
from ieegrecon.workflow.calibrate import calibrate
from ieegrecon.workflow.inputs import contact_info, load_paired_recordings, make_segment, map_regions
from ieegrecon.workflow import factory
from ieegrecon.models import save_model
from ieegrecon.models.io import load_model, load_patient_model
from ieegrecon.models.flow import FlowModel
from ieegrecon.preprocessing import Preprocessing


@pytest.fixture(scope="module")
def pretrained_flow(linear_session, tmp_path_factory):
    scalp, intra = load_paired_recordings(linear_session)
    seg = make_segment(scalp, intra, contact_info(intra, map_regions(intra)),
                       Preprocessing(), subject="sub-01")
    model = FlowModel(d_enc=16, d_contact=8, d_ctx=8, hidden=16)
    model.pretrain([seg.crop_samples(0, 200 * 60)], epochs=1, seed=0, max_steps_per_epoch=3)
    out = tmp_path_factory.mktemp("flow") / "pre"
    save_model(model, out)
    return out


def test_flow_calibrate_and_reconstruct_with_samples(pretrained_flow, linear_session, mb0400fu, tmp_path):
    from typer.testing import CliRunner

    from ieegrecon.cli import app
    from ieegrecon.workflow.uncertainty import read_uncertainty_h5

    res = calibrate(linear_session, method="flow", minutes=1.5, out=tmp_path / "pm",
                    pretrained=pretrained_flow)
    cov = res.extra["heldout_coverage90"]
    assert cov is not None and len(cov) == 48 and all(0.0 <= v <= 1.0 for v in cov.values())
    run = CliRunner().invoke(app, ["reconstruct", str(mb0400fu), "--model", str(tmp_path / "pm"),
                                   "--out", str(tmp_path / "r.edf"), "--samples", "4",
                                   "--report", str(tmp_path / "rep"), "--json"])
    assert run.exit_code == 0, run.output
    unc = read_uncertainty_h5(tmp_path / "r_uncertainty.h5")
    lo, hi = np.asarray(unc["lo"]), np.asarray(unc["hi"])
    assert lo.shape == hi.shape == (48, 29 * 200) and np.all(lo <= hi)
    assert "quantiles of the same 4 draws" in unc["bands"]
    rep = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert all(r["coverage90"] is not None for r in rep["regions"])
    # --samples with a point-estimate model is a usage error
    res_r = calibrate(linear_session, method="ridge", minutes=1.5, out=tmp_path / "ridge")
    run = CliRunner().invoke(app, ["reconstruct", str(mb0400fu), "--model", str(res_r.out),
                                   "--out", str(tmp_path / "x.edf"), "--samples", "4"])
    assert run.exit_code == 2 and "needs a model that samples" in run.stderr


def test_flow_calibrates_without_a_pretrained_model(linear_session, tmp_path):
    """`calibrate --method flow` needs no --model (trained on the patient's minutes), cast still does."""
    from typer.testing import CliRunner

    from ieegrecon.cli import app
    from ieegrecon.models.io import load_model

    run = CliRunner().invoke(app, ["calibrate", str(linear_session), "--method", "flow", "--minutes", "1",
                                   "--out", str(tmp_path / "f")])
    assert run.exit_code == 0, run.output
    model, _ = load_model(tmp_path / "f")
    assert isinstance(model, FlowModel) and model.loc_ is not None and model.window_chol_ is not None
    assert model.trained_on["pretrain"] is None and model.trained_on["calibration"]["minutes"] == 1
    with pytest.raises(UsageError, match="needs a pretrained model"):
        factory.new_model("cast", None, 200.0)


def test_too_short_calibration_names_the_recording(linear_session, tmp_path):
    """A model's own 'too short' refusal becomes a one-line input error naming the session, exit 3."""
    from typer.testing import CliRunner

    from ieegrecon.cli import app

    run = CliRunner().invoke(app, ["calibrate", str(linear_session), "--method", "flow", "--minutes", "0.05",
                                   "--out", str(tmp_path / "f")])
    assert run.exit_code == 3
    line = run.stderr.strip()
    assert "\n" not in line and str(linear_session) in line and "too short for flow" in line
    assert not (tmp_path / "f").exists()


def test_ridge_gauss_is_a_sampler_end_to_end(linear_session, mb0400fu, tmp_path):
    """The default sampler (issue #19's step-down): calibrate ridge-gauss, reconstruct --samples, bands written."""
    from typer.testing import CliRunner

    from ieegrecon.cli import app
    from ieegrecon.workflow.uncertainty import read_uncertainty_h5

    res = calibrate(linear_session, method="ridge-gauss", minutes=1.5, out=tmp_path / "pm")
    cov = res.extra["heldout_coverage90"]
    assert cov is not None and len(cov) == 48 and 0.5 < np.mean(list(cov.values())) <= 1.0
    run = CliRunner().invoke(app, ["reconstruct", str(mb0400fu), "--model", str(tmp_path / "pm"),
                                   "--out", str(tmp_path / "r.edf"), "--samples", "4"])
    assert run.exit_code == 0, run.output
    unc = read_uncertainty_h5(tmp_path / "r_uncertainty.h5")
    lo, hi = np.asarray(unc["lo"]), np.asarray(unc["hi"])
    assert lo.shape == (48, 29 * 200) and np.all(lo <= hi) and np.mean(hi - lo) > 0
    # exact Gaussian bands: the EDF's trace plus 1.645 residual SD per contact; the sidecar holds the offsets only
    model, _ = load_model(tmp_path / "pm")
    assert unc["layout"] == "offsets" and (tmp_path / "r_uncertainty.h5").stat().st_size < 20_000
    np.testing.assert_allclose(unc["offsets"], np.outer([-1.6448536, 1.6448536], model.residual_sd()), rtol=1e-6)
    # the EDF is the point estimate's, byte for byte (what a run without --samples writes), and the median its trace
    plain = CliRunner().invoke(app, ["reconstruct", str(mb0400fu), "--model", str(tmp_path / "pm"),
                                     "--out", str(tmp_path / "p.edf")])
    assert plain.exit_code == 0 and (tmp_path / "p.edf").read_bytes() == (tmp_path / "r.edf").read_bytes()
    import mne  # an independent reader of the trace the bands are built around

    raw = mne.io.read_raw_edf(tmp_path / "r.edf", verbose=False)
    np.testing.assert_allclose(unc["median"], raw.get_data()[:, :29 * 200], rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(hi - unc["median"], unc["median"] - lo, atol=1e-10)  # float32 arrays
    np.testing.assert_allclose(hi - lo, np.broadcast_to((hi - lo)[:, :1], lo.shape), rtol=1e-5)
    assert "exact" in unc["bands"] and "exact" in run.output and not unc["n_clipped"].any()
    offs = read_uncertainty_h5(tmp_path / "r_uncertainty.h5", arrays=False)
    assert "lo" not in offs and offs["gaps"] == [] and offs["edf"] == tmp_path / "r.edf"
    # moved: found with edf=; another reconstruction's EDF under its name: refused, never paired silently
    (tmp_path / "r.edf").rename(tmp_path / "moved.edf")
    with pytest.raises(ValueError, match="missing"):
        read_uncertainty_h5(tmp_path / "r_uncertainty.h5")
    again = read_uncertainty_h5(tmp_path / "r_uncertainty.h5", edf=tmp_path / "moved.edf", start=5, stop=9)
    np.testing.assert_array_equal(again["hi"], hi[:, 5:9])
    res_r = calibrate(linear_session, method="ridge", minutes=1.0, out=tmp_path / "other")
    CliRunner().invoke(app, ["reconstruct", str(mb0400fu), "--model", str(res_r.out), "--out", str(tmp_path / "r.edf")])
    with pytest.raises(ValueError, match="not the EDF these bands were written with"):
        read_uncertainty_h5(tmp_path / "r_uncertainty.h5")


def test_write_band_offsets_h5_refuses_bad_offsets_and_foreign_edfs(tmp_path):
    from ieegrecon.workflow.uncertainty import write_band_offsets_h5

    (tmp_path / "a.edf").write_bytes(b"x")
    ok = dict(sfreq=200.0, ch_names=["A1", "B2"], q=(0.05, 0.95), n_times=10)
    with pytest.raises(ValueError, match="shape"):
        write_band_offsets_h5(tmp_path / "u.h5", np.zeros((2, 3)), edf=tmp_path / "a.edf", **ok)
    with pytest.raises(ValueError, match="lower offsets"):
        write_band_offsets_h5(tmp_path / "u.h5", np.array([[1.0, -1.0], [1.0, 1.0]]), edf=tmp_path / "a.edf", **ok)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.edf").write_bytes(b"x")
    for edf in (tmp_path / "sub" / "b.edf", tmp_path / "none.edf"):
        with pytest.raises(ValueError, match="beside the sidecar"):
            write_band_offsets_h5(tmp_path / "u.h5", np.array([[-1.0, -1.0], [1.0, 1.0]]), edf=edf, **ok)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.edf", "sub"]
    # any number of gaps (an HDF5 attribute would stop at 64 kB, ~4000 gaps)
    gaps = [(float(k), 0.5) for k in range(10_000)]
    p = write_band_offsets_h5(tmp_path / "u.h5", np.array([[-1.0, -1.0], [1.0, 1.0]]), edf=tmp_path / "a.edf",
                              gaps=gaps, **ok)
    from ieegrecon.workflow.uncertainty import read_uncertainty_h5

    assert read_uncertainty_h5(p, arrays=False)["gaps"] == gaps


def test_exact_bands_stream_at_any_length_draws_do_not(linear_session, mb0400fu, tmp_path, monkeypatch):
    """Exact bands need no arrays, so an output beyond STREAM_OVER_S gets them (streamed EDF + offsets);
    draw-based bands (flow) stay refused there, before any output is written."""
    from ieegrecon.errors import UsageError
    from ieegrecon.workflow import chunking, reconstruct
    from ieegrecon.workflow.uncertainty import read_uncertainty_h5

    calibrate(linear_session, method="ridge-gauss", minutes=1.5, out=tmp_path / "pm")
    mdl, cfg = load_patient_model(tmp_path / "pm", sampling=True)
    mem = reconstruct.reconstruct_file(mb0400fu, mdl, cfg, tmp_path / "mem.edf", samples=8)
    monkeypatch.setattr(reconstruct, "STREAM_OVER_S", 5.0)
    monkeypatch.setattr(chunking, "CHUNK_S", 7.0)
    res = reconstruct.reconstruct_file(mb0400fu, mdl, cfg, tmp_path / "long.edf", samples=8)
    assert any("streamed" in n for n in res.notes) and any("exact" in n for n in res.notes)
    a = read_uncertainty_h5(tmp_path / "mem_uncertainty.h5")
    b = read_uncertainty_h5(tmp_path / "long_uncertainty.h5")
    np.testing.assert_array_equal(a["offsets"], b["offsets"])
    assert b["median"].shape == (48, mem.n_times)
    # the bands differ only by the EDFs' quantization (as the traces in test_workflow_edf_output): within a step
    # of each file, the streamed one's STREAM_RANGE_SCALE times the calibration range's
    with pyedflib.EdfReader(str(tmp_path / "mem.edf")) as f:
        step_a = np.array([f.getPhysicalMaximum(i) - f.getPhysicalMinimum(i) for i in range(48)]) * 1e-6 / 65535
    step_b = reconstruct.STREAM_RANGE_SCALE * np.array(
        [hi - lo for lo, hi in (cfg.physical_range_uv[c] for c in mem.ch_names)]) * 1e-6 / 65535
    tol = 1.01 * (step_a + step_b)[:, None]
    for k in ("lo", "median", "hi"):
        assert np.all(np.abs(a[k] - b[k]) <= tol), k
    part = read_uncertainty_h5(tmp_path / "long_uncertainty.h5", start=1000, stop=1500)
    for k in ("lo", "median", "hi"):
        np.testing.assert_array_equal(part[k], b[k][:, 1000:1500])
    # draws: still refused beyond STREAM_OVER_S, before any output (with or without a physical range)
    mdl.__class__ = type("DrawnGauss", (type(mdl),), {"exact_bands": False})
    before = sorted(p.name for p in tmp_path.iterdir())
    for cfg_k in (cfg, dataclasses.replace(cfg, physical_range_uv=None)):
        with pytest.raises(UsageError, match="not supported for outputs longer"):
            reconstruct.reconstruct_file(mb0400fu, mdl, cfg_k, tmp_path / "drawn.edf", samples=8)
        assert sorted(p.name for p in tmp_path.iterdir()) == before  # no output, no temporary
