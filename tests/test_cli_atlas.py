"""``ieegrecon atlas-agreement`` and ``ieegrecon atlas-aparc`` (ieegrecon.cli.atlas_cmd)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

import ieegrecon.atlas
import ieegrecon.io.electrodes
from ieegrecon.cli import app
from ieegrecon.errors import InputError

runner = CliRunner()


def test_atlas_agreement_passes_its_options_and_prints_json(monkeypatch, tmp_path):
    seen = {}

    def fake(root, *, atlas, max_distance_mm):
        seen.update(root=root, atlas=atlas, max_distance_mm=max_distance_mm)
        return {"agreement": 0.9, "n_compared": 3}

    monkeypatch.setattr(ieegrecon.atlas, "brainnetome_agreement", fake)
    res = runner.invoke(app, ["atlas-agreement", str(tmp_path), "--atlas", "aal3", "--max-distance", "3"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == {"agreement": 0.9, "n_compared": 3}
    assert seen == {"root": tmp_path, "atlas": "aal3", "max_distance_mm": 3.0}
    res = runner.invoke(app, ["atlas-agreement", str(tmp_path)])
    assert seen["atlas"] == "desikan_killiany" and seen["max_distance_mm"] == 5.0


def test_atlas_aparc_drops_the_key_lists(monkeypatch, tmp_path):
    class El:
        pass

    monkeypatch.setattr(ieegrecon.io.electrodes, "read_electrodes", lambda fif, subjects_dir=None: El())
    monkeypatch.setattr(ieegrecon.atlas, "aparc_agreement", lambda el, max_distance_mm: {
        "n_compared": 2, "subject_keys": ["a"], "atlas_keys": ["b"], "max": max_distance_mm})
    res = runner.invoke(app, ["atlas-aparc", str(tmp_path / "x.fif"), "--max-distance", "4"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == {"n_compared": 2, "max": 4.0}


def test_atlas_agreement_errors_are_one_line_with_their_exit_code(monkeypatch, tmp_path):
    def fake(root, *, atlas, max_distance_mm):
        raise InputError(f"unknown atlas {atlas!r}")

    monkeypatch.setattr(ieegrecon.atlas, "brainnetome_agreement", fake)
    res = runner.invoke(app, ["atlas-agreement", str(tmp_path), "--atlas", "nope"])
    assert res.exit_code == InputError.exit_code
    assert "ieegrecon: error: unknown atlas 'nope'" in res.output
    assert "atlas-agreement" in runner.invoke(app, ["--help"]).output
