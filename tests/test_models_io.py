"""The model folder (ieegrecon.models.io): config.json + model.safetensors, safe save/load."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ieegrecon.errors import ModelFileError, OutputError
from ieegrecon.models import ContactInfo, PairedSegment, load_model, save_model
from ieegrecon.models.ridge import RidgeModel


NAMES19 = ["Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T3", "C3", "Cz", "C4", "T4", "T5", "P3", "Pz", "P4",
           "T6", "O1", "O2"]


def _segment(seconds=120, lag=3, seed=0, n_contacts=6):
    rng = np.random.default_rng(seed)
    n = int(seconds * 200)
    s = rng.normal(size=(5, n))
    x = rng.normal(size=(19, 5)) @ s + 0.5 * rng.normal(size=(19, n))
    y = rng.normal(size=(n_contacts, 5)) @ np.roll(s, lag, axis=1) + 0.5 * rng.normal(size=(n_contacts, n))
    contacts = ContactInfo([f"c{i}" for i in range(n_contacts)], rng.normal(size=(n_contacts, 3)) * 0.03)
    return PairedSegment(x * 1e-5, y * 1e-4, 200.0, NAMES19, contacts)


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
