"""Command-line usability (issue #24): channel sets, untyped iEEG, defaults, one-line errors, mains notch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import welch
from typer.testing import CliRunner

from conftest import EXAMPLES, MB0400FU, SHARED, need
from ieegrecon.cli import app
from ieegrecon.errors import ModelInputMismatch
from ieegrecon.recording import Recording

runner = CliRunner()
SESSION = EXAMPLES / "calibration" / "sub-01" / "ses-01"
ELECTRODES = SESSION / "ieeg" / "sub-01_ses-01_space-MNI152NLin2009aSym_electrodes.tsv"
BCI64 = SHARED / "scalp_eeg" / "test_edf_overlapping_annotations.edf"


def run(*args: object):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def one_error_line(res, code: int) -> str:
    """The run ended with ``code`` and exactly one stderr line ``ieegrecon: error: ...`` (nothing before it)."""
    assert res.exit_code == code, (res.exit_code, res.stdout, res.stderr)
    assert res.stderr.startswith("ieegrecon: error: "), repr(res.stderr)
    assert res.stderr.count("\n") == 1 and res.stderr.endswith("\n"), repr(res.stderr)
    return res.stderr


@pytest.fixture(scope="module")
def example_model(tmp_path_factory):
    """ridge calibrated on the bundled 3-min example session, without --minutes, for caps without ear electrodes."""
    out = tmp_path_factory.mktemp("usab") / "pm"
    res = run("calibrate", SESSION, "--method", "ridge", "--drop-references", "--out", out)
    assert res.exit_code == 0, res.output
    return out, res


def _write_scalp_copy(path: Path, rename) -> list[str]:
    """MB0400FU's 10-20 channels (no ear references, no POL channels), relabelled by ``rename``."""
    from ieegrecon.io.edf import write_edf
    from ieegrecon.io.read import read_recording

    rec = read_recording(need(MB0400FU))
    keep = [n for n, t in zip(rec.ch_names, rec.ch_types) if t == "eeg" and n not in ("A1", "A2")]
    rec = rec.pick(keep)
    labels = [rename(n) for n in rec.ch_names]
    write_edf(path, rec.data, rec.sfreq, labels)
    return labels


# ------------------------------------------------------------------ channel sets
@pytest.mark.slow  # one ridge calibration (~10 s CPU, shared by the module)
def test_drop_references_leaves_ear_references_out(example_model):
    out, _ = example_model
    names = json.loads((out / "config.json").read_text())["scalp_names"]
    assert len(names) == 17 and not {"A1", "A2"} & set(names)


@pytest.mark.slow  # one ridge calibration (~10 s CPU, shared by the module)
def test_64_channel_1010_recording_reconstructs(example_model, tmp_path):
    out, _ = example_model
    res = run("reconstruct", need(BCI64), "--model", out, "--out", tmp_path / "r.edf")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "r.edf").is_file()


@pytest.mark.slow  # one ridge calibration (~10 s CPU, shared by the module)
def test_upper_case_modern_names_reconstruct(example_model, tmp_path):
    """HUP-like labels (FP1, CZ, T7, P7..., no ear electrodes) with a model calibrated on T3/T5 names."""
    src = tmp_path / "upper.edf"
    labels = _write_scalp_copy(src, lambda n: n.upper())
    assert {"FP1", "CZ", "T7", "P7", "FZ"} <= set(labels) and "T3" not in labels
    out, _ = example_model
    res = run("reconstruct", src, "--model", out, "--out", tmp_path / "u.edf", "--json")
    assert res.exit_code == 0, res.output
    assert len(json.loads(res.stdout)["outputs"][0]["ch_names"]) == 48


def test_missing_channel_error_is_short():
    from ieegrecon.workflow.inputs import match_scalp_channels

    names = [f"E{i}" for i in range(60)] + ["Fp1", "Cz"]
    rec = Recording(np.zeros((len(names), 10)), 200.0, names, ["eeg"] * len(names), source_path="x.edf")
    with pytest.raises(ModelInputMismatch) as exc:
        match_scalp_channels(rec, ["Fp1", "T7", "Cz", "O2"])
    msg = str(exc.value)
    assert "'T7', 'O2'" in msg and "E59" not in msg and len(msg) < 120, msg


# ------------------------------------------------------------------ untyped iEEG
@pytest.mark.slow  # a ridge calibration
def test_untyped_ieeg_edf_with_electrodes_calibrates(tmp_path):
    """Plain EDFs (no channel types) with clinical 'EEG <contact>-Ref' labels; contacts named by electrodes.tsv.

    Also: --line-freq 60 is stored in the model and removes a 60-Hz sine with the stored settings, and
    by default A1/A2 stay among the model's scalp channels.
    """
    from ieegrecon.io.edf import write_edf
    from ieegrecon.io.read import read_recording
    from ieegrecon.preprocessing import Preprocessing

    scalp = read_recording(next((SESSION / "eeg").glob("*_eeg.edf"))).crop(0, 60)
    ieeg = read_recording(next((SESSION / "ieeg").glob("*_ieeg.edf"))).crop(0, 60)
    write_edf(tmp_path / "scalp.edf", scalp.data, scalp.sfreq, scalp.ch_names)
    write_edf(tmp_path / "ieeg.edf", ieeg.data, ieeg.sfreq, [f"EEG {n}-Ref" for n in ieeg.ch_names])
    assert set(read_recording(tmp_path / "ieeg.edf").ch_types) == {"misc"}  # nothing says "contact"
    out = tmp_path / "pm"
    res = run("calibrate", tmp_path / "scalp.edf", "--ieeg", tmp_path / "ieeg.edf", "--electrodes", ELECTRODES,
              "--method", "ridge", "--minutes", "0.5", "--line-freq", "60", "--out", out, "--json")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert [c["name"] for c in summary["contacts"]] == ieeg.ch_names  # the electrodes file's names
    assert summary["line_freq"] == 60 and summary["line_freq_source"] == "--line-freq"
    prep = Preprocessing.from_dict(json.loads((out / "config.json").read_text())["extra"]["preprocessing"])
    assert prep.line_freq == 60
    assert {"A1", "A2"} <= set(json.loads((out / "config.json").read_text())["scalp_names"])
    assert _attenuation_db(prep, 60.0) < -40


# ------------------------------------------------------------------ defaults
@pytest.mark.slow  # one ridge calibration (~10 s CPU, shared by the module)
def test_calibrate_without_minutes_uses_what_is_there(example_model):
    out, res = example_model
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["trained_on"]["calibration"]["minutes"] == pytest.approx(2.4)  # 3 min, last 20 % held out
    assert cfg["extra"]["evaluation"].startswith("--minutes not given: calibrated on the first 2.40 of 3.00 min")
    assert "held-out tail: 36.0 s" in cfg["extra"]["evaluation"]
    assert "--minutes not given" in res.stderr and "mains notch 50 Hz" in res.stderr
    assert cfg["extra"]["line_freq_source"] == "BIDS PowerLineFrequency"


def test_help_lists_every_registered_method():
    from ieegrecon.models.base import available_methods, method_names

    assert method_names() == available_methods()  # the static list is the registry
    res = run("calibrate", "--help")
    assert res.exit_code == 0
    assert " | ".join(available_methods()) in " ".join(res.stdout.replace("│", " ").split())


# ------------------------------------------------------------------ errors and exit codes
def test_uncalibrated_pretrained_model_says_calibrate_first(tmp_path):
    res = run("reconstruct", need(MB0400FU), "--model", EXAMPLES.parent / "models" / "cast-sim9",
              "--out", tmp_path / "r.edf")
    line = one_error_line(res, 6)
    assert "cast-sim9" in line and "calibrate first" in line


def test_unknown_method_is_a_usage_error(tmp_path):
    line = one_error_line(run("calibrate", SESSION, "--method", "foo", "--out", tmp_path / "m"), 2)
    assert "Invalid value for --method:" in line and "'foo'" in line and "flow" in line  # the flag, not the parameter


def test_missing_option_is_one_line(tmp_path):
    line = one_error_line(run("reconstruct", tmp_path / "x.edf"), 2)
    assert "--model" in line


@pytest.mark.slow  # one ridge calibration (~10 s CPU, shared by the module)
def test_no_empty_line_before_errors(example_model, tmp_path):
    """rich's Progress printed an empty line on stop when stderr is not a terminal."""
    out, _ = example_model
    one_error_line(run("reconstruct", tmp_path / "absent.edf", "--model", out, "--out", tmp_path / "r.edf"), 3)
    one_error_line(run("calibrate", tmp_path / "absent", "--out", tmp_path / "m"), 3)


@pytest.mark.slow  # one ridge calibration (~10 s CPU, shared by the module)
def test_reconstruct_json_failure_prints_summary(example_model, tmp_path):
    out, _ = example_model
    bad = tmp_path / "broken.edf"
    bad.write_bytes(need(MB0400FU).read_bytes()[:300])
    res = run("reconstruct", bad, "--model", out, "--out", tmp_path / "r.edf", "--json")
    assert res.exit_code == 3
    summary = json.loads(res.stdout)
    assert summary["outputs"] == []
    assert summary["failures"][0]["input"] == str(bad) and summary["failures"][0]["exit_code"] == 3
    assert "truncated" in summary["failures"][0]["error"]


# ------------------------------------------------------------------ mains notch
def _attenuation_db(prep, freq: float) -> float:
    """Welch PSD at ``freq`` after / before :func:`apply_preprocessing`, of a 60-s sine plus noise (dB)."""
    from ieegrecon.preprocessing import apply_preprocessing

    fs = prep.sfreq
    t = np.arange(int(60 * fs)) / fs
    x = 10e-6 * np.sin(2 * np.pi * freq * t)[None] + 0.1e-6 * np.random.default_rng(0).normal(size=(1, t.size))
    y = apply_preprocessing(x, fs, prep, reference=False)
    f, p0 = welch(x, fs, nperseg=1024)
    _, p1 = welch(y, fs, nperseg=1024)
    k = int(np.argmin(abs(f - freq)))
    return float(10 * np.log10(p1[0, k - 1:k + 2].sum() / p0[0, k - 1:k + 2].sum()))


def test_notch_attenuates_hum_beside_the_mains_frequency():
    from ieegrecon.preprocessing import Preprocessing

    prep = Preprocessing()
    assert _attenuation_db(prep, 49.0) < -20 and _attenuation_db(prep, 51.0) < -20
    assert _attenuation_db(prep, 45.0) > -1  # the band beside it is kept
    # a model saved before notch_width existed keeps the notch it was calibrated with
    assert Preprocessing.from_dict({"sfreq": 200.0, "line_freq": 50.0}).notch_width is None


def test_line_freq_from_bids_sidecar(tmp_path):
    from ieegrecon.workflow.inputs import bids_line_freq

    (tmp_path / "eeg").mkdir()
    (tmp_path / "eeg" / "sub-01_task-x_eeg.json").write_text(json.dumps({"PowerLineFrequency": 60}))
    assert bids_line_freq(tmp_path) == 60.0
    assert bids_line_freq(SESSION) == 50.0
