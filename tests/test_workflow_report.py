"""report.html / report.json: what a clinician reads beside a surrogate (project issue #24).

Also from Python, without the CLI: the report finds the patient model's held-out figures itself (#15)."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from types import SimpleNamespace

import numpy as np
import pytest

from ieegrecon.models.base import ContactInfo
from ieegrecon.models.io import load_patient_model
from ieegrecon.workflow.results import ReconstructionResult
from ieegrecon.workflow.confidence import format_r, reliability_class
from ieegrecon.recording import Recording
from ieegrecon.workflow.calibrate import calibrate
from ieegrecon.workflow.reconstruct import reconstruct_file
from ieegrecon.workflow.report import write_report

FS = 200.0
N = int(30 * FS)
CONTACTS = ["A1c", "A2c", "B1"]
SCALP = ["Fp1", "Fp2", "Cz"]
NAME = "PATIENT_DOE_0042.edf"


def _holdout(path, scale: float = 0.1) -> None:
    """Held-out true iEEG (white noise) and a prediction ``scale`` times it: power ratio scale**2 everywhere."""
    import h5py

    true = np.random.default_rng(0).normal(size=(len(CONTACTS), int(20 * FS))) * 50e-6
    with h5py.File(path, "w") as f:
        f.attrs["sfreq"] = FS
        f.create_dataset("true", data=true.astype("f4"))
        f.create_dataset("pred", data=(scale * true).astype("f4"))
        f.create_dataset("ch_names", data=np.array(CONTACTS, dtype="S"))


def _case(tmp_path, *, r=0.5996, n_clipped=None, gaps=None, recon="array"):
    folder = tmp_path / "models" / "pm"
    folder.mkdir(parents=True)
    _holdout(folder / "holdout.h5")
    contacts = ContactInfo(CONTACTS, np.zeros((3, 3)), regions=["hippocampus_L", "hippocampus_L", "amygdala_R"],
                           depth_class=["deep", "deep", "deep"])
    model = SimpleNamespace(contacts=contacts, scalp_names=list(SCALP), method="ridge")
    config = {
        "method": "ridge", "sha256": "ab" * 32, "folder": str(folder),
        "trained_on": {
            "pretrain": {"simulated": True, "description": f"9 subjects (SIMULATED) from {tmp_path}/cohort9",
                         "sessions": [f"{tmp_path}/cohort9/sub-01/ses-01"]},
            "calibration": {"files": [str(tmp_path / "cal" / "DOE_JOHN_calibration_eeg.edf")], "minutes": 2.0,
                            "simulated": True}},
        "extra": {"heldout_r": {"A1c": r, "A2c": r, "B1": 0.2}, "evaluation": "held-out tail: 60.0 s",
                  "preprocessing": {"sfreq": FS, "l_freq": 0.5, "line_freq": 50.0, "scalp_reference": "average"},
                  "pretrained_model": str(tmp_path / "models" / "cast-sim9")},
    }
    rng = np.random.default_rng(1)
    src = tmp_path / "in" / NAME
    rec = Recording(rng.normal(size=(4, N)) * 20e-6, FS, SCALP + ["ECG"], ["eeg", "eeg", "eeg", "ecg"],
                    meas_date=dt.datetime(2020, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc), source_path=str(src),
                    source_sha256="cd" * 32,
                    quirks=[f"{NAME}: EDF+D (discontinuous): 1 record start later than nominal"])
    if gaps is not None:  # the reader's gaps are on the sample time base: (onset minus earlier gaps, duration)
        rec.gaps = [(on - sum(d for o, d in gaps if o < on), dur) for on, dur in gaps]
    out = tmp_path / "out" / "PATIENT_DOE_0042_recon.edf"
    y = rng.normal(size=(3, N)) * 30e-6
    result = ReconstructionResult(str(src), str(out), N, FS, CONTACTS, n_clipped or {c: 0 for c in CONTACTS},
                                  notes=["input sampled at 256 Hz, resampled to the model's 200 Hz"],
                                  gaps=list(gaps or []))  # the surrogate's gaps: wall-clock onsets
    if recon == "edf":
        from ieegrecon.io.edf import write_edf

        out.parent.mkdir(parents=True)
        write_edf(out, y, FS, CONTACTS)
    return dict(config=config, model=model, result=result, input_rec=rec, recon=y if recon == "array" else None)


def _write(tmp_path, anonymize=False, **kw):
    case = _case(tmp_path, **kw)
    html_path = write_report(tmp_path / "rep", anonymize=anonymize, **case)
    return html.unescape(html_path.read_text()), json.loads((tmp_path / "rep" / "report.json").read_text())


def test_report_names_the_recording_channels_and_quirks(tmp_path):
    page, rep = _write(tmp_path)
    rec = rep["recording"]
    assert rec["file"] == NAME and rec["start"].startswith("2020-01-02T03:04:05")
    assert rec["duration_s"] == 30.0 and rec["scalp_channels_used"] == SCALP
    assert rec["quirks"] == [f"{NAME}: EDF+D (discontinuous): 1 record start later than nominal"]
    assert NAME in page and "2020-01-02 03:04:05" in page and "30.0 s" in page
    assert "Fp1 Fp2 Cz" in page and "1 record start later than nominal" in page
    assert "resampled to the model" in page  # result.notes
    # the recording comes first, before the confidence table
    assert page.index("id='recording'") < page.index("id='confidence'") < page.index("id='traces'")
    assert "SURROGATE" in page and "SIMULATED" in page


def test_report_shows_surrogate_traces_per_region_beside_scalp(tmp_path):
    page, _ = _write(tmp_path)
    assert "id='traces-scalp'" in page
    assert "id='traces-region-hippocampus_L'" in page and "id='traces-region-amygdala_R'" in page
    assert page.count("<img") >= 3 + 2  # scalp + 2 regions + held-out traces and spectrum
    assert "mne-" not in page.lower()  # no MNE report chrome (tags, filters, toc)


def test_streamed_output_traces_are_read_back_from_the_edf(tmp_path):
    page, _ = _write(tmp_path, recon="edf")
    assert "read back from the start of the surrogate EDF" in page
    assert "id='traces-region-amygdala_R'" in page


def test_clipping_and_gaps_are_shown(tmp_path):
    page, rep = _write(tmp_path, n_clipped={"A1c": 17, "A2c": 0, "B1": 3}, gaps=[(1.0, 0.14)])
    assert rep["clipping"]["total_samples"] == 20 and rep["clipping"]["channels"] == {"A1c": 17, "B1": 3}
    assert "20 samples on 2 channel(s)" in page
    assert rep["gaps"] == [{"onset_s": 1.0, "duration_s": 0.14}]
    assert "at 1.00 s, 0.14 s long" in page


def test_gaps_are_given_at_their_wall_clock_time(tmp_path):
    """Two gaps: the second's onset is stated as in the surrogate's GAP annotation (wall clock), not on the
    input's sample time base (which leaves out the first gap)."""
    page, rep = _write(tmp_path, gaps=[(1.0, 0.5), (2.5, 0.5)])
    assert [g["onset_s"] for g in rep["gaps"]] == [1.0, 2.5]
    assert "at 2.50 s, 0.50 s long" in page


def test_no_clipping_says_none(tmp_path):
    page, rep = _write(tmp_path)
    assert rep["clipping"]["total_samples"] == 0
    assert re.search(r"<th>Clipping</th><td>none</td>", page)


def test_spectral_warning_states_the_heldout_power_ratio(tmp_path):
    # prediction = 0.1 x truth: its power is 2 decades below at every frequency
    page, rep = _write(tmp_path)
    spec = rep["spectral_warning"]
    assert spec["decades_above"] == pytest.approx(-2.0, abs=0.01) and spec["n_contacts"] == 3
    assert "Above 30 Hz the surrogate's power is 2.0 decades below the true iEEG on held-out data" in page


def test_no_absolute_path_in_report(tmp_path):
    page, _ = _write(tmp_path)
    text = (tmp_path / "rep" / "report.json").read_text()
    page = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page)
    for body in (page, text):
        assert str(tmp_path) not in body
        assert not re.search(r"(?<![\w.<])/(tmp|home|work|Users|var|private|mnt|data)/", body)
    rep = json.loads(text)
    assert rep["trained_on"]["pretrain"]["sessions"] == ["sub-01/ses-01"]
    assert rep["input"]["file"] == NAME


def test_anonymize_hides_name_and_start(tmp_path):
    page, rep = _write(tmp_path, anonymize=True)
    text = (tmp_path / "rep" / "report.json").read_text()
    for body in (page, text):
        assert "PATIENT_DOE_0042" not in body and "2020-01-02" not in body
        assert "DOE_JOHN" not in body  # the patient's calibration files are not named either
    assert rep["recording"]["id"] == "sha256:" + "cd" * 6 and "sha256:cdcdcdcdcdcd" in page
    assert rep["recording"]["file"] is None and rep["recording"]["start"] is None
    assert "1 record start later than nominal" in page  # the quirk stays, its file name does not


def test_reliability_class_is_that_of_the_printed_value():
    assert format_r(0.5996) == "0.60" and reliability_class(0.5996) == "high"
    assert format_r(0.5949) == "0.59" and reliability_class(0.5949) == "moderate"
    assert reliability_class(0.0996) == "low" and reliability_class(None) == "not measured"


def test_report_row_class_agrees_with_printed_r(tmp_path):
    page, rep = _write(tmp_path, r=0.5996)
    row = next(r for r in rep["regions"] if r["region_key"] == "hippocampus_L")
    assert row["reliability"] == "high"
    html_row = next(tr for tr in page.split("<tr>") if tr.startswith("<td>hippocampus_L"))
    assert "0.60" in html_row and ">high<" in html_row and "moderate" not in html_row



def test_report_from_python_has_the_heldout_figures(linear_session, mb0400fu, tmp_path):
    res = calibrate(linear_session, method="ridge", minutes=1.5, out=tmp_path / "pm")
    model, patient_model = load_patient_model(res.out)
    out = reconstruct_file(mb0400fu, model, patient_model, tmp_path / "r.edf", report_dir=tmp_path / "rep")
    rep = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert out.report and rep["model_id"] == patient_model.model_id
    assert {c["name"]: c["heldout_r"] for c in rep["contacts"]} == res.r
    assert rep["evaluation"] == res.evaluation and rep["evaluation"].startswith("held-out tail")
    assert rep["spectral_warning"] is not None  # from the folder's holdout.h5
    assert all(r["mean_distance_to_scalp_mm"] is not None for r in rep["regions"])  # from its regions.tsv
    html = (tmp_path / "rep" / "report.html").read_text()
    assert "on held-out calibration data, true vs surrogate" in html and "Frequencies above" in html
