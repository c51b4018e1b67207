"""A patient without a simultaneous iEEG recording: zero-shot model from scalp EEG + contact positions."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from conftest import EXAMPLES, need
from ieegrecon.cli import app

runner = CliRunner()
ELECTRODES = EXAMPLES / "calibration" / "sub-01" / "ses-01" / "ieeg" / \
    "sub-01_ses-01_space-MNI152NLin2009aSym_electrodes.tsv"
SCALP = EXAMPLES / "MB0400FU.EDF"  # real scalp EEG only: no intracranial channel


def run(*args: object):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.slow  # loads the shipped cast model and reconstructs 29 s (~20 s)
def test_scalp_only_zero_shot_model_reconstructs_and_says_nothing_was_measured(tmp_path, monkeypatch):
    need(SCALP)
    pm = tmp_path / "pm"
    res = run("calibrate", SCALP, "--electrodes", ELECTRODES, "--minutes", "0", "--method", "cast",
              "--out", pm, "--json")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert len(summary["contacts"]) == 48
    assert all(c["heldout_r"] is None for c in summary["contacts"])  # nothing measured on this patient
    assert summary["evaluation"].startswith("zero-shot from contact positions alone")
    cfg = json.loads((pm / "config.json").read_text())
    assert cfg["trained_on"]["calibration"]["intracranial_recording"] is False
    assert not (pm / "holdout.h5").exists()
    res = run("reconstruct", SCALP, "--model", pm, "--out", tmp_path / "r.edf", "--report", tmp_path / "rep")
    assert res.exit_code == 0, res.output
    html = (tmp_path / "rep" / "report.html").read_text()
    assert "No intracranial recording of this patient" in html and "Zero-shot:" in html
    assert json.loads((tmp_path / "rep" / "report.json").read_text())["zero_shot"] is True
    # long outputs stream with bounded memory even without a calibration range (fixed from the first piece)
    from ieegrecon.workflow import reconstruct

    monkeypatch.setattr(reconstruct, "STREAM_OVER_S", 10.0)
    res = run("reconstruct", SCALP, "--model", pm, "--out", tmp_path / "s.edf", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)["outputs"][0]
    assert any(n.startswith("streamed") for n in out["notes"]) and sum(out["n_clipped"].values()) == 0


def test_scalp_only_needs_a_zero_shot_method(tmp_path):
    res = run("calibrate", SCALP, "--electrodes", ELECTRODES, "--minutes", "0", "--method", "ridge",
              "--out", tmp_path / "pm")
    assert res.exit_code == 2
    assert "cannot run without calibration" in res.stderr and res.stderr.count("\n") == 1
    assert not (tmp_path / "pm").exists()
