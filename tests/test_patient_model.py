"""PatientModel: the typed config.json of a model folder, read and written through models.io."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ieegrecon.errors import ModelFileError
from ieegrecon.models.io import load_model, load_patient_model, read_model_config
from ieegrecon.models.patient import PatientModel, as_patient_model
from ieegrecon.preprocessing import Preprocessing

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "models" / "cast-sim9"


@pytest.fixture(scope="module")
def ridge_folder(linear_session, tmp_path_factory) -> Path:
    from ieegrecon.workflow.calibrate import calibrate

    out = tmp_path_factory.mktemp("pm") / "pm"
    calibrate(linear_session, method="ridge", minutes=1.5, out=out)
    return out


def test_round_trip_of_the_shipped_pretrained_model():
    cfg = json.loads((SHIPPED / "config.json").read_text())
    pm = PatientModel.from_config(cfg, folder=SHIPPED)
    assert pm.to_config() == cfg
    assert pm.method == "cast" and pm.folder == SHIPPED and pm.preprocessing is None
    assert pm.provenance.pretrained_on_simulated and not pm.provenance.calibrated_on_simulated
    assert set(pm.other_extra) == {"pretrain", "loso"}
    _, loaded = load_model(SHIPPED)  # with the weights' sha256
    assert PatientModel.from_config(loaded).to_config() == loaded


def test_round_trip_of_a_freshly_calibrated_folder(ridge_folder):
    cfg = json.loads((ridge_folder / "config.json").read_text())
    assert PatientModel.from_config(cfg).to_config() == cfg
    model, pm = load_patient_model(ridge_folder)
    _, loaded = load_model(ridge_folder)
    assert pm.to_config() == loaded and pm.folder == ridge_folder
    assert pm.sha256 == loaded["sha256"] and pm.model_id == f"ridge-{loaded['sha256'][:12]}"
    assert pm.heldout.r == cfg["extra"]["heldout_r"] and pm.heldout.nmse == cfg["extra"]["heldout_nmse"]
    assert pm.heldout.coverage90 is None and pm.heldout.zero_shot is False
    assert pm.physical_range_uv == cfg["extra"]["physical_range_uv"]
    assert pm.preprocessing == Preprocessing.from_dict(cfg["extra"]["preprocessing"]) and pm.sfreq == model.sfreq
    assert pm.contacts.ch_names == model.contacts.ch_names and pm.scalp_names == model.scalp_names
    assert pm.provenance.line_freq_source == "BIDS PowerLineFrequency" and pm.provenance.atlas == "desikan_killiany"
    assert pm.provenance.trained_on == model.trained_on and pm.provenance.pretrained_model is None
    assert as_patient_model(loaded).to_config() == loaded


def test_sfreq_must_match_the_preprocessing_rate(ridge_folder, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(ridge_folder, bad)
    cfg = json.loads((bad / "config.json").read_text())
    cfg["extra"]["preprocessing"]["sfreq"] = 250.0
    (bad / "config.json").write_text(json.dumps(cfg))
    read_model_config(bad)  # the generic reader does not know what a patient model is
    with pytest.raises(ModelFileError) as err:
        load_patient_model(bad)
    msg = str(err.value)
    assert "\n" not in msg and "config.json" in msg and "'sfreq'" in msg and "250" in msg
