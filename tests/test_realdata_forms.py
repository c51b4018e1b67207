"""Simulated recordings in the real archives' forms (ds004752 epoched, HUP single file), end to end.

``ieegrecon simulate --form`` writes them on the real sidecars in ../shared/data; ``info``, ``map``,
``calibrate`` and ``evaluate`` must run on them unchanged, say each quirk in one line, and leave
every input byte as it was.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from conftest import DS004752, SHARED, need
from ieegrecon.recording import sha256_file

HUP = SHARED / "hup_ds004100" / "sub-HUP060" / "ses-presurgery"


def _cli(*args):
    from typer.testing import CliRunner

    from ieegrecon.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


def _hashes(root):
    return {p: sha256_file(p) for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def ds_form(tmp_path_factory):
    """ds004752 form on sub-07's layout (8 scalp channels): 2 sessions of 2 trials each."""
    out = tmp_path_factory.mktemp("dsform") / "ds"
    res = _cli("simulate", "--layout", need(DS004752 / "sub-07"), "--form", "auto", "--minutes", "0.3",
               "--sessions", "2", "--out", out, "--json")
    assert res.exit_code == 0, res.output
    return out


@pytest.fixture(scope="module")
def hup_form(tmp_path_factory):
    """HUP form on sub-HUP060's sidecars: one interictal run of 30 s."""
    out = tmp_path_factory.mktemp("hupform") / "hup"
    res = _cli("simulate", "--layout", need(HUP), "--form", "hup", "--minutes", "0.5", "--sessions", "1",
               "--out", out, "--json")
    assert res.exit_code == 0, res.output
    return out


def _quirks(obj):
    return [q for s in obj["sessions"] for q in s["quirks"]]


def test_ds004752_form_info(ds_form):
    ses = ds_form / "sub-01" / "ses-01"
    eeg = next((ses / "eeg").glob("*_eeg.edf"))
    assert eeg.read_bytes()[182:184] == b"60"
    before = _hashes(ds_form)
    res = _cli("info", "--json", ses)
    assert res.exit_code == 0, res.output
    quirks = _quirks(json.loads(res.output))
    for words, n in (("start time", 1), ("epoched: 2 trials of 8 s", 1), ("common intracranial reference", 1),
                     ("swapped", 1), ("standard 10-20 channels missing", 1),
                     ("bad channel(s)", 1)):  # one line per quirk and session
        hits = [q for q in quirks if words in q]
        assert len(hits) == n and all("\n" not in h for h in hits), (words, quirks)
    assert "eeg/ and ieeg/" in next(q for q in quirks if "swapped" in q)
    assert _hashes(ds_form) == before


def test_ds004752_form_calibrate_pooled_and_evaluate(ds_form, tmp_path):
    before = _hashes(ds_form)
    res = _cli("calibrate", ds_form / "sub-01", "--method", "ridge", "--minutes", "0.4", "--out", tmp_path / "m",
               "--json")
    assert res.exit_code == 0, res.output
    ev = json.loads(res.output)["evaluation"]
    assert "held-out tail: 8.0 s" not in ev and "4 pieces" in ev and "split on a boundary at 0.40 min" in ev
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    assert len(cfg["trained_on"]["calibration"]["files"]) == 4  # both sessions pooled: 2 EDFs each
    assert _hashes(ds_form) == before


@pytest.mark.slow
def test_ds004752_form_evaluate(ds_form, tmp_path):
    before = _hashes(ds_form)
    res = _cli("evaluate", ds_form, "--methods", "ridge", "--calibration-minutes", "0.25", "--out", tmp_path / "e")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "e" / "summary.tsv").is_file() and _hashes(ds_form) == before


def test_hup_form_info_map_calibrate(hup_form, tmp_path):
    ses = hup_form / "sub-01" / "ses-presurgery"
    assert not (ses / "eeg").exists() and len(list((ses / "ieeg").glob("*_ieeg.edf"))) == 1
    el = next((ses / "ieeg").glob("*_electrodes.tsv"))
    assert el.read_bytes()[:3] == b"\xef\xbb\xbf"
    before = _hashes(hup_form)
    res = _cli("info", "--json", ses)
    assert res.exit_code == 0, res.output
    obj = json.loads(res.output)
    rec = obj["sessions"][0]["ieeg"]
    assert rec["types"]["eeg"] == 19 and rec["types"]["ecg"] == 2
    quirks = _quirks(obj)
    for words in ("are 10-20 scalp electrodes by name", "are ECG leads by name", "byte-order mark",
                  "declares metres but the values are millimetres", "(MNI305): converted to MNI152",
                  "scalp electrode(s) typed as intracranial", "old 10-20 names", "normalized to 10-05 names"):
        hits = [q for q in quirks if words in q]
        assert len(hits) == 1 and all("\n" not in h for h in hits), (words, quirks)  # each quirk in one line
    assert not any("scalp EEG and iEEG in one file" in q for q in quirks)  # said by the two lines above
    assert "'T3'" not in next(q for q in quirks if "normalized to 10-05 names" in q)  # old names: their own line
    assert not any("bad channel(s)" in q and "EKG1" in q for q in quirks)  # ECG: said kept out once
    res = _cli("map", ses, "--out", tmp_path / "regions.tsv")
    assert res.exit_code == 0, res.output
    df = pd.read_csv(tmp_path / "regions.tsv", sep="\t").set_index("name")
    assert df.loc["RH1", "region_key"] == "hippocampus_R" and "Fp1" not in df.index and "FP1" not in df.index
    res = _cli("calibrate", ses, "--method", "ridge", "--out", tmp_path / "m", "--json")
    assert res.exit_code == 0, res.output
    regions = pd.read_csv(tmp_path / "m" / "regions.tsv", sep="\t").set_index("name")
    assert "EKG1" not in regions.index and "RH1" in regions.index
    assert "seizure-onset zone" in regions.loc["RPFa3", "clinical"] and "resected" in regions.loc["RPFa3", "clinical"]
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    assert "Fp1" in cfg["scalp_names"] and "EKG1" not in cfg["scalp_names"]
    assert _hashes(hup_form) == before


def test_real_sidecars_one_line_quirks():
    """The real sidecars alone (no EDF here) report the quirks they carry, one line each."""
    res = _cli("info", "--json", need(HUP))
    quirks = _quirks(json.loads(res.output))
    assert any("scalp EEG and iEEG in one file: 19 10-20 scalp electrodes" in q for q in quirks)
    res = _cli("info", "--json", need(DS004752 / "sub-01" / "ses-01"))
    quirks = _quirks(json.loads(res.output))
    assert sum("common intracranial reference" in q for q in quirks) == 1
    assert all("\n" not in q for q in quirks)


def test_hup_form_discovered_by_evaluate(hup_form):
    """One mixed file per session (no eeg/ folder) is a paired session for the evaluation."""
    from ieegrecon.evaluation.data import discover_subjects

    assert discover_subjects(hup_form) == {"01": [hup_form / "sub-01" / "ses-presurgery"]}


@pytest.mark.slow
def test_hup_form_evaluate(hup_form, tmp_path):
    before = _hashes(hup_form)
    res = _cli("evaluate", hup_form, "--methods", "ridge", "--calibration-minutes", "0.25", "--limit-minutes", "0",
               "--no-ied", "--n-boot", "20", "--out", tmp_path / "e")
    assert res.exit_code == 0, res.output
    contacts = pd.read_csv(tmp_path / "e" / "contacts.tsv", sep="\t")
    assert set(contacts["method"]) >= {"ridge"} and "EKG1" not in set(contacts["contact"])
    assert _hashes(hup_form) == before


def test_calibrate_cli_pools_several_inputs(ds_form, tmp_path):
    """``ieegrecon calibrate A B``: several sessions (in time order) pooled for calibration, inputs untouched."""
    before = _hashes(ds_form)
    a, b = ds_form / "sub-01" / "ses-01", ds_form / "sub-01" / "ses-02"
    res = _cli("calibrate", a, b, "--method", "ridge", "--minutes", "0.4", "--out", tmp_path / "m", "--json")
    assert res.exit_code == 0, res.output
    assert "4 pieces" in json.loads(res.output)["evaluation"]
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    assert len(cfg["trained_on"]["calibration"]["files"]) == 4
    res = _cli("calibrate", a, b, "--ieeg", a, "--out", tmp_path / "m2")
    assert res.exit_code != 0 and "--ieeg" in res.output and "pooled" in res.output
    assert _hashes(ds_form) == before
