"""Broken inputs: each case gives its error class and message through the API and the CLI.

Broken files are generated here: mutations of a valid scalp EDF (the 19-channel
scalp file of the ``linear_session`` fixture, so a patient model applies to
it), of the real ``MB0400FU.EDF``, and small FIF files. Each user error must
exit with its class's code, print exactly one line on stderr naming the file,
and never a traceback.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from ieegrecon.cli import app
from ieegrecon.errors import InputError, ModelFileError, ModelInputMismatch
from ieegrecon.io.edf import write_edf
from ieegrecon.io.read import read_recording
from ieegrecon.io.validate import check_min_duration, check_min_sfreq, check_units, find_bad_channels
from ieegrecon.recording import Recording

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MB0400FU = DATA / "scalp_eeg" / "MB0400FU.EDF"
PYNEUROMOD = DATA / "pyneuromod_ecog"

runner = CliRunner()


def cli(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def assert_one_line_error(res, code: int, path: Path, match: str) -> None:
    """Exit code of the class, exactly one stderr line naming the file and the problem, no traceback."""
    assert res.exit_code == code, (res.exit_code, res.stdout, res.stderr)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("ieegrecon: error: ") and str(path) in lines[0], lines[0]
    assert match in lines[0], lines[0]
    assert "Traceback" not in res.stderr + res.stdout


# --------------------------------------------------------------------------- header field surgery
def _fields(b: bytes) -> dict[str, int]:
    ns = int(b[252:256])
    off, out = 256, {}
    for name, width in (("label", 16), ("transducer", 80), ("dim", 8), ("pmin", 8), ("pmax", 8),
                        ("dmin", 8), ("dmax", 8), ("prefilter", 80), ("nsamp", 8)):
        out[name] = off
        off += width * ns
    return out


def set_field(b: bytes, offset: int, width: int, text: str) -> bytes:
    bb = bytearray(b)
    bb[offset:offset + width] = text.ljust(width).encode("latin-1")
    return bytes(bb)


def set_signal(b: bytes, field: str, i: int, text: str) -> bytes:
    width = {"label": 16, "dim": 8, "pmin": 8, "pmax": 8, "dmin": 8, "dmax": 8, "nsamp": 8}[field]
    return set_field(b, _fields(b)[field] + i * width, width, text)


def all_signals(b: bytes, field: str, text: str) -> bytes:
    ns = int(b[252:256])
    for i in range(ns - 1):  # the last signal is 'EDF Annotations' in files from write_edf
        b = set_signal(b, field, i, text)
    return b


#: name -> (mutation of the valid EDF bytes, expected message fragment)
HEADER_CASES = {
    "truncated": (lambda b: b[: len(b) - 1000], "truncated: the header announces"),
    "truncated_header": (lambda b: b[:700], "truncated"),
    "empty": (lambda b: b"", "truncated: 0 bytes"),
    "not_edf": (lambda b: b"PK\x03\x04" + b[4:], "not an EDF file"),
    "zero_records": (lambda b: set_field(b, 236, 8, "0"), "number of data records is 0"),
    "negative_records": (lambda b: set_field(b, 236, 8, "-7"), "number of data records is -7"),
    "nonnumeric_records": (lambda b: set_field(b, 236, 8, "12a"), "number of data records is '12a', not an integer"),
    "zero_duration": (lambda b: set_field(b, 244, 8, "0"), "sampling rate is not > 0"),
    "negative_duration": (lambda b: set_field(b, 244, 8, "-1"), "sampling rate is not > 0"),
    "nan_duration": (lambda b: set_field(b, 244, 8, "nan"), "data record duration is 'nan', not a finite number"),
    "zero_signals": (lambda b: set_field(b, 252, 4, "0"), "number of signals is 0"),
    "header_bytes": (lambda b: set_field(b, 184, 8, "512"), "number of header bytes is 512"),
    "zero_samples": (lambda b: set_signal(b, "nsamp", 0, "0"), "has 0 samples per data record"),
    "negative_samples": (lambda b: set_signal(b, "nsamp", 1, "-200"), "has -200 samples per data record"),
    "nonnumeric_physical": (lambda b: set_signal(b, "pmin", 0, "abc"), "physical minimum is 'abc', not a number"),
    "physical_min_eq_max": (lambda b: set_signal(set_signal(b, "pmin", 2, "100"), "pmax", 2, "100"),
                            "physical minimum == maximum"),
    "digital_min_ge_max": (lambda b: set_signal(b, "dmin", 0, "32767"), "digital minimum 32767 ≥ digital maximum"),
    "digital_out_of_range": (lambda b: set_signal(b, "dmax", 0, "99999"), "exceeds the EDF sample range"),
    "duplicate_labels": (lambda b: set_signal(b, "label", 1, "F3"), "duplicate channel labels ['F3']"),
    # signal 11 is 'T3' (old name of T7)
    "duplicate_after_normalization": (lambda b: set_signal(b, "label", 0, "EEG T7-Ref"),
                                      "duplicate channel labels ['EEG T7-Ref', 'T3']"),
    "units_volts": (lambda b: all_signals(b, "dim", "V"), "implausible units: median scalp EEG amplitude"),
}


@pytest.fixture(scope="module")
def scalp_edf(linear_session) -> Path:
    """The valid 19-channel, 150-s, 200-Hz scalp EDF of the linear session (ds004752 sub-01 labels: F3 F4 ... T3 ...)."""
    f = next((linear_session / "eeg").glob("*_eeg.edf"))
    assert read_recording(f).ch_names[:2] == ["F3", "F4"]
    return f


@pytest.fixture(scope="module")
def patient_model(linear_session, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("broken_model") / "ridge"
    res = cli("calibrate", linear_session, "--method", "ridge", "--minutes", "1.5", "--out", out)
    assert res.exit_code == 0, res.stderr
    return out


@pytest.fixture(scope="module")
def broken_dir(scalp_edf, tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("broken")
    good = scalp_edf.read_bytes()
    for name, (mutate, _) in HEADER_CASES.items():
        (d / f"{name}.edf").write_bytes(mutate(good))
    return d


@pytest.mark.parametrize("case", sorted(HEADER_CASES))
def test_broken_edf_api_and_info(case, broken_dir):
    f = broken_dir / f"{case}.edf"
    match = HEADER_CASES[case][1]
    with pytest.raises(InputError) as exc:
        read_recording(f)
    assert str(exc.value).startswith(f"{f}: ") and match in str(exc.value)
    assert "\n" not in str(exc.value)
    assert_one_line_error(cli("info", f), 3, f, match)


@pytest.mark.parametrize("case", ["truncated", "zero_records", "physical_min_eq_max", "duplicate_labels",
                                  "units_volts", "zero_duration"])
def test_broken_edf_reconstruct(case, broken_dir, patient_model, tmp_path):
    f = broken_dir / f"{case}.edf"
    out = tmp_path / "x.edf"
    res = cli("reconstruct", f, "--model", patient_model, "--out", out)
    assert_one_line_error(res, 3, f, HEADER_CASES[case][1])
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not MB0400FU.is_file(), reason="real MB0400FU.EDF not found in ../shared/data")
@pytest.mark.parametrize("mutate,match", [
    (lambda b: b[: len(b) // 2], "truncated: the header announces"),
    (lambda b: set_signal(b, "label", 2, "EEG F3-Ref"), "duplicate channel labels ['EEG F3-Ref']"),
    (lambda b: set_signal(b, "nsamp", 0, "0"), "0 samples per data record"),
    (lambda b: set_field(b, 236, 8, "-3"), "number of data records is -3"),
])
def test_broken_real_edf_plus_d(mutate, match, tmp_path, patient_model):
    f = tmp_path / "MB0400FU_broken.EDF"
    f.write_bytes(mutate(MB0400FU.read_bytes()))
    with pytest.raises(InputError, match=re.escape(match)):
        read_recording(f)
    assert_one_line_error(cli("info", f), 3, f, match)
    assert_one_line_error(cli("reconstruct", f, "--model", patient_model, "--out", tmp_path / "o.edf"), 3, f, match)


@pytest.mark.skipif(not MB0400FU.is_file(), reason="real MB0400FU.EDF not found in ../shared/data")
def test_unclosed_recording_reads_with_a_quirk(tmp_path):
    """-1 data records (recording not closed) is tolerated: counted from the file size."""
    f = tmp_path / "open.edf"
    f.write_bytes(set_field(MB0400FU.read_bytes(), 236, 8, "-1"))
    rec, ref = read_recording(f), read_recording(MB0400FU)
    np.testing.assert_array_equal(rec.data, ref.data)
    assert any("recording not closed" in q for q in rec.quirks)


def _fif(path: Path, data: np.ndarray, names: list[str], sfreq: float = 200.0, types="eeg") -> Path:
    import mne

    info = mne.create_info(names, sfreq, types)
    mne.io.RawArray(data, info, verbose="error").save(path, verbose="error")
    return path


def test_nan_samples_in_fif(tmp_path, patient_model):
    data = np.random.default_rng(0).normal(0, 20e-6, (3, 1000))
    data[1, 10:20] = np.nan
    data[2, 5] = np.inf
    f = _fif(tmp_path / "nan_raw.fif", data, ["Cz", "Pz", "Fz"])
    with pytest.raises(InputError, match=r"NaN/Inf samples in 2 channel\(s\): Pz \(10 samples\), Fz \(1 samples\)"):
        read_recording(f)
    assert_one_line_error(cli("info", f), 3, f, "NaN/Inf samples")
    assert_one_line_error(cli("reconstruct", f, "--model", patient_model, "--out", tmp_path / "o.edf"), 3, f,
                          "NaN/Inf samples")


def test_nan_in_misc_channel_is_only_a_quirk(tmp_path):
    data = np.random.default_rng(0).normal(0, 20e-6, (3, 1000))
    data[2, :5] = np.nan
    f = _fif(tmp_path / "nanmisc_raw.fif", data, ["Cz", "Pz", "TRIG"], types=["eeg", "eeg", "misc"])
    rec = read_recording(f)
    assert any("NaN/Inf samples in non-EEG channel(s) ['TRIG']" in q for q in rec.quirks)


def test_flat_and_saturated_channels_are_flagged_not_errors(scalp_edf, tmp_path):
    rec = read_recording(scalp_edf)
    assert find_bad_channels(rec) == {}
    data = rec.data.copy()
    data[rec.ch_names.index("Cz")] = 0.0  # disconnected
    hi = np.quantile(data[rec.ch_names.index("O1")], 0.9)
    data[rec.ch_names.index("O1")] = np.minimum(data[rec.ch_names.index("O1")], hi)  # 10 % pinned at the top
    f = tmp_path / "bad_channels.edf"
    write_edf(f, data, rec.sfreq, rec.ch_names)
    bad_rec = read_recording(f)
    bad = find_bad_channels(bad_rec)
    assert set(bad) == {"Cz", "O1"}
    assert bad["Cz"].startswith("flat") and bad["O1"].startswith("saturated") and "maximum" in bad["O1"]
    quirk = [q for q in bad_rec.quirks if "bad channel" in q]
    assert len(quirk) == 1 and "Cz (flat" in quirk[0] and "O1 (saturated" in quirk[0]
    res = cli("info", f, "--json")
    assert res.exit_code == 0 and any("bad channel" in q for q in json.loads(res.stdout)["quirks"])


def test_min_duration(scalp_edf, tmp_path):
    rec = read_recording(scalp_edf)
    check_min_duration(rec, 2.0)  # 150 s passes
    short = rec.crop(0, 1.5)
    with pytest.raises(InputError, match=r"recording is 1.5 s long \(300 samples at 200 Hz\), shorter than the 2 s"):
        check_min_duration(short)
    f = tmp_path / "short.edf"
    one_s = rec.crop(0, 1.0)  # write_edf pads to whole 1-s records: write exactly 1 s
    write_edf(f, one_s.data, one_s.sfreq, one_s.ch_names)
    with pytest.raises(InputError, match=f"^{f}: recording is 1 s long"):
        check_min_duration(read_recording(f))


def test_units_check_only_judges_scalp():
    rng = np.random.default_rng(1)
    ok = Recording(rng.normal(0, 20e-6, (2, 400)) + 0.2, 200.0, ["Cz", "Pz"], ["eeg", "eeg"])
    check_units(ok)  # a 200 mV DC offset (DC-coupled amplifier) is not an amplitude
    volts = Recording(rng.normal(0, 20.0, (2, 400)), 200.0, ["Cz", "Pz"], ["eeg", "eeg"], source_path="v.edf")
    with pytest.raises(InputError, match=r"^v.edf: implausible units: median scalp EEG amplitude is \d"):
        check_units(volts)
    check_units(Recording(rng.normal(0, 20.0, (2, 400)), 200.0, ["G1", "G2"], ["ecog", "ecog"]))


@pytest.mark.skipif(not PYNEUROMOD.is_dir(), reason="pyneuromod_ecog not found in ../shared/data")
def test_arbitrary_unit_ieeg_reads_as_a_quirk():
    f = next(PYNEUROMOD.rglob("*_ieeg.vhdr"))
    rec = read_recording(f)
    check_units(rec)
    assert any("unit scaling" in q for q in rec.quirks)
    res = cli("info", f)
    assert res.exit_code == 0 and "unit scaling" in res.stdout


def test_missing_scalp_channels_is_a_model_mismatch(scalp_edf, tmp_path, patient_model):
    rec = read_recording(scalp_edf)
    keep = [n for n in rec.ch_names if n not in ("Cz", "O2")]
    f = tmp_path / "no_cz.edf"
    write_edf(f, rec.pick(keep).data, rec.sfreq, keep)
    res = cli("reconstruct", f, "--model", patient_model, "--out", tmp_path / "o.edf")
    assert_one_line_error(res, ModelInputMismatch.exit_code, f, "the model needs scalp channel(s)")
    assert "'Cz'" in res.stderr.split("absent")[0] and "'O2'" in res.stderr.split("absent")[0]


def test_sampling_rate_mismatch_is_resampled(scalp_edf, tmp_path, patient_model):
    """A 250-Hz scalp file with a 200-Hz model: resampled, output at the model's rate."""
    from scipy.signal import resample_poly

    rec = read_recording(scalp_edf).crop(0, 30)
    f = tmp_path / "at250.edf"
    write_edf(f, resample_poly(rec.data, 5, 4, axis=1), 250.0, rec.ch_names)
    out = tmp_path / "o.edf"
    res = cli("reconstruct", f, "--model", patient_model, "--out", out, "--json")
    assert res.exit_code == 0, res.stderr
    summary = json.loads(res.stdout)["outputs"][0]
    assert summary["sfreq"] == 200.0 and summary["n_times"] == 6000
    assert any("250 Hz, resampled to the model's 200 Hz" in n for n in summary["notes"])


def test_sampling_rate_far_below_the_model_is_refused(scalp_edf, tmp_path, patient_model):
    """A 50-Hz scalp file for a 200-Hz model: upsampling cannot restore 25-100 Hz, so it is refused;
    100 Hz (half the model rate) is the lowest accepted."""
    from scipy.signal import resample_poly

    rec = read_recording(scalp_edf).crop(0, 30)
    f = tmp_path / "at50.edf"
    write_edf(f, resample_poly(rec.data, 1, 4, axis=1), 50.0, rec.ch_names)
    before = f.read_bytes()
    out = tmp_path / "o.edf"
    res = cli("reconstruct", f, "--model", patient_model, "--out", out)
    assert_one_line_error(res, InputError.exit_code, f, "sampled at 50 Hz, below the 100 Hz this model needs")
    assert not out.exists() and f.read_bytes() == before
    check_min_sfreq(Recording(np.zeros((1, 100)), 100.0, ["Cz"], ["eeg"]), 200.0)
    with pytest.raises(InputError, match="sampled at 99 Hz"):
        check_min_sfreq(Recording(np.zeros((1, 99)), 99.0, ["Cz"], ["eeg"]), 200.0)


# --------------------------------------------------------------------------- model folders
def _model_copy(patient_model: Path, tmp_path: Path) -> Path:
    m = tmp_path / "model"
    shutil.copytree(patient_model, m)
    return m


def _edit_config(m: Path, **changes) -> None:
    cfg = json.loads((m / "config.json").read_text())
    cfg.update(changes)
    (m / "config.json").write_text(json.dumps(cfg))


def _set_safetensors_dtype(m: Path) -> str:
    """Rewrite the safetensors header so a tensor claims another dtype (same byte size: F64 -> I64)."""
    w = m / "model.safetensors"
    b = w.read_bytes()
    n = int.from_bytes(b[:8], "little")
    head = json.loads(b[8:8 + n])
    name = next(k for k in head if k != "__metadata__")
    assert head[name]["dtype"] == "F64"
    head[name]["dtype"] = "I64"
    new = json.dumps(head, separators=(",", ":")).encode().ljust(n)
    assert len(new) == n
    w.write_bytes(b[:8] + new + b[8 + n:])
    return name


@pytest.mark.parametrize("break_it,match", [
    (lambda m: _edit_config(m, method="telepathy"), "telepathy"),
    (lambda m: _edit_config(m, format_version=99), "unsupported model format_version 99"),
    (lambda m: (m / "config.json").write_text("{not json"), "invalid JSON"),
    (lambda m: _set_safetensors_dtype(m), "config says float64"),
    (lambda m: (m / "model.safetensors").write_bytes(b"\x00" * 5), "corrupted safetensors file"),
    (lambda m: ((m / "config.json").unlink(), (m / "model.pt").write_bytes(b"\x80\x04K.")),
     "refusing pickled checkpoint(s) ['model.pt']"),
])
def test_broken_model_folder(break_it, match, patient_model, scalp_edf, tmp_path):
    from ieegrecon.models.io import load_model

    m = _model_copy(patient_model, tmp_path)
    break_it(m)
    with pytest.raises(ModelFileError) as exc:
        load_model(m)
    assert match in str(exc.value) and str(m) in str(exc.value)
    res = cli("reconstruct", scalp_edf, "--model", m, "--out", tmp_path / "o.edf")
    assert res.exit_code == 6 and "Traceback" not in res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and match in lines[0] and str(m) in lines[0]
    assert not (tmp_path / "o.edf").exists()

