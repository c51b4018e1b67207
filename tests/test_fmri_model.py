"""The fMRI model's folder is ieegrecon's one model-folder format (ieegrecon.models.io)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ieegrecon.errors import ModelFileError, OutputError
from ieegrecon.fmri.model import BANDS, HRF_PEAKS, METHOD, FmriModel
from ieegrecon.models.io import weights_sha256

CH = ["Fz", "Cz", "Pz"]


def _model(seed: int = 0) -> FmriModel:
    m = FmriModel(CH, 0.8, alpha=100.0, mu=1.0)
    m.n_parcels = 5
    m.weights = np.random.default_rng(seed).normal(size=(len(CH) * len(BANDS) * (len(HRF_PEAKS) + 2) + 1, 5))
    m.kernel = {"length": 2.0, "nugget": 0.2, "offset": False, "gain_shrink": 100.0, "trend": 2}
    m.kernel_gp = {"length": 5.0, "nugget": 0.05, "offset": True, "gain_shrink": 0.0}
    m.rank = 6
    m.trained_on = {"n_subjects": 2, "n_frames": 10}
    return m


def test_save_writes_the_model_folder_format_and_loads_exactly(tmp_path):
    m = _model()
    m.save(tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    assert cfg["format_version"] == 1 and cfg["method"] == METHOD and "ieegrecon_version" in cfg
    assert cfg["written_by"]["kind"] == "fmri-model"
    assert cfg["tensors"] == {"weights": {"shape": list(m.weights.shape), "dtype": "float64"}}
    m2 = FmriModel.load(tmp_path / "m")
    np.testing.assert_array_equal(m2.weights, m.weights)
    assert (m2.ch_names, m2.tr, m2.alpha, m2.mu, m2.kernel, m2.kernel_gp, m2.rank, m2.n_parcels, m2.trained_on) == \
        (m.ch_names, m.tr, m.alpha, m.mu, m.kernel, m.kernel_gp, m.rank, m.n_parcels, m.trained_on)
    assert m2.kernel_args() == {"length": 2.0, "nugget": 0.2, "offset": False, "gain_shrink": 100.0, "trend": 2}
    assert m2.kernel_args(gp_only=True)["trend"] == 0  # folders written before the drift term: none
    assert len(weights_sha256(tmp_path / "m")) == 64
    with pytest.raises(OutputError):
        _model(1).save(tmp_path / "m")
    _model(1).save(tmp_path / "m", overwrite=True)
    assert not np.array_equal(FmriModel.load(tmp_path / "m").weights, m.weights)


def test_load_refuses_what_the_model_folder_reader_refuses(tmp_path):
    _model().save(tmp_path / "m")
    cfg_path, w_path = tmp_path / "m" / "config.json", tmp_path / "m" / "model.safetensors"
    cfg = json.loads(cfg_path.read_text())
    cfg_path.write_text(json.dumps({**cfg, "sha256": "0" * 64}))
    with pytest.raises(ModelFileError, match="sha256"):
        FmriModel.load(tmp_path / "m")
    cfg_path.write_text(json.dumps({**cfg, "method": "fmri-ridge-hrf"}))
    with pytest.raises(ModelFileError, match="older ieegrecon.*fmri-ridge-hrf.*train a new one"):
        FmriModel.load(tmp_path / "m")
    cfg_path.write_text(json.dumps({**cfg, "method": "ridge"}))
    with pytest.raises(ModelFileError, match="not an fMRI model"):
        FmriModel.load(tmp_path / "m")
    cfg_path.write_text(json.dumps({**cfg, "format_version": 99}))
    with pytest.raises(ModelFileError, match="format_version"):
        FmriModel.load(tmp_path / "m")
    cfg_path.write_text(json.dumps(cfg))
    w_path.write_bytes(b"\x00" * 20)
    with pytest.raises(ModelFileError, match="corrupted safetensors"):
        FmriModel.load(tmp_path / "m")
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "model.pkl").write_bytes(b"x")
    with pytest.raises(ModelFileError, match="refusing pickled"):
        FmriModel.load(tmp_path / "p")
    bad = _model()
    bad.weights[0, 0] = np.nan
    bad.save(tmp_path / "nan")
    with pytest.raises(ModelFileError, match="NaN"):
        FmriModel.load(tmp_path / "nan")
