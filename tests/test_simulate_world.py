"""World v1 regression (bit for bit against main before world v2) and WorldConfig."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from ieegrecon.simulate import load_layouts, simulate_dataset, simulate_session
from ieegrecon.simulate.world import V1, V2, WorldConfig, resolve_world, with_features

DS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ds004752"

# Computed on main (commit 3df995b) before world v2 existed:
# simulate_session(sub-01 layout, minutes=0.1, seed=11, subject_index=1, session_index=1)
V1_VALUES = {
    "scalp": (0.004339098159729053, 0.45878505195866465,
              [-3.268801016610356e-05, -6.0459379184113545e-06, 1.9494662737591213e-05, -5.5661868199023465e-05]),
    "ieeg": (-0.16534874296294516, 42.95639471319785,
             [0.00010483366317832767, 5.769174491664825e-05, -0.0005820532041299218, -1.8339429622137557e-05]),
    "sources": (3.844262831849017e-05, 0.022843777455659568,
                [2.8077666006738315e-09, -2.4907725188351943e-08, 2.7519838868038046e-08, -0.0]),
    "ieeg_local": (0.000556756607462355, 12.39307064385305,
                   [-1.6768181683006706e-05, -1.674330217750654e-05, -3.0994731510735986e-05,
                    -1.9461872525545144e-05]),
    "scalp_artifacts": (0.004846260260349729, 0.01961010684310644,
                        [-3.278225361793995e-07, 1.1686368526541275e-06, 2.7974217324615908e-06,
                         1.9200375830270694e-06]),
}
# sha256 (first 16 hex) of the files simulate_dataset(sub-01 layout, minutes=0.1, seed=11, n_sessions=1) wrote
V1_FILES = {
    "sub-01/ses-01/eeg/sub-01_ses-01_task-sim_run-01_eeg.edf": "06a23827dc3c48ff",
    "sub-01/ses-01/ieeg/sub-01_ses-01_task-sim_run-01_ieeg.edf": "1b0669ccd18fa2cc",
    "sub-01/ses-01/ieeg/sub-01_ses-01_task-sim_run-01_channels.tsv": "8e609561180150da",
    "sub-01/ses-01/ieeg/sub-01_ses-01_task-sim_run-01_ieeg.json": "29795a3cdecadd3f",
    "sub-01/ses-01/eeg/sub-01_ses-01_task-sim_run-01_eeg.json": "824fe3332e1ac3b9",
}


def _layout(sub: str = "sub-01"):
    if not DS.exists():
        pytest.skip(f"real data not found: {DS}")
    return load_layouts(DS / sub / "ses-01")[0]


def test_v1_reproduces_main_bit_for_bit():
    sim = simulate_session(_layout(), minutes=0.1, seed=11, subject_index=1, session_index=1, world="v1")
    for name, (total, abs_total, samples) in V1_VALUES.items():
        a = getattr(sim, name)
        idx = [0, 777, a.size // 2, a.size - 1]
        # equal to the last bit or one rounding away: the BLAS thread count (2 threads, or 1 under pytest -n)
        # changes the order of a matrix product's sums
        np.testing.assert_allclose(a.ravel()[idx], samples, rtol=4e-16, atol=0, err_msg=name)
        np.testing.assert_allclose([a.sum(), np.abs(a).sum()], [total, abs_total], rtol=1e-12, err_msg=name)
    np.testing.assert_allclose(sim.spike_times, [4.7603927], rtol=1e-7)
    assert sim.events == [] and sim.ieeg_nonlinear is None and not sim.ieeg_reference_weights.any()


def test_v1_dataset_files_unchanged(tmp_path):
    _layout()
    out = tmp_path / "b"
    simulate_dataset(DS / "sub-01" / "ses-01", out, minutes=0.1, seed=11, n_sessions=1, world="v1")
    for rel, digest in V1_FILES.items():
        assert hashlib.sha256((out / rel).read_bytes()).hexdigest()[:16] == digest, rel
    assert not list(out.rglob("*_events.tsv"))


def test_world_config():
    assert resolve_world("v1") is V1 and V1.is_v1 and not V2.is_v1
    assert resolve_world(V2) is V2
    custom = with_features("v1", nonlinear=True)
    assert custom.name == "custom" and custom.nonlinear and not custom.ied and not custom.is_v1
    assert isinstance(custom, WorldConfig) and custom.to_dict()["ied_rate_per_min"] == [1.0, 10.0]
    with pytest.raises(ValueError, match="the 'world' parameter.*v1, v2.*'v3'"):
        resolve_world("v3")
    with pytest.raises(ValueError, match="ieeg_reference"):
        resolve_world(with_features("v2", ieeg_reference="bad"))
