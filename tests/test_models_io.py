"""The model folder (ieegrecon.models.io): config.json + model.safetensors, safe save/load."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ieegrecon.errors import ModelFileError, OutputError
from ieegrecon.models import load_model, save_model
from ieegrecon.models.ridge import RidgeModel
from _synthetic import lagged_segment


_segment = lagged_segment


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
