"""ieegrecon info / import / map through the Typer app."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from ieegrecon.cli import app
from ieegrecon.io.edf import write_edf

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
runner = CliRunner()
needs = pytest.mark.skipif(not (DATA / "ds004752").is_dir() or not (DATA / "scalp_eeg").is_dir(),
                           reason="real data not found in ../shared/data")


@needs
def test_info_json_edf_plus_d():
    r = runner.invoke(app, ["info", "--json", str(DATA / "scalp_eeg" / "MB0400FU.EDF")])
    assert r.exit_code == 0, r.output
    obj = json.loads(r.stdout)
    assert obj["sfreq"] == 200 and obj["types"]["eeg"] == 21 and obj["types"]["misc"] == 4
    assert any("EDF+D" in q for q in obj["quirks"]) and obj["renamed"]["EEG T5-Ref"] == "P7"


@needs
def test_info_bids_table():
    r = runner.invoke(app, ["info", str(DATA / "ds004752" / "sub-06" / "ses-01")])
    assert r.exit_code == 0, r.output
    assert "swapped" in r.stdout and "10 scalp channels" in r.stdout


@needs
def test_map_writes_tsv_and_sidecar(tmp_path):
    out = tmp_path / "regions.tsv"
    r = runner.invoke(app, ["map", str(DATA / "ds004752" / "sub-01" / "ses-01"), "--out", str(out)])
    assert r.exit_code == 0, r.output
    df = pd.read_csv(out, sep="\t")
    need = {"name", "x", "y", "z", "region", "region_key", "hemisphere", "atlas_probability",
            "distance_to_label_mm", "distance_to_scalp_mm", "depth_class", "atlas"}
    assert need <= set(df.columns) and len(df) == 48
    assert (df["region_key"] == "hippocampus_L").sum() > 0
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["atlas"]["licence"] and meta["atlas"]["version"] and "deep" in meta["depth_rule"]
    r = runner.invoke(app, ["map", str(DATA / "ds004752" / "sub-01" / "ses-01"), "--out", str(out)])
    assert r.exit_code == 5


@needs
def test_map_json_aal3():
    r = runner.invoke(app, ["map", str(DATA / "pyneuromod_ecog" / "sub-testsub" / "ses-EphysMedOff"),
                            "--atlas", "aal3", "--json"])
    assert r.exit_code == 0, r.output
    obj = json.loads(r.stdout)
    assert obj["atlas"]["name"] == "aal3"
    keys = {c["name"]: c["region_key"] for c in obj["contacts"]}
    assert keys["ECOG_RIGHT_4"].endswith("_R") and keys["MOV_RIGHT"] == "unknown"


def test_import_mixed_and_errors(tmp_path):
    names = ["EEG Fp1-Ref", "EEG Cz-Ref", "X1", "X2"]
    f = tmp_path / "mixed.edf"
    write_edf(f, np.random.default_rng(3).normal(0, 2e-5, (4, 400)), 200.0, names)
    out = tmp_path / "store.h5"
    r = runner.invoke(app, ["import", str(f), "--out", str(out), "--ieeg-channels", "^X", "--json"])
    assert r.exit_code == 0, r.output
    parts = json.loads(r.stdout)["entries"][0]["parts"]
    assert parts["scalp"] == [2, 400] and parts["ieeg"] == [2, 400]
    r = runner.invoke(app, ["import", str(f), "--out", str(out)])
    assert r.exit_code == 5
    r = runner.invoke(app, ["info", str(tmp_path / "missing.edf")])
    assert r.exit_code == 3
    r = runner.invoke(app, ["map", str(f), "--json", "--atlas", "nope"])
    assert r.exit_code == 2
