"""Tests of ``ieegrecon simulate``: BIDS round trip, ground truth, physics, layouts, CLI, errors."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from scipy import signal

from ieegrecon.errors import InputError, OutputError
from ieegrecon.simulate import load_layouts, simulate_dataset, simulate_session
from ieegrecon.simulate.checks import half_split_ridge_r
from ieegrecon.simulate.core import to_rate

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DS = DATA / "ds004752"


def _need_ds() -> Path:
    if not DS.exists():
        pytest.skip(f"real data not found: {DS} (expected ../shared/data beside the project)")
    return DS


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """One subject (layout ds004752 sub-01), two sessions of 30 s."""
    root = tmp_path_factory.mktemp("sim") / "bids"
    simulate_dataset(_need_ds(), root, n_subjects=1, minutes=0.5, seed=7, n_sessions=2)
    return root


def _h5(root: Path, ses: str = "01") -> Path:
    return root / "derivatives" / "ieegrecon-sim" / "sub-01" / f"ses-{ses}" / f"sub-01_ses-{ses}_groundtruth.h5"


def _read_bids(root: Path, datatype: str, ses: str = "01"):
    from mne_bids import BIDSPath, read_raw_bids

    bp = BIDSPath(subject="01", session=ses, task="sim", run="01", datatype=datatype, root=root)
    return read_raw_bids(bp, verbose="error")


def test_bids_layout_like_ds004752(dataset):
    ses = dataset / "sub-01" / "ses-01"
    assert (ses / "eeg" / "sub-01_ses-01_task-sim_run-01_eeg.edf").is_file()
    assert (ses / "ieeg" / "sub-01_ses-01_task-sim_run-01_ieeg.edf").is_file()
    assert (dataset / "sub-01" / "ses-02" / "ieeg" / "sub-01_ses-02_task-sim_run-01_ieeg.edf").is_file()
    desc = json.loads((dataset / "dataset_description.json").read_text())
    assert desc["DatasetType"] == "raw"
    assert "sub-01" in (dataset / "participants.tsv").read_text()
    head = (ses / "ieeg" / "sub-01_ses-01_task-sim_run-01_ieeg.edf").read_bytes()[88:168].decode("ascii")
    assert "SIMULATED" in head and "ieegrecon" in head
    # electrodes: same names, MNI mm and anatomical labels as the real layout
    real = (DS / "sub-01" / "ses-01" / "ieeg" / "sub-01_ses-01_task-verbalWM_run-01_electrodes.tsv").read_text()
    ours = (ses / "ieeg" / "sub-01_ses-01_space-MNI152NLin2009aSym_electrodes.tsv").read_text()
    real_rows = [r.split("\t") for r in real.strip().splitlines()]
    our_rows = [r.split("\t") for r in ours.strip().splitlines()]
    assert our_rows[0][:4] == ["name", "x", "y", "z"] and "AnatomicalLocation" in our_rows[0]
    assert [r[0] for r in our_rows] == [r[0] for r in real_rows]
    for a, b in zip(real_rows[1:], our_rows[1:]):
        np.testing.assert_allclose([float(v) for v in b[1:4]], [float(v) for v in a[1:4]], atol=1e-6)
        assert b[our_rows[0].index("AnatomicalLocation")] == a[real_rows[0].index("AnatomicalLocation")]


def test_mne_bids_reads_back_signals_and_mni_positions(dataset):
    with h5py.File(_h5(dataset), "r") as f:
        scalp = f["scalp/forward"][()] @ f["sources/moments_scalp_rate"][()] + f["scalp/noise"][()] \
            + f["scalp/artifacts"][()]
        src = f["sources/moments"][()]
        sfreq_src = f["sources"].attrs["sfreq"]
        ieeg_sfreq = f["ieeg"].attrs["sfreq"]
        n_i = f["ieeg/local"].shape[1]
        ieeg = to_rate(f["ieeg/forward"][()] @ src, sfreq_src, ieeg_sfreq, n_i) + f["ieeg/local"][()] \
            + f["ieeg/noise"][()]
        names = [n.decode() for n in f["ieeg/ch_names"][()]]
    raw_i = _read_bids(dataset, "ieeg")
    raw_e = _read_bids(dataset, "eeg")
    assert raw_i.info["sfreq"] == 2000.0 and raw_e.info["sfreq"] == 200.0
    assert raw_i.ch_names == names and set(raw_i.get_channel_types()) == {"seeg"}
    assert "T3" in raw_e.ch_names  # the layout's own (old) names are kept
    for raw, ref in ((raw_e, scalp), (raw_i, ieeg)):
        x = raw.get_data()[:, : ref.shape[1]]
        step = (ref.max(axis=1) - ref.min(axis=1)) / 65535  # EDF 16-bit quantization
        err = np.abs(x - ref).max(axis=1)
        assert np.all(err <= 1.01 * step + 1e-6 * np.abs(ref).max(axis=1)), err / step
    assert any(a["description"].startswith("SIMULATED: ieegrecon digital twin, seed 7")
               for a in raw_i.annotations)
    # contact positions come back in MNI metres, equal to the real electrodes.tsv
    mont = raw_i.get_montage().get_positions()
    assert mont["coord_frame"] == "mni_tal"
    real = load_layouts(DS / "sub-01" / "ses-01")[0]
    for k in (0, 7, len(real.contact_names) - 1):
        np.testing.assert_allclose(mont["ch_pos"][real.contact_names[k]], real.contact_pos[k], atol=1e-9)


def test_groundtruth_equation_and_determinism(dataset):
    lay = load_layouts(DS)[0]
    sim = simulate_session(lay, minutes=0.5, seed=7, subject_index=0, session_index=0)
    with h5py.File(_h5(dataset), "r") as f:
        recon = f["scalp/forward"][()] @ f["sources/moments_scalp_rate"][()] + f["scalp/noise"][()] \
            + f["scalp/artifacts"][()]
        lead = f["scalp/forward_dipoles"][()]
        w = np.zeros((len(f["dipoles/region"]), len(f["sources/labels"])))
        w[np.arange(len(w)), f["dipoles/region"][()]] = f["dipoles/weight"][()]
        np.testing.assert_allclose(lead @ w, f["scalp/forward"][()], rtol=1e-12, atol=0)
        params = json.loads(f.attrs["params_json"])
        assert f["sources"].attrs["units"].startswith("A*m")
        pos = f["dipoles/pos"][()]
    # same seed -> identical output; scalp = forward x sources + noise to float precision
    np.testing.assert_allclose(recon, sim.scalp, rtol=0, atol=1e-12 * np.abs(sim.scalp).max())
    np.testing.assert_array_equal(pos, sim.dipoles.pos)
    assert params["seed"] == 7 and 8.0 <= params["alpha_hz"] <= 12.0
    for key in ("head_radius_m", "conductivities_S_per_m", "coupling_gain", "scalp_noise_uv"):
        assert key in params
    # no dipole sits on a contact
    d = np.linalg.norm(sim.contact_pos[:, None] - sim.dipoles.pos[None], axis=2)
    assert d.min() >= 0.004 - 1e-9


def test_sessions_share_subject_but_not_data(dataset):
    with h5py.File(_h5(dataset, "01"), "r") as a, h5py.File(_h5(dataset, "02"), "r") as b:
        np.testing.assert_array_equal(a["scalp/forward"][()], b["scalp/forward"][()])
        np.testing.assert_array_equal(a["ieeg/forward"][()], b["ieeg/forward"][()])
        assert json.loads(a.attrs["params_json"])["alpha_hz"] == json.loads(b.attrs["params_json"])["alpha_hz"]
        sa, sb = a["sources/moments"][()], b["sources/moments"][()]
        assert abs(np.corrcoef(sa[0], sb[0])[0, 1]) < 0.2


def test_physics_superficial_contacts_are_better_predicted_from_scalp():
    lay = load_layouts(_need_ds())[0]
    sim = simulate_session(lay, minutes=1.0, seed=0)
    y = signal.resample_poly(sim.ieeg, 1, 10, axis=1)[:, : sim.scalp.shape[1]]  # 2000 -> 200 Hz
    r = half_split_ridge_r(sim.scalp, y)
    q1, q3 = np.quantile(sim.contact_depth, [0.25, 0.75])
    shallow, deep = r[sim.contact_depth <= q1].mean(), r[sim.contact_depth >= q3].mean()
    assert shallow > deep + 0.1, (shallow, deep)
    # realistic amplitudes: scalp tens of µV, iEEG up to a few hundred µV
    scalp_rms = sim.scalp.std(axis=1) * 1e6
    ieeg_rms = sim.ieeg.std(axis=1) * 1e6
    assert 5 < np.median(scalp_rms) < 100 and ieeg_rms.max() < 500 and np.median(ieeg_rms) > 10


def test_spectra_look_like_eeg(dataset):
    lay = load_layouts(_need_ds())[0]
    sim = simulate_session(lay, minutes=0.4, seed=3, artifacts=False)
    f, p = signal.welch(sim.scalp, fs=sim.scalp_sfreq, nperseg=800)
    pm = p.mean(axis=0)
    band = (f >= 6) & (f <= 14)
    peak = f[band][np.argmax(pm[band])]
    assert abs(peak - sim.params["alpha_hz"]) < 2.5
    assert pm[np.argmin(abs(f - 2))] > pm[np.argmin(abs(f - 30))] > pm[np.argmin(abs(f - 80))]
    assert np.all(sim.scalp_artifacts == 0)
    # artifacts on (the default, in the dataset fixture): present and frontal-weighted (blinks)
    with h5py.File(_h5(dataset), "r") as f:
        a = f["scalp/artifacts"][()]
        names = [n.decode() for n in f["scalp/ch_names"][()]]
    assert np.abs(a).max() > 0
    assert np.abs(a[names.index("F3")]).max() > np.abs(a[names.index("O1")]).max()


@pytest.mark.parametrize("sub", ["sub-02", "sub-06"])
def test_sparse_scalp_layouts(sub):
    lay = [x for x in load_layouts(_need_ds()) if x.name == sub][0]
    sim = simulate_session(lay, minutes=0.1, seed=1, subject_index=1)
    assert len(sim.scalp_names) in (8, 10) and sim.scalp.shape == (len(sim.scalp_names), 1200)
    assert sim.ieeg.shape == (len(lay.contact_names), 12000)
    assert np.all(np.isfinite(sim.ieeg))


@pytest.mark.slow
def test_every_ds004752_layout():
    for i, lay in enumerate(load_layouts(_need_ds())):
        sim = simulate_session(lay, minutes=0.1, seed=2, subject_index=i)
        assert sim.ieeg.shape[0] == len(lay.contact_names) == len(sim.contact_names)
        assert sim.scalp_names == lay.scalp_names
        assert 2 < np.median(sim.scalp.std(axis=1)) * 1e6 < 150


def _handmade_tsv(folder: Path) -> Path:
    rows = ["name\tx\ty\tz\tsize", "LH1\t-24\t-20\t-12\t1.3", "LH2\t-30\t-20\t-11\t1.3",
            "LH3\t-36\t-20\t-10\t1.3", "LH4\t-55\t-22\t-8\t1.3", "RA1\t22\t-2\t-18\t1.3",
            "RA2\t40\t-2\t-18\t1.3", "RA3\t58\t-3\t-16\t1.3", "BAD\tn/a\tn/a\tn/a\t1.3"]
    folder.mkdir(parents=True, exist_ok=True)
    tsv = folder / "electrodes.tsv"
    tsv.write_text("\n".join(rows) + "\n")
    return tsv


def test_cli_on_handmade_electrodes_tsv_4096hz(tmp_path):
    from typer.testing import CliRunner

    from ieegrecon.cli import app

    tsv = _handmade_tsv(tmp_path / "lay")
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["simulate", "--layout", str(tsv), "--subjects", "1", "--sessions", "1",
                                   "--minutes", "0.1", "--ieeg-sfreq", "4096", "--seed", "5", "--out", str(out),
                                   "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert len(summary["sessions"]) == 1
    raw_i = _read_bids(out, "ieeg")
    raw_e = _read_bids(out, "eeg")
    assert raw_i.info["sfreq"] == 4096.0
    assert raw_i.ch_names == ["LH1", "LH2", "LH3", "LH4", "RA1", "RA2", "RA3"]  # BAD (no x/y/z) left out
    assert len(raw_e.ch_names) == 19 and "T3" in raw_e.ch_names and "Fp1" in raw_e.ch_names
    np.testing.assert_allclose(raw_i.get_montage().get_positions()["ch_pos"]["RA2"], [0.040, -0.002, -0.018])
    # same command again without --overwrite: one-line error naming the folder, exit code 5
    res2 = CliRunner().invoke(app, ["simulate", "--layout", str(tsv), "--minutes", "0.1", "--out", str(out)])
    assert res2.exit_code == 5 and str(out) in res2.output and len(res2.output.strip().splitlines()) == 1


def test_unusual_scalp_names_and_4000hz(tmp_path):
    ses = tmp_path / "sub-zz" / "ses-a"
    _handmade_tsv(ses / "ieeg")
    (ses / "eeg").mkdir(parents=True)
    names = ["EEG Fp1-Ref", "EEG Fp2-Ref", "FC5", "FC6", "EEG T3-Ref", "CP1", "Oz", "ECG", "X9"]
    types = ["EEG"] * 7 + ["ECG", "EEG"]
    (ses / "eeg" / "sub-zz_ses-a_task-x_channels.tsv").write_text(
        "name\ttype\n" + "\n".join(f"{n}\t{t}" for n, t in zip(names, types)) + "\n")
    layouts = load_layouts(ses)
    assert len(layouts) == 1 and layouts[0].name == "sub-zz"
    lay = layouts[0]
    assert lay.scalp_names == names[:7] and lay.scalp_norm[:5] == ["Fp1", "Fp2", "FC5", "FC6", "T7"]
    sim = simulate_session(lay, minutes=0.1, seed=0, ieeg_sfreq=4000.0, scalp_sfreq=256.0)
    assert sim.scalp.shape == (7, (6 * 256)) and sim.ieeg.shape == (7, 24000)
    out = tmp_path / "out"
    folders = simulate_dataset(ses, out, minutes=0.1, n_sessions=1, ieeg_sfreq=4000.0)
    raw_e = _read_bids(out, "eeg")
    assert raw_e.ch_names == names[:7]
    assert folders == [out / "sub-01" / "ses-01"]


def test_errors_name_the_path(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(InputError, match="nope"):
        load_layouts(missing)
    bad = tmp_path / "bad_electrodes.tsv"
    bad.write_text("name\ty\tz\nA1\t1\t2\n")
    with pytest.raises(InputError, match="bad_electrodes.tsv.*x"):
        load_layouts(bad)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no electrodes.tsv"):
        load_layouts(empty)
    out = tmp_path / "exists"
    out.mkdir()
    (out / "something").write_text("x")
    tsv = _handmade_tsv(tmp_path / "lay")
    with pytest.raises(OutputError, match="exists"):
        simulate_dataset(tsv, out, minutes=0.1)


def test_cli_missing_layout_exit_code(tmp_path):
    from typer.testing import CliRunner

    from ieegrecon.cli import app

    res = CliRunner().invoke(app, ["simulate", "--layout", str(tmp_path / "none"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 3
    assert str(tmp_path / "none") in res.output and len(res.output.strip().splitlines()) == 1


@pytest.mark.slow
def test_parallel_dynamics_give_the_same_session(monkeypatch):
    from ieegrecon.simulate import core

    lay = load_layouts(_need_ds() / "sub-03" / "ses-01")[0]
    a = simulate_session(lay, minutes=2.0, seed=4)  # TVB in a second process
    monkeypatch.setattr(core, "PARALLEL_MIN_S", float("inf"))
    b = simulate_session(lay, minutes=2.0, seed=4)  # inline
    np.testing.assert_array_equal(a.scalp, b.scalp)
    np.testing.assert_array_equal(a.ieeg, b.ieeg)


def test_degenerate_berg_scherg_fit_is_refitted():
    """The head drawn for seed 301, sub-02 made MNE's sphere fit degenerate (mu = 0): simulate crashed."""
    import mne

    from ieegrecon.simulate.forward import HeadModel, sphere_model

    bad = HeadModel(r0=np.array([0.00020404171144962834, -0.01657623558251008, -0.013326113498549287]),
                    head_radius=0.10359181856068932, relative_radii=(0.8779850632612739, 0.9293614476517296, 1.0),
                    sigmas=(0.39476304004619306, 0.005268701768357885, 0.39476304004619306))
    with mne.utils.use_log_level("error"):
        raw = mne.make_sphere_model(r0=bad.r0, head_radius=bad.head_radius, relative_radii=bad.relative_radii,
                                    sigmas=bad.sigmas)
        fixed = sphere_model(bad)
        good = HeadModel(r0=np.zeros(3), head_radius=0.1, relative_radii=(0.88, 0.93, 1.0), sigmas=(0.33, 0.0066, 0.33))
        plain = mne.make_sphere_model(r0=good.r0, head_radius=0.1, relative_radii=good.relative_radii,
                                      sigmas=good.sigmas)
        kept = sphere_model(good)
    assert np.any(np.asarray(raw["mu"]) == 0)  # the failure this guards against
    assert np.all(np.asarray(fixed["mu"]) != 0) and np.max(np.abs(fixed["lambda"])) < 1e3
    np.testing.assert_array_equal(kept["mu"], plain["mu"])  # a sound fit is used unchanged
