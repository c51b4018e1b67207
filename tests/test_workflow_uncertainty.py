"""Flow through the pipeline: calibrate with a pretrained flow, reconstruct with --samples."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ieegrecon.errors import UsageError
from ieegrecon.workflow.calibrate import calibrate
from ieegrecon.workflow.inputs import contact_info, load_paired_recordings, make_segment, map_regions
from ieegrecon.workflow import factory
from ieegrecon.models import save_model
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
    # exact Gaussian bands: symmetric about the median, constant width per contact, said in the sidecar
    med = np.asarray(unc["median"], float)
    np.testing.assert_allclose(hi - med, med - lo, atol=1e-9)
    width = hi - lo
    np.testing.assert_allclose(width, np.broadcast_to(width[:, :1], width.shape), rtol=1e-5)
    assert "exact" in unc["bands"] and "exact" in run.output
