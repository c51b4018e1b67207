"""EEG source imaging read out at the contacts (ieegrecon.models.source, ieegrecon.headmodel)."""

from __future__ import annotations

import numpy as np
import pytest

from ieegrecon.metrics import pearson_r
from ieegrecon.models import ContactInfo, PairedSegment, load_model, save_model
from ieegrecon.models.source import SourceModel
from _synthetic import NAMES19, lagged_segment


_segment = lagged_segment


def test_source_readout_is_physical_and_signed():
    """A dipole just under a contact: the zero-shot eLORETA read-out follows it, with sign.

    Scalp data are generated with the template forward model itself from one
    source; the contact 8 mm from that source must correlate positively
    with the dipole's own potential there, a far contact much less.
    """
    import mne

    from ieegrecon.headmodel import dipole_potential_matrix, template_forward

    fwd, _ = template_forward(NAMES19)
    fwd = mne.convert_forward_solution(fwd, force_fixed=False, verbose=False)
    gain = fwd["sol"]["data"]  # (n_ch, n_src*3)
    src_rr = fwd["source_rr"]
    k = int(np.argmin(np.linalg.norm(src_rr - [-0.05, -0.02, 0.06], axis=1)))  # left central cortex
    rng = np.random.default_rng(0)
    q = np.cumsum(rng.normal(size=4000)) * 1e-9
    q -= q.mean()
    scalp = np.outer(gain[:, 3 * k + 2], q)  # radial-ish z dipole
    scalp -= scalp.mean(axis=0)
    near = src_rr[k] + [0, 0, 0.008]
    far = np.array([0.05, -0.08, 0.0])
    contacts = ContactInfo(["near", "far"], np.vstack([near, far]))
    model = SourceModel()
    model.set_targets(contacts, scalp_names=NAMES19)
    pred = model.predict(scalp)
    truth = dipole_potential_matrix(np.vstack([near, far]), src_rr[k:k + 1])[:, 2:3] @ q[None]
    r = pearson_r(truth, pred)
    assert r[0] > 0.9, r
    assert np.std(pred[0]) > 5 * np.std(pred[1])


def test_source_calibration_fits_signed_gain():
    seg = _segment(seconds=60)
    seg.contacts.positions[:] = [[-0.04, -0.02, 0.05]] * len(seg.contacts.ch_names)
    model = SourceModel()
    model.calibrate(seg)
    flipped = PairedSegment(seg.scalp, -seg.ieeg, seg.sfreq, seg.scalp_names, seg.contacts)
    model2 = SourceModel()
    model2.calibrate(flipped)
    np.testing.assert_allclose(model2.gain_, -model.gain_, rtol=1e-10)


def test_source_refuses_contacts_without_positions():
    from ieegrecon.errors import ModelInputMismatch

    seg = _segment(seconds=30)
    seg.contacts.positions[0] = np.nan
    with pytest.raises(ModelInputMismatch, match="without MNI position"):
        SourceModel().calibrate(seg)


def test_lcmv_variant_runs_and_round_trips(tmp_path):
    seg = _segment(seconds=60)
    seg.contacts.positions[:] = [[-0.04, -0.02, 0.05]] * len(seg.contacts.ch_names)
    model = SourceModel(inverse="LCMV")
    model.calibrate(seg)
    save_model(model, tmp_path / "lcmv")
    loaded, cfg = load_model(tmp_path / "lcmv")
    assert cfg["params"]["inverse"] == "LCMV"
    np.testing.assert_allclose(loaded.predict(seg.scalp[:, :100]), model.predict(seg.scalp[:, :100]),
                               rtol=1e-12, atol=0)
