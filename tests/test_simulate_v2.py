"""World v2 of ``ieegrecon simulate``: references, shaft fields, IEDs, artifacts, variation, BIDS output."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from ieegrecon.simulate import load_layouts, simulate_dataset, simulate_session, with_features
from ieegrecon.simulate.core import to_rate
from ieegrecon.simulate.fields import correlate_along_shafts
from ieegrecon.simulate.ied import draw_ieds, spread_gain
from ieegrecon.simulate.montages import bipolar, common_average, reference_weights, shafts

DS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ds004752"


def _layout(sub: str = "sub-01"):
    if not DS.exists():
        pytest.skip(f"real data not found: {DS}")
    return load_layouts(DS / sub / "ses-01")[0]


@pytest.fixture(scope="module")
def v2_sessions():
    """Two sessions of one v2 subject (15 s each, sub-01 layout)."""
    lay = _layout()
    return [simulate_session(lay, minutes=0.25, seed=3, session_index=k, world="v2") for k in (0, 1)]


def test_montages_on_known_signals():
    names = ["B2", "A1", "A2", "A3", "B1", "C1"]
    assert shafts(names) == {"B": [4, 0], "A": [1, 2, 3], "C": [5]}
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 100))
    ref = rng.standard_normal(100)
    pairs, bip = bipolar(names, x - ref)
    assert pairs == ["B1-B2", "A1-A2", "A2-A3"]
    np.testing.assert_allclose(bip, bipolar(names, x)[1], atol=1e-12)  # bipolar removes any common reference
    np.testing.assert_allclose(common_average(names, x - ref), common_average(names, x), atol=1e-12)
    np.testing.assert_allclose(common_average(names, x, per_shaft=True)[[1, 2, 3]].mean(0), 0, atol=1e-12)
    w, desc = reference_weights(names, np.vstack([x[:1] * 5, x[1:4] * 0.1, x[4:] * 5]), "shaft")
    np.testing.assert_allclose(w, [0, 1 / 3, 1 / 3, 1 / 3, 0, 0])
    assert "shaft A" in desc
    assert reference_weights(names, x, "infinity")[0].sum() == 0


def test_shaft_fields_decay_with_distance():
    pos = np.array([[0, 0, z] for z in (0.0, 0.0035, 0.007, 0.030)])
    rng = np.random.default_rng(1)
    y = correlate_along_shafts(rng.standard_normal((4, 200_000)), pos, 0.007)
    c = np.corrcoef(y)
    np.testing.assert_allclose([c[0, 1], c[0, 2], c[0, 3]], np.exp(-np.array([3.5, 7, 30]) / 7), atol=0.02)
    np.testing.assert_allclose(y.std(axis=1), 1, atol=0.02)


def test_v2_reference_as_recorded(v2_sessions):
    sim = v2_sessions[0]
    w = sim.ieeg_reference_weights
    assert sim.ieeg_reference.startswith("common intracranial reference: average of the contacts of shaft")
    on = np.flatnonzero(w)
    assert np.isclose(w.sum(), 1) and len({sim.contact_names[i].rstrip("0123456789") for i in on}) == 1
    # the local activity as recorded averages to ~0 over the reference shaft (gains differ by ~2 %)
    loc = sim.ieeg_local
    assert np.abs(loc[on].mean(axis=0)).std() < 0.1 * loc.std()
    # adjacent contacts share their local field (shaft correlation), v1's were independent
    names = sim.contact_names
    groups = {s: i for s, i in shafts(names).items() if not np.any(w[i])}  # not the reference shaft
    idx = groups[max(groups, key=lambda s: len(groups[s]))]
    r = [np.corrcoef(loc[a], loc[b])[0, 1] for a, b in zip(idx[:-1], idx[1:])]
    assert np.median(r) > 0.2, r


def test_v2_artifacts_and_dropout(v2_sessions):
    sim = v2_sessions[0]
    kinds = {e["trial_type"] for e in sim.events}
    drop = [e for e in sim.events if e["trial_type"].startswith("artifact/dropout")]
    assert drop and any(e["datatype"] == "ieeg" for e in drop)
    for e in drop:
        data, names, sf = ((sim.ieeg, sim.contact_names, sim.ieeg_sfreq) if e["datatype"] == "ieeg"
                           else (sim.scalp, sim.scalp_names, sim.scalp_sfreq))
        after = data[names.index(e["channels"]), int(e["onset"] * sf) + 1:]
        if e["trial_type"].endswith("flat"):
            assert np.all(after == 0)
        else:
            assert 30e-6 < after.std() < 70e-6
        assert "dropped out" in sim.channel_status[e["channels"]]
    assert sim.scalp.std(axis=1).max() < 1e-3 and np.all(np.isfinite(sim.ieeg))
    assert kinds <= {"IED", "artifact/pop", "artifact/movement", "artifact/dropout_flat",
                     "artifact/dropout_noise", "state/drowsy"}


def test_v2_sessions_and_subjects_differ(v2_sessions):
    a, b = v2_sessions
    assert not np.allclose(a.scalp_forward, b.scalp_forward)  # cap re-placed, gains changed
    np.testing.assert_allclose(a.scalp_forward, b.scalp_forward, rtol=0.6, atol=0.3 * np.abs(a.scalp_forward).max())
    assert a.params["cap_shift_mm"] != b.params["cap_shift_mm"]
    np.testing.assert_array_equal(a.dipoles.pos, b.dipoles.pos)  # same subject, same head
    assert a.params["jansen_rit_mu"] == b.params["jansen_rit_mu"]
    from ieegrecon.simulate.dynamics import load_connectivity
    from ieegrecon.simulate.variation import subject_draws

    w0 = load_connectivity().weights
    s0, s1 = (subject_draws(3, i, 76, w0, (1, 10), True) for i in (0, 1))
    assert not np.allclose(s0["weights"], s1["weights"]) and s0["mu"] != s1["mu"]
    nz = w0 > 0
    ratio = np.log(s0["weights"][nz] / w0[nz])
    assert 0.25 < ratio.std() < 0.35


def test_ied_amplitudes_are_heavy_tailed_and_only_large_ones_spread():
    rng = np.random.default_rng(0)
    w = np.random.default_rng(1).uniform(size=(76, 76))
    labels = [f"r{n}" for n in range(74)] + ["rHC", "lAMYG"]
    tr = draw_ieds(rng, labels, w, 600.0, 6.0)
    assert 40 <= len(tr.onsets) <= 80 and tr.lead in (74, 75) and tr.lead not in tr.targets
    a = np.sort(tr.amps)
    assert a[-1] / np.median(a) > 4  # heavy tail
    assert spread_gain(np.median(a)) < 0.3 and spread_gain(a[-3:]).min() > 0.5


def test_v2_ied_events_ground_truth():
    lay = _layout()
    world = with_features("v1", ied=True, ied_rate_per_min=(40.0, 40.0))
    sim = simulate_session(lay, minutes=0.25, seed=5, world=world)
    ev = [e for e in sim.events if e["trial_type"] == "IED"]
    assert len(ev) >= 4 and np.allclose([e["onset"] for e in ev], sim.spike_times)
    assert sim.spike_region[1:] in ("HC", "AMYG")
    for e in ev:
        assert set(e["channels"].split(",")) <= set(sim.contact_names) and e["duration"] > 0.15
    peak = np.array([e["peak_uv"] for e in ev])
    scalp = np.array([e["scalp_peak_uv"] for e in ev])
    big = peak >= np.median(peak)
    assert scalp[big].mean() > 2 * scalp[~big].mean()  # the largest discharges reach the scalp most
    assert peak.max() > 100


def test_v2_bids_output(tmp_path):
    out = tmp_path / "b"
    simulate_dataset(DS / "sub-01" / "ses-01" if DS.exists() else _layout(), out, minutes=0.1, seed=2,
                     n_sessions=1, world="v2")
    ses = out / "sub-01" / "ses-01"
    stem = "sub-01_ses-01_task-sim_run-01"
    for kind in ("eeg", "ieeg"):
        ev = (ses / kind / f"{stem}_events.tsv").read_text().splitlines()
        assert ev[0].split("\t")[:3] == ["onset", "duration", "trial_type"]
        assert (ses / kind / f"{stem}_events.json").is_file()
    ch = [r.split("\t") for r in (ses / "ieeg" / f"{stem}_channels.tsv").read_text().splitlines()]
    assert ch[0][-1] == "status_description" and sum(r[6] == "bad" for r in ch[1:]) == 1
    side = json.loads((ses / "ieeg" / f"{stem}_ieeg.json").read_text())
    assert side["iEEGReference"].startswith("common intracranial reference")
    assert "vertex" in json.loads((ses / "eeg" / f"{stem}_eeg.json").read_text())["EEGReference"]
    h5 = out / "derivatives" / "ieegrecon-sim" / "sub-01" / "ses-01" / "sub-01_ses-01_groundtruth.h5"
    from mne_bids import BIDSPath, read_raw_bids

    raw = read_raw_bids(BIDSPath(subject="01", session="01", task="sim", run="01", datatype="ieeg", root=out),
                        verbose="error")
    with h5py.File(h5, "r") as f:
        src = f["sources/moments"][()]
        n_i = f["ieeg/local"].shape[1]
        ieeg = (to_rate(f["ieeg/forward"][()] @ src, f["sources"].attrs["sfreq"], f["ieeg"].attrs["sfreq"], n_i)
                + f["ieeg/local"][()] + f["ieeg/noise"][()] + f["ieeg/nonlinear"][()])
        scalp = f["scalp/forward"][()] @ f["sources/moments_scalp_rate"][()] + f["scalp/noise"][()] \
            + f["scalp/artifacts"][()]
        assert json.loads(f.attrs["world_json"])["name"] == "v2"
        events = json.loads(f["events"].attrs["events_json"])
        assert isinstance(events, list) and all("onset" in e and "trial_type" in e for e in events)
        assert f["ieeg/reference_weights"][()].sum() == pytest.approx(1.0)
    x = raw.get_data()[:, :n_i]
    step = (ieeg.max(axis=1) - ieeg.min(axis=1)) / 65535
    assert np.all(np.abs(x - ieeg).max(axis=1) <= 1.01 * step + 1e-6 * np.abs(ieeg).max(axis=1))
    assert np.isfinite(scalp).all()


@pytest.mark.parametrize("text, expected", [("electrode near the vertex", None), ("linked ears", "linked_ears"),
                                            ("A1-A2 linked", "linked_ears"), ("Cz", "Cz"),
                                            ("common average", "average"), ("", None)])
def test_scalp_reference_from_layout_sidecar(tmp_path, text, expected):
    from ieegrecon.simulate.variation import layout_scalp_reference

    (tmp_path / "ieeg").mkdir()
    (tmp_path / "eeg").mkdir()
    (tmp_path / "eeg" / "x_eeg.json").write_text(json.dumps({"EEGReference": text}))
    assert layout_scalp_reference(tmp_path / "ieeg" / "x_electrodes.tsv", ["Fp1", "O1"]) == expected


def test_cli_world_option(tmp_path):
    from typer.testing import CliRunner

    from ieegrecon.cli import app

    tsv = tmp_path / "electrodes.tsv"
    tsv.write_text("name\tx\ty\tz\nLH1\t-24\t-20\t-12\nLH2\t-30\t-20\t-11\nLH3\t-36\t-20\t-10\n"
                   "RA1\t22\t-2\t-18\nRA2\t40\t-2\t-18\n")
    base = ["simulate", "--layout", str(tsv), "--sessions", "1", "--minutes", "0.05", "--json"]
    res = CliRunner().invoke(app, base + ["--out", str(tmp_path / "v1"), "--world", "v1"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["world"] == "v1"
    assert not list((tmp_path / "v1").rglob("*_events.tsv"))
    res = CliRunner().invoke(app, base + ["--out", str(tmp_path / "v2")])  # v2 is the default
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["world"] == "v2"
    assert len(list((tmp_path / "v2").rglob("*_events.tsv"))) == 2
    res = CliRunner().invoke(app, base + ["--out", str(tmp_path / "v3"), "--world", "v3"])
    assert res.exit_code == 2 and "--world" in res.output and "v3" in res.output


def test_v2_artifact_generators():
    from scipy import signal

    from ieegrecon.simulate import artifacts_v2 as av2

    rng = np.random.default_rng(4)
    names = [f"C{i}" for i in range(5)]
    x, ev = av2.pops(rng, names, 12000, 200.0, 60.0, (100.0, 100.0))
    assert 40 <= len(ev) <= 80
    for e in ev[:5]:  # a 100 µV step on the named channel at the onset
        i = int(e["onset"] * 200)
        assert np.abs(np.diff(x[names.index(e["channels"])]))[i - 1] * 1e6 > 50
    d = av2.drifts(rng, 3, 120_000, 200.0, 20.0)
    f, p = signal.welch(d, fs=200.0, nperseg=40_000)
    assert p[:, f > 0.5].sum() < 0.01 * p.sum() and 5e-6 < d.std() < 25e-6
    e = av2.ecg(rng, np.ones(1), 12000, 200.0, 8.0)[0]
    ac = signal.correlate(e - e.mean(), e - e.mean(), mode="full", method="fft")[11999:11999 + 300]
    lag = (np.argmax(ac[100:]) + 100) / 200.0  # beat interval (s): 55-85 bpm
    assert 0.65 < lag < 1.15


def test_v2_without_artifacts():
    sim = simulate_session(_layout(), minutes=0.1, seed=8, world="v2", artifacts=False)
    assert not [e for e in sim.events if e["trial_type"].startswith("artifact/")]
    assert sim.channel_status == {} and not np.any(sim.scalp_artifacts)


def test_fast_jansen_rit_matches_tvb():
    """The compiled loop of world v2 (simulate/jansen_rit.py) against TVB's own Simulator.run()."""
    from ieegrecon.simulate.dynamics import simulate_regions

    kw = dict(spike_rate_hz=0.0, warmup_s=0.5, theta_hz=3.0, mu=0.21,
              scale_jitter=np.exp(0.05 * np.random.default_rng(1).standard_normal(76)))
    tvb = simulate_regions(2.0, np.random.default_rng(7), **kw).data
    fast = simulate_regions(2.0, np.random.default_rng(7), fast=True, **kw).data
    assert tvb.shape == fast.shape == (76, 640)
    # same scheme, parameters and noise stream: equal up to rounding (summation order, exp)
    assert np.abs(fast - tvb).max() < 1e-6 * np.abs(tvb).max()


def test_v2_slow_mesial_rhythm_and_steep_local_activity(v2_sessions):
    """v2 draws the mesial rhythm (2.5-4.5 Hz) and local aperiodic exponent (2-3) per subject; v1 does not."""
    from ieegrecon.simulate.core import subject_parameters
    from ieegrecon.simulate.dynamics import time_scale_for
    from ieegrecon.simulate.world import V2

    assert V2.mesial_rhythm_hz == (2.5, 4.5) and V2.local_exponent == (2.0, 3.0)
    assert time_scale_for(2.5) == 0.4 and time_scale_for(5.0) == 0.7 and time_scale_for(9.5) == 1.0
    assert with_features("v1", local_exponent=(2.0, 3.0)).is_v1 is False
    p = subject_parameters(3, 0)
    assert 5.0 <= p["theta_hz"] <= 7.5 and 1.0 <= p["local_1f_exponent"] <= 2.0
    q = v2_sessions[0].params  # the same seed in v2
    assert 2.5 <= q["theta_hz"] <= 4.5 and 2.0 <= q["local_1f_exponent"] <= 3.0
    # session 8: v2 also draws the neocortical alpha frequency (9.5-12.5 Hz) and aperiodic exponent (1-2)
    assert 9.5 <= q["alpha_hz"] <= 12.5 and 1.0 <= q["aperiodic_exponent"] <= 2.0
    assert q["local_1f_uv"] == p["local_1f_uv"] and "aperiodic_exponent" not in p


def test_neocortical_aperiodic_part_keeps_sd_and_has_its_exponent():
    """``add_aperiodic`` mixes a 1/f^χ part into masked rows only, keeping each row's SD (world v2)."""
    from scipy import signal

    from ieegrecon.simulate.variation import add_aperiodic
    from ieegrecon.simulate.world import V2

    assert V2.aperiodic_share == 0.4 and V2.aperiodic_exponent == (1.0, 2.0) and V2.alpha_rhythm_hz == (9.5, 12.5)
    assert not with_features("v1", aperiodic_share=0.4, aperiodic_exponent=(1.0, 2.0)).is_v1
    sfreq, t = 320.0, np.arange(32000) / 320.0
    x = np.vstack([np.sin(2 * np.pi * 10 * t), 2 * np.sin(2 * np.pi * 10 * t), np.cos(2 * np.pi * 3 * t)])
    mask = np.array([True, True, False])
    y = add_aperiodic(x, mask, 1.0, 2.0, np.random.default_rng(0), sfreq)
    np.testing.assert_allclose(y.std(axis=1), x.std(axis=1), rtol=1e-12)
    np.testing.assert_array_equal(y[2], x[2])
    f, pxx = signal.welch(y[0], sfreq, nperseg=2048)
    band = (f >= 2) & (f <= 40)
    assert abs(np.polyfit(np.log10(f[band]), np.log10(pxx[band]), 1)[0] + 2.0) < 0.2
    half = add_aperiodic(x, mask, 0.4, 1.5, np.random.default_rng(0), sfreq)
    assert 0.7 < np.corrcoef(half[0], x[0])[0, 1] ** 2 / 0.6 < 1.1  # 60 % of the variance stays the rhythm
