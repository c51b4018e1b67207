"""End to end through the CLI: calibrate -> reconstruct -> EDF surrogate + report."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from ieegrecon.cli import app
from ieegrecon.recording import sha256_file

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def ridge_model(linear_session, tmp_path_factory):
    out = tmp_path_factory.mktemp("pm") / "ridge"
    res = run("calibrate", linear_session, "--method", "ridge", "--minutes", "1.5", "--out", out, "--json")
    assert res.exit_code == 0, res.output
    return out, json.loads(res.stdout)


def test_calibrate_reports_heldout_r_per_contact(ridge_model, linear_session):
    out, summary = ridge_model
    assert summary["evaluation"].startswith("held-out tail")
    r = np.array([c["heldout_r"] for c in summary["contacts"]], float)
    assert len(r) == 48
    # linear signals: a linear model must recover them well on held-out data
    assert np.nanmedian(r) > 0.8
    assert summary["simulated_data"] is False
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["extra"]["preprocessing"]["sfreq"] == 200.0
    assert {"mAHL1", "mPHL8"} <= set(cfg["extra"]["heldout_r"])
    assert (out / "regions.tsv").is_file() and (out / "holdout.h5").is_file()


def test_reconstruct_real_edf_plus_d(ridge_model, mb0400fu, tmp_path):
    import mne
    import pyedflib

    model, _ = ridge_model
    before = sha256_file(mb0400fu)
    out = tmp_path / "recon.edf"
    res = run("reconstruct", mb0400fu, "--model", model, "--out", out, "--report", tmp_path / "rep", "--json")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["failures"] == [] and summary["outputs"][0]["output"] == str(out)
    assert sha256_file(mb0400fu) == before
    with pyedflib.EdfReader(str(out)) as f:
        assert f.getSignalLabels()[:2] == ["mAHL1 SURROGATE", "mAHL2 SURROGATE"]  # marker beside each trace
        assert f.getPhysicalDimension(0) == "uV"
        assert "SURROGATE" in f.getRecordingAdditional()
        texts = list(f.readAnnotations()[2])
    assert texts[0].startswith("SURROGATE: reconstructed from scalp EEG by ieegrecon")
    src = mne.io.read_raw_edf(mb0400fu, verbose=False)
    assert any(a["description"] in texts for a in src.annotations)  # input annotations carried over
    raw = mne.io.read_raw_edf(out, verbose=False)
    assert raw.info["meas_date"] == src.info["meas_date"]
    assert raw.info["sfreq"] == 200.0 and len(raw.ch_names) == 48
    rep = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert rep["surrogate"] is True and rep["simulated_training_data"] is False
    assert {r["reliability"] for r in rep["regions"]} <= {"high", "moderate", "low", "unreliable", "not measured"}
    html = (tmp_path / "rep" / "report.html").read_text()
    assert "SURROGATE" in html and "Per-region confidence" in html and "<img" in html


def test_reconstruct_refuses_existing_output_and_input_as_output(ridge_model, mb0400fu, tmp_path):
    model, _ = ridge_model
    out = tmp_path / "recon.edf"
    out.write_bytes(b"keep me")
    res = run("reconstruct", mb0400fu, "--model", model, "--out", out)
    assert res.exit_code == 5
    assert "exists" in res.stderr and str(out) in res.stderr and "Traceback" not in res.stderr
    assert out.read_bytes() == b"keep me"


def test_eight_channel_model_uses_present_channels_and_19ch_model_refuses_8ch(
        linear_session_8ch, linear_session, ridge_model, mb0400fu, tmp_path):
    out8 = tmp_path / "ridge8"
    res = run("calibrate", linear_session_8ch, "--method", "ridge", "--minutes", "1.5", "--out", out8)
    assert res.exit_code == 0, res.output
    cfg = json.loads((out8 / "config.json").read_text())
    assert cfg["scalp_names"] == ["F3", "F4", "C3", "C4", "O1", "O2", "A1", "A2"]  # ear references kept
    res = run("reconstruct", mb0400fu, "--model", out8, "--out", tmp_path / "r8.edf")
    assert res.exit_code == 0, res.output
    # the 19-channel model on an 8-channel recording: clear refusal naming the missing channels
    scalp8 = next((linear_session_8ch / "eeg").glob("*_eeg.edf"))
    model19, _ = ridge_model
    res = run("reconstruct", scalp8, "--model", model19, "--out", tmp_path / "r19.edf")
    assert res.exit_code == 4
    assert "needs scalp channel(s)" in res.stderr and "P7" in res.stderr
    assert not (tmp_path / "r19.edf").exists()


def test_batch_continues_past_a_bad_file(ridge_model, mb0400fu, tmp_path):
    model, _ = ridge_model
    bad = tmp_path / "broken.edf"
    bad.write_bytes(mb0400fu.read_bytes()[:300])
    outdir = tmp_path / "batch"
    res = run("reconstruct", bad, mb0400fu, "--model", model, "--out", outdir, "--json")
    assert res.exit_code == 3
    summary = json.loads(res.stdout)
    assert len(summary["outputs"]) == 1 and summary["failures"][0]["input"] == str(bad)
    assert (outdir / "MB0400FU_recon.edf").is_file()
    assert not (outdir / "broken_recon.edf").exists()
    assert not [p for p in outdir.iterdir() if p.name.startswith(".")]  # no temp file left


def test_source_zero_shot_and_calibrated(linear_session, tmp_path):
    res = run("calibrate", linear_session, "--method", "source", "--minutes", "0", "--out", tmp_path / "s0",
              "--json")
    assert res.exit_code == 0, res.output
    s0 = json.loads(res.stdout)
    assert s0["evaluation"].startswith("zero-shot")
    res = run("calibrate", linear_session, "--method", "ridge", "--minutes", "0", "--out", tmp_path / "r0")
    assert res.exit_code == 2 and "cannot run without calibration" in res.stderr


def test_calibrate_errors_are_one_line(tmp_path, mb0400fu):
    res = run("calibrate", tmp_path / "nope", "--out", tmp_path / "m")
    assert res.exit_code == 3 and "no such file" in res.stderr
    res = run("calibrate", mb0400fu, "--out", tmp_path / "m")
    assert res.exit_code == 3 and "no usable intracranial channels" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    res = run("reconstruct", mb0400fu, "--model", tmp_path, "--out", tmp_path / "x.edf")
    assert res.exit_code == 6 and "config.json" in res.stderr


def test_anonymize_drops_start_date_and_patient_field_is_anonymous(ridge_model, mb0400fu, tmp_path):
    import mne

    model, _ = ridge_model
    out = tmp_path / "anon.edf"
    res = run("reconstruct", mb0400fu, "--model", model, "--out", out, "--anonymize")
    assert res.exit_code == 0, res.output
    src = mne.io.read_raw_edf(mb0400fu, verbose=False)
    raw = mne.io.read_raw_edf(out, verbose=False)
    assert raw.info["meas_date"] != src.info["meas_date"]
    assert out.read_bytes()[8:88].decode().split()[:4] == ["X", "X", "X", "X"]


def test_calibrate_on_one_mixed_edf_with_electrodes(linear_session, tmp_path):
    """One EDF holding scalp and depth channels (split by name) plus --electrodes for positions."""
    from ieegrecon.io.edf import write_edf
    from ieegrecon.io.read import read_recording
    from ieegrecon.preprocessing import resample

    scalp = read_recording(next((linear_session / "eeg").glob("*_eeg.edf")))
    ieeg = read_recording(next((linear_session / "ieeg").glob("*_ieeg.edf")))
    y = resample(ieeg.data, ieeg.sfreq, scalp.sfreq)[:, : scalp.n_times]
    mixed = tmp_path / "patient.edf"
    write_edf(mixed, np.vstack([scalp.data, y]), scalp.sfreq, scalp.ch_names + ieeg.ch_names)
    electrodes = next((linear_session / "ieeg").glob("*_electrodes.tsv"))
    res = run("calibrate", mixed, "--electrodes", electrodes, "--method", "ridge", "--minutes", "1.5",
              "--out", tmp_path / "pm", "--json")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert len(summary["contacts"]) == 48
    assert {c["region_key"] for c in summary["contacts"]} - {"unknown"}  # positions reached the atlas
    assert np.nanmedian([c["heldout_r"] for c in summary["contacts"]]) > 0.8


@pytest.mark.slow
@pytest.mark.parametrize("method, folder", [("xs-ridge", "xs-ridge-sim9"), ("cast", "cast-sim9")])
def test_shipped_model_calibrates_and_reconstructs_the_real_edf(method, folder, mb0400fu, tmp_path):
    """The README's path (xs-ridge since sealed run 3; cast before): `calibrate` without --model uses models/."""
    from pathlib import Path

    import pyedflib

    from ieegrecon.workflow.factory import default_model

    shipped = default_model(method)
    assert shipped is not None and shipped.name == folder and (shipped / "MODEL_CARD.md").is_file()
    assert "SIMULATED" in (shipped / "MODEL_CARD.md").read_text()
    calib = Path(__file__).resolve().parents[1] / "examples" / "calibration" / "sub-01" / "ses-01"
    res = run("calibrate", calib, "--method", method, "--minutes", "0.5", "--out", tmp_path / "pm", "--json")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["simulated_data"] is True
    cfg = json.loads((tmp_path / "pm" / "config.json").read_text())
    assert cfg["method"] == method and cfg["extra"]["pretrained_model"] == shipped.name  # base name only
    out = tmp_path / "recon.edf"
    res = run("reconstruct", mb0400fu, "--model", tmp_path / "pm", "--out", out, "--report", tmp_path / "rep")
    assert res.exit_code == 0, res.output
    with pyedflib.EdfReader(str(out)) as f:
        assert f.signals_in_file == len(cfg["contacts"]["ch_names"]) and "SURROGATE" in f.getRecordingAdditional()
        texts = " ".join(f.readAnnotations()[2])
    assert "calibrated on SIMULATED" in texts and "pretrained on SIMULATED" in texts


def test_upper_case_modern_named_copy_reconstructs_with_a_default_model(ridge_model, mb0400fu, tmp_path):
    """A copy of MB0400FU with HUP-style labels (FP1, CZ, T7, P7, A1 ... upper case, modern names) fits a model
    calibrated on old 10-20 names with ear references (the default)."""
    from ieegrecon.io.edf import write_edf
    from ieegrecon.io.read import read_recording

    rec = read_recording(mb0400fu)
    rec = rec.pick([n for n, t in zip(rec.ch_names, rec.ch_types) if t == "eeg"])
    labels = [n.upper() for n in rec.ch_names]  # the reader already maps T3->T7, T5->P7 ...
    assert {"FP1", "CZ", "T7", "P7", "A1", "A2"} <= set(labels)
    write_edf(tmp_path / "upper.edf", rec.data, rec.sfreq, labels)
    model, _ = ridge_model
    assert {"A1", "A2"} <= set(json.loads((model / "config.json").read_text())["scalp_names"])
    res = run("reconstruct", tmp_path / "upper.edf", "--model", model, "--out", tmp_path / "u.edf", "--json")
    assert res.exit_code == 0, res.output
    assert len(json.loads(res.stdout)["outputs"][0]["ch_names"]) == 48


def test_markup_like_text_in_paths_and_annotations_is_shown_not_parsed(ridge_model, mb0400fu, tmp_path):
    """'[/x]' in an output folder or '[artifact]' in an annotation once ended in exit 1 (rich markup)."""
    from ieegrecon.io.edf import write_edf
    from ieegrecon.io.read import read_recording
    from ieegrecon.recording import Annotation

    model, _ = ridge_model
    out = tmp_path / "q[" / "x]" / "o.edf"  # a folder path reading 'q[/x]': a closing tag for rich
    out.parent.mkdir(parents=True)
    res = run("reconstruct", mb0400fu, "--model", model, "--out", out)
    assert res.exit_code == 0, res.output
    assert "q[/x]" in res.stderr
    rec = read_recording(mb0400fu)
    write_edf(tmp_path / "a.edf", rec.data[:4], rec.sfreq, rec.ch_names[:4],
              annotations=[Annotation(1.0, 0.0, "[/] Pt [artifact] Doe")])
    res = run("info", tmp_path / "a.edf")
    assert res.exit_code == 0, res.output
    assert "[/] Pt [artifact] Doe" in res.stdout


def test_batch_out_that_is_an_existing_file_is_a_usage_error(ridge_model, mb0400fu, tmp_path):
    model, _ = ridge_model
    (tmp_path / "outfile").write_text("keep")
    res = run("reconstruct", mb0400fu, tmp_path / "b" / "x.edf", "--model", model, "--out", tmp_path / "outfile")
    assert res.exit_code == 2 and res.stderr.count("\n") == 1, res.output
    assert (tmp_path / "outfile").read_text() == "keep"


def test_an_output_that_fails_verification_is_never_published(ridge_model, mb0400fu, tmp_path, monkeypatch):
    """pyedflib's re-read runs on the temporary file: a failure leaves the previous output as it was."""
    import ieegrecon.io.edf_verify as edf
    from ieegrecon.errors import OutputError

    model, _ = ridge_model
    out = tmp_path / "recon.edf"
    assert run("reconstruct", mb0400fu, "--model", model, "--out", out).exit_code == 0
    before = sha256_file(out)

    def fail(path, *a, **k):
        raise OutputError("re-read differs", path)

    monkeypatch.setattr(edf, "verify_edf", fail)
    res = run("reconstruct", mb0400fu, "--model", model, "--out", out, "--overwrite")
    assert res.exit_code == 5, res.output
    assert sha256_file(out) == before and sorted(p.name for p in tmp_path.iterdir()) == ["recon.edf"]
