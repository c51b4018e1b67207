"""`ieegrecon fmri-evaluate` (ieegrecon/cli/fmri_cmd.py), formerly `python -m ieegrecon.fmri.evaluate` (argparse)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

import ieegrecon.fmri.evaluate as fmri_evaluate
from ieegrecon.cli import app

runner = CliRunner()
RESULT = {"rows": [{"pattern": "contiguous", "missing": 0.25, "method": "completion", "r": 0.93712, "mse": 0.65049,
                   "ssim": 0.9421}], "model": {"alpha": 1e4}}


def test_same_options_and_output_as_the_argparse_entry_point(monkeypatch):
    calls = []
    monkeypatch.setattr(fmri_evaluate, "evaluate", lambda *a, **k: calls.append((a, k)) or RESULT)
    res = runner.invoke(app, ["fmri-evaluate", "--subjects", "3", "--test-subjects", "1", "--seed", "7",
                              "--duration", "60"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert calls == [((3, 1, 7, 60.0), {"sealed": False})]
    table, _, js = res.stdout.partition("\n{")
    assert table.splitlines() == ["| gaps | missing | method | Pearson r | MSE (%²) | SSIM |",
                                  "|---|---|---|---|---|---|", "| contiguous | 25% | completion | 0.937 | 0.6505 | 0.942 |"]
    assert json.loads("{" + js) == RESULT


def test_defaults_and_refusals(monkeypatch):
    calls = []
    monkeypatch.setattr(fmri_evaluate, "evaluate", lambda *a, **k: calls.append((a, k)) or RESULT)
    assert runner.invoke(app, ["fmri-evaluate"], catch_exceptions=False).exit_code == 0
    assert calls == [((12, 5, 0, 240.0), {"sealed": False})]
    res = runner.invoke(app, ["fmri-evaluate", "--duration", "0"], catch_exceptions=False)
    assert res.exit_code == 2 and "Invalid value for --duration: must be > 0" in res.stderr
    assert not hasattr(fmri_evaluate, "main")  # one entry point: the CLI
    # development seeds only; the sealed seeds need --sealed (docs/evaluation.md)
    res = runner.invoke(app, ["fmri-evaluate", "--seed", "50021"], catch_exceptions=False)
    assert res.exit_code == 2 and "--seed" in res.stderr
    assert runner.invoke(app, ["fmri-evaluate", "--sealed"], catch_exceptions=False).exit_code == 0
    assert calls[-1] == ((12, 5, 0, 240.0), {"sealed": True})


def test_library_refuses_sealed_master_seeds():
    import pytest

    with pytest.raises(ValueError, match="'seed' parameter.*0-999"):
        fmri_evaluate.subject_seeds(4, 2, 50021)
    assert fmri_evaluate.subject_seeds(2, 1, 3) == ([3000, 3001], [3002])
    assert fmri_evaluate.subject_seeds(2, 1, 3, sealed=True) == ([3000, 3001], [50021000, 50023000])
