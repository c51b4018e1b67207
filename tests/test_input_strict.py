"""Wrong input is never accepted silently and never ends in exit 1 (issue #23, the input half).

Content over extension (EDF vs BDF), record-size mismatches, BIDS ``status=bad``,
electrodes.tsv (duplicates, no usable coordinate, inf), JSON sidecars that are
not objects or hold ill-typed fields, malformed model folders, control
characters in labels. Plus the fuzz run (``benchmarks/fuzz_inputs.py``): 150 mutations here,
the full 10 000 marked slow.
"""

from __future__ import annotations

import os

import json
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import EXAMPLES, make_linear_bids_session
from ieegrecon.cli import app
from ieegrecon.errors import InputError, ModelFileError
from ieegrecon.io.bids import read_bids_session
from ieegrecon.io.electrodes import read_electrodes
from ieegrecon.io.edf import write_edf
from ieegrecon.io.read import read_recording

runner = CliRunner()
SESSION = EXAMPLES / "calibration" / "sub-01" / "ses-01"
ROOT = Path(__file__).resolve().parents[1]


def cli(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def one_line(res, code: int, path: Path, match: str) -> None:
    """Exit ``code``, one stderr line naming ``path`` and holding ``match``, no traceback."""
    assert res.exit_code == code, (res.exit_code, res.stdout, res.stderr)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("ieegrecon: error: ") and str(path) in lines[0] and match in lines[0], lines[0]
    assert "Traceback" not in res.stderr + res.stdout


# --------------------------------------------------------------------------- EDF / BDF
def _signals(seconds: float = 10.0, sfreq: float = 200.0) -> np.ndarray:
    return np.random.default_rng(0).normal(0.0, 20e-6, (3, int(seconds * sfreq)))


def _write_bdf(path: Path, x: np.ndarray, sfreq: float, names: list[str]) -> Path:
    _fuzz()._write_bdf(path, x, sfreq, names)  # the benchmark's writer (pyedflib, 24-bit)
    return path


@pytest.mark.parametrize("kind", ["edf_named_bdf", "bdf_named_edf"])
@pytest.mark.parametrize("preload", [True, False])
def test_content_decides_edf_or_bdf(kind, preload, tmp_path):
    x = _signals()
    if kind == "edf_named_bdf":
        write_edf(tmp_path / "a.edf", x, 200.0, ["Fp1", "Cz", "O1"])
        f = (tmp_path / "a.edf").rename(tmp_path / "a.bdf")
        tol, said = 2e-9, "says EDF but the file is named '.bdf'"
    else:
        _write_bdf(tmp_path / "b.bdf", x, 200.0, ["Fp1", "Cz", "O1"])
        f = (tmp_path / "b.bdf").rename(tmp_path / "b.edf")
        tol, said = 2e-10, "says BDF but the file is named '.edf'"
    before = f.read_bytes()
    rec = read_recording(f, preload=preload)
    assert rec.duration == pytest.approx(10.0)
    data = np.asarray(rec.data[:, 0:rec.n_times])
    assert np.abs(data - x).max() < tol  # the right sample width: µV-exact, not 50 mV of noise
    assert any(said in q for q in rec.quirks)
    assert f.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == [f.name]


def _edf_bytes(tmp_path: Path) -> bytes:
    write_edf(tmp_path / "ok.edf", _signals(), 200.0, ["Fp1", "Cz", "O1"])
    return (tmp_path / "ok.edf").read_bytes()


def _set_spr(b: bytes, i: int, value: int) -> bytes:
    ns = int(b[252:256])
    off = 256 + ns * (16 + 80 + 8 * 5 + 80) + 8 * i
    bb = bytearray(b)
    bb[off:off + 8] = str(value).ljust(8).encode()
    return bytes(bb)


def test_samples_per_record_mismatch_refused(tmp_path):
    b = _edf_bytes(tmp_path)
    ns = int(b[252:256])
    spr = int(b[256 + ns * (16 + 80 + 8 * 5 + 80):][:8])
    f = tmp_path / "spr.edf"
    f.write_bytes(_set_spr(b, 0, spr - 1))  # one sample fewer per record: every channel would shift
    with pytest.raises(InputError, match="size mismatch: the header announces"):
        read_recording(f)
    one_line(cli("info", f), 3, f, "size mismatch")
    g = tmp_path / "records.edf"
    g.write_bytes(b[:236] + str(int(b[236:244]) - 2).ljust(8).encode() + b[244:])  # record count too small
    one_line(cli("info", g), 3, g, "size mismatch")


def test_nul_in_label_refused_by_import(tmp_path):
    b = bytearray(_edf_bytes(tmp_path))
    b[256 + 16:256 + 32] = b"C\x00z".ljust(16)
    f = tmp_path / "nul.edf"
    f.write_bytes(bytes(b))
    one_line(cli("import", f, "--out", tmp_path / "s.h5"), 3, f, "non-printable")
    assert not (tmp_path / "s.h5").exists()


# --------------------------------------------------------------------------- a small BIDS session
@pytest.fixture(scope="module")
def session(tmp_path_factory) -> Path:
    """The example session's sidecars with 40 s of linear synthetic signals (scalp 200 Hz, iEEG 2 kHz)."""
    layout = tmp_path_factory.mktemp("layout") / "sub-01" / "ses-01"
    shutil.copytree(SESSION, layout, ignore=shutil.ignore_patterns("*.edf"))
    return make_linear_bids_session(tmp_path_factory.mktemp("strict"), layout, seconds=40.0)


def _copy(session: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "sub-01" / "ses-01"
    shutil.copytree(session, dst)
    return dst


def _set_status(ses: Path, bad: list[str]) -> None:
    tsv = next((ses / "eeg").glob("*_channels.tsv"))
    lines = tsv.read_text(encoding="utf-8").splitlines()
    head = lines[0].split("\t")
    col = head.index("status")
    out = [lines[0]]
    for ln in lines[1:]:
        cells = ln.split("\t")
        if cells[0] in bad:
            cells[col] = "bad"
        out.append("\t".join(cells))
    tsv.write_text("\n".join(out) + "\n", encoding="utf-8")


def test_status_bad_scalp_channel_dropped_in_calibrate(session, tmp_path):
    ses = _copy(session, tmp_path)
    _set_status(ses, ["Cz"])
    rec = read_bids_session(ses).scalp
    assert "Cz" in rec.bads and rec.bads["Cz"].startswith("status=bad")
    out = tmp_path / "pm"
    res = cli("calibrate", ses, "--method", "ridge", "--minutes", "0.25", "--out", out)
    assert res.exit_code == 0, res.stderr
    names = json.loads((out / "config.json").read_text())["scalp_names"]
    assert "Cz" not in names and "Fz" in names and len(names) == 18


def test_too_many_bad_scalp_channels_refused(session, tmp_path):
    ses = _copy(session, tmp_path)
    scalp = [ln.split("\t")[0] for ln in next((ses / "eeg").glob("*_channels.tsv")).read_text().splitlines()[1:]]
    _set_status(ses, scalp[3:])  # 3 good scalp channels left
    res = cli("calibrate", ses, "--method", "ridge", "--minutes", "0.25", "--out", tmp_path / "pm")
    one_line(res, 3, next((ses / "eeg").glob("*_eeg.edf")), "3 remain, fewer than the 4 needed")
    assert not (tmp_path / "pm").exists()


def _electrodes(ses: Path) -> Path:
    return next((ses / "ieeg").glob("*_electrodes.tsv"))


def _edit_tsv(path: Path, fn) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(fn(lines)) + "\n", encoding="utf-8")


def _coords(value: str):
    def fn(lines):
        rows = (ln.split("\t") for ln in lines[1:])
        return [lines[0]] + ["\t".join([c[0], value, value, value] + c[4:]) for c in rows]
    return fn


@pytest.mark.parametrize("case,edit,match", [
    ("duplicate", lambda lines: lines + [lines[1]], "duplicate contact names ['mAHL1']"),
    ("all_na", _coords("n/a"), "no row holds three finite coordinates"),
    ("inf", lambda lines: [lines[0], lines[1].replace(lines[1].split("\t")[1], "inf", 1)] + lines[2:],
     "infinite coordinate(s) for contact(s) ['mAHL1']"),
])
def test_bad_electrodes_tsv(case, edit, match, session, tmp_path):
    ses = _copy(session, tmp_path)
    el = _electrodes(ses)
    _edit_tsv(el, edit)
    with pytest.raises(InputError, match=re.escape(match)):
        read_electrodes(el)
    one_line(cli("map", el, "--out", tmp_path / "regions.tsv"), 3, el, match)
    # calibrate refuses before fitting anything (the session's electrodes are read with the recordings)
    res = cli("calibrate", ses, "--method", "ridge", "--minutes", "0.25", "--out", tmp_path / "pm")
    one_line(res, 3, el, match)
    assert "calibrating" not in res.stderr and not (tmp_path / "pm").exists()


@pytest.mark.parametrize("which,content,match", [
    ("ieeg/*_ieeg.json", "[]", "JSON sidecar is a list, not an object"),
    ("eeg/*_eeg.json", '"x"', "JSON sidecar is a str, not an object"),
    ("ieeg/*_coordsystem.json", "[1, 2]", "JSON sidecar is a list, not an object"),
    ("ieeg/*_coordsystem.json", '{"iEEGCoordinateSystem": 152, "iEEGCoordinateUnits": "mm"}',
     "field 'iEEGCoordinateSystem' is 152 (int), expected a string"),
    ("ieeg/*_coordsystem.json", '{"iEEGCoordinateSystem": "MNI152NLin2009aSym", "iEEGCoordinateUnits": 1}',
     "field 'iEEGCoordinateUnits' is 1 (int), expected a string"),
])
def test_bad_sidecars(which, content, match, session, tmp_path):
    ses = _copy(session, tmp_path)
    f = next(ses.glob(which))
    f.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=re.escape(match)):
        read_bids_session(ses)
    one_line(cli("info", ses), 3, f, match)


# --------------------------------------------------------------------------- model folders
@pytest.fixture(scope="module")
def patient_model(session, tmp_path_factory) -> Path:
    """A small ridge patient model (20-ms lags, 4 contacts) for the session's scalp channels, built directly."""
    from ieegrecon.channels import normalize_ch_name
    from ieegrecon.models.base import ContactInfo, PairedSegment, get_model_class
    from ieegrecon.models.io import save_model
    from ieegrecon.preprocessing import Preprocessing

    rec = read_bids_session(session)
    names = [normalize_ch_name(n) for n in rec.scalp.pick_types(("eeg",)).ch_names]
    rng = np.random.default_rng(0)
    x = rng.normal(0, 20e-6, (len(names), 4000))
    contacts = ContactInfo(rec.ieeg.ch_names[:4], rng.normal(0, 0.03, (4, 3)))
    model = get_model_class("ridge")(sfreq=200.0, max_lag_ms=20.0, alphas=[1.0])
    model.scalp_names, model.contacts = names, contacts
    model.calibrate(PairedSegment(x, rng.normal(size=(4, len(names))) @ x, 200.0, names, contacts))
    extra = {"preprocessing": Preprocessing().to_dict(),
             "physical_range_uv": {c: [-500.0, 500.0] for c in contacts.ch_names}}
    out = save_model(model, tmp_path_factory.mktemp("pm") / "ridge", extra=extra)
    assert cli("reconstruct", next((session / "eeg").glob("*_eeg.edf")), "--model", out, "--out",
               out.parent / "ok.edf").exit_code == 0  # the unbroken model works
    return out


def _cfg(**changes):
    def edit(m: Path) -> None:
        cfg = json.loads((m / "config.json").read_text())
        for k, v in changes.items():
            node = cfg
            *path, last = k.split("__")
            for p in path:
                node = node[p]
            if v is KeyError:
                del node[last]
            else:
                node[last] = v
        (m / "config.json").write_text(json.dumps(cfg))
    return edit


def _tensors(fn):
    """Rewrite model.safetensors and its config consistently: ``fn(state) -> state``."""
    def edit(m: Path) -> None:
        from safetensors.numpy import load_file, save_file

        state = fn(load_file(str(m / "model.safetensors")))
        save_file(state, str(m / "model.safetensors"))
        cfg = json.loads((m / "config.json").read_text())
        cfg["tensors"] = {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in state.items()}
        (m / "config.json").write_text(json.dumps(cfg))
    return edit


MODEL_CASES = {
    "config_list": (lambda m: (m / "config.json").write_text("[]"), "config is a JSON list, not an object"),
    "config_string": (lambda m: (m / "config.json").write_text('"x"'), "config is a JSON str, not an object"),
    "method_int": (_cfg(method=7), "'method' is 7, not a string"),
    "params_list": (_cfg(params=[1, 2]), "'params' is a list, not an object"),
    "sfreq_string": (_cfg(sfreq="fast"), "'sfreq' is 'fast', not a positive number"),
    "tensors_list": (_cfg(tensors=[]), "'tensors' is a list, not an object"),
    "tensor_spec_bad": (_cfg(tensors__coef={"shape": "big", "dtype": 3}), "'tensors.coef' is"),
    "contacts_bad": (_cfg(contacts={"ch_names": 5}), "config field 'contacts' is invalid"),
    "prep_sfreq_bad": (_cfg(extra__preprocessing__sfreq="x"), "'extra.preprocessing.sfreq' is 'x'"),
    "notch_width_bad": (_cfg(extra__preprocessing__notch_width="2"), "'extra.preprocessing.notch_width' is '2'"),
    "range_missing": (_cfg(extra__physical_range_uv={"mAHL1": [-100.0, 100.0]}),
                      "'extra.physical_range_uv' lacks contact(s)"),
    "range_bad": (_cfg(extra__physical_range_uv__mAHL1="wide"), "'extra.physical_range_uv.mAHL1' is"),
    "sha256_mismatch": (_cfg(sha256="0" * 64), "sha256 of the weights is"),
    "wrong_shape": (_tensors(lambda s: {**s, "intercept": s["intercept"][:-1]}), "weights"),
    "nan_weight": (_tensors(lambda s: {**s, "coef": np.where(np.arange(s["coef"].size).reshape(s["coef"].shape) == 0,
                                                                 np.nan, s["coef"])}),
                   "tensor 'coef' holds 1 NaN/Inf value(s)"),
}


@pytest.mark.parametrize("case", sorted(MODEL_CASES))
def test_malformed_model_folder(case, patient_model, session, tmp_path):
    from ieegrecon.models.io import load_model

    m = tmp_path / "model"
    shutil.copytree(patient_model, m)
    break_it, match = MODEL_CASES[case]
    break_it(m)
    with pytest.raises(ModelFileError) as exc:
        load_model(m)
    assert match in str(exc.value) and str(m) in str(exc.value) and "\n" not in str(exc.value)
    scalp = next((session / "eeg").glob("*_eeg.edf"))
    res = cli("reconstruct", scalp, "--model", m, "--out", tmp_path / "o.edf")
    one_line(res, 6, m, match)
    assert not (tmp_path / "o.edf").exists()


def test_status_bad_channel_the_model_needs_refused_at_reconstruct(patient_model, session, tmp_path):
    ses = _copy(session, tmp_path)
    _set_status(ses, ["Cz"])
    scalp = next((ses / "eeg").glob("*_eeg.edf"))
    res = cli("reconstruct", scalp, "--model", patient_model, "--out", tmp_path / "o.edf")
    one_line(res, 4, scalp, "the model needs scalp channel(s) that are bad: Cz (status=bad in")
    assert not (tmp_path / "o.edf").exists()


def test_reconstruct_needs_a_patient_model(patient_model, session, tmp_path):
    """A config without contacts loads (pretrained models have none) but cannot reconstruct: exit 6, not 1."""
    m = tmp_path / "model"
    shutil.copytree(patient_model, m)
    _cfg(contacts=None)(m)
    res = cli("reconstruct", next((session / "eeg").glob("*_eeg.edf")), "--model", m, "--out", tmp_path / "o.edf")
    one_line(res, 6, m, "not a patient model")
    assert not (tmp_path / "o.edf").exists()


# --------------------------------------------------------------------------- fuzz
def _fuzz():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import fuzz_inputs
    finally:
        sys.path.pop(0)
    return fuzz_inputs


def test_fuzz_short(tmp_path):
    """150 mutations (5 through the CLI): no internal error, no traceback, inputs unchanged."""
    res = _fuzz().run(150, cli_every=30, seed=1, workdir=tmp_path)
    assert res["internal"] == 0, res["internal_examples"]
    assert res["tracebacks"] == 0 and res["changed_inputs"] == 0 and res["n"] == 150 and res["cli"] == 5


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("IEEGRECON_FULL_FUZZ"),
                    reason="10 000 mutations take ~2-3 min: IEEGRECON_FULL_FUZZ=1, or benchmarks/fuzz_inputs.py")
def test_fuzz_full(tmp_path):
    res = _fuzz().run(10_000, cli_every=25, seed=0, workdir=tmp_path)
    assert res["internal"] == 0, res["internal_examples"]
    assert res["tracebacks"] == 0 and res["changed_inputs"] == 0
