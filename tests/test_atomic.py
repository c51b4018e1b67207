"""Output guarantees: atomic writes, --overwrite, inputs never written, batches continue.

"Inputs opened read-only" is checked with a Python audit hook (PEP 578): every
``open``/``os.open`` of a watched input with a write mode or flag is recorded.
Files are also chmod'ed 0444 and their sha256 and mtime compared (as root
the chmod alone would not stop a write, hence the hook).
"""

from __future__ import annotations

import os
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from ieegrecon.cli import app
from ieegrecon.io.edf import write_edf
from ieegrecon.recording import sha256_file

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
IEEG_SIDECARS = DATA / "ds004752" / "sub-01" / "ses-01" / "ieeg"

runner = CliRunner()


def cli(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


# --------------------------------------------------------------------------- write-open auditing
_WATCHED: set[str] = set()
_WRITES: list[tuple[str, object, object]] = []
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _audit(event: str, args: tuple) -> None:
    if event != "open" or not _WATCHED:
        return
    path, mode, flags = (tuple(args) + (None, None, None))[:3]
    if isinstance(path, int) or path is None:
        return
    try:
        p = os.path.realpath(os.fsdecode(path))
    except (TypeError, ValueError):
        return
    if p not in _WATCHED:
        return
    writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or \
        (isinstance(flags, int) and bool(flags & _WRITE_FLAGS))
    if writes:
        _WRITES.append((p, mode, flags))


sys.addaudithook(_audit)


@contextmanager
def watch_inputs(*paths: Path):
    """Chmod ``paths`` (files, or every file under folders) read-only; check they are never opened for writing."""
    files = [f for p in paths for f in ([p] if p.is_file() else sorted(q for q in p.rglob("*") if q.is_file()))]
    before = {f: (sha256_file(f), f.stat().st_mtime_ns) for f in files}
    modes = {f: f.stat().st_mode for f in files}
    for f in files:
        f.chmod(0o444)
    _WRITES.clear()
    _WATCHED.update(os.path.realpath(f) for f in files)
    try:
        yield files
    finally:
        _WATCHED.clear()
        for f, m in modes.items():
            f.chmod(m)
    assert _WRITES == [], f"inputs opened for writing: {_WRITES}"
    assert {f: (sha256_file(f), f.stat().st_mtime_ns) for f in files} == before


def test_audit_hook_catches_a_write(tmp_path):
    """The checker itself: a write-open of a watched file is reported."""
    f = tmp_path / "x.txt"
    f.write_text("a")
    with pytest.raises(AssertionError, match="opened for writing"):
        with watch_inputs(f):
            os.close(os.open(f, os.O_RDWR))


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def session(linear_session, tmp_path_factory) -> Path:
    """A private copy of the linear session (its files are chmod'ed during tests)."""
    dst = tmp_path_factory.mktemp("atomic_ses") / "ses-01"
    shutil.copytree(linear_session, dst)
    return dst


@pytest.fixture(scope="module")
def model(session, tmp_path_factory) -> Path:
    """`ieegrecon calibrate` on the session: its inputs are watched while it runs."""
    out = tmp_path_factory.mktemp("atomic_model") / "ridge"
    with watch_inputs(session):
        res = cli("calibrate", session, "--method", "ridge", "--minutes", "1.5", "--out", out)
    assert res.exit_code == 0, res.stderr
    assert (out / "config.json").is_file() and not list(out.parent.glob(".*"))
    return out


@pytest.fixture()
def scalp(session, tmp_path) -> Path:
    """A 20-s copy of the session's scalp EDF in ``tmp_path``."""
    from ieegrecon.io.read import read_recording

    rec = read_recording(next((session / "eeg").glob("*_eeg.edf"))).crop(0, 20)
    f = tmp_path / "scalp.edf"
    write_edf(f, rec.data, rec.sfreq, rec.ch_names)
    return f


@pytest.fixture()
def electrodes(tmp_path) -> Path:
    if not IEEG_SIDECARS.is_dir():
        pytest.skip(f"real data not found: {IEEG_SIDECARS}")
    d = tmp_path / "el"
    d.mkdir()
    for f in IEEG_SIDECARS.glob("*_electrodes.*"):
        shutil.copy(f, d / f.name)
    return next(d.glob("*_electrodes.tsv"))


# --------------------------------------------------------------------------- read-only inputs
def test_calibrate_left_its_inputs_unchanged(model, session):
    """The `model` fixture ran calibrate inside watch_inputs (asserting on exit); check it ran at all."""
    assert (model / "model.safetensors").stat().st_size > 0 and (session / "eeg").is_dir()


def test_info_import_reconstruct_never_write_inputs(scalp, model, tmp_path):
    with watch_inputs(scalp, model):
        assert cli("info", scalp).exit_code == 0
        assert cli("import", scalp, "--out", tmp_path / "store.h5").exit_code == 0
        res = cli("reconstruct", scalp, "--model", model, "--out", tmp_path / "recon.edf",
                  "--report", tmp_path / "rep")
        assert res.exit_code == 0, res.stderr
    assert (tmp_path / "store.h5").is_file() and (tmp_path / "recon.edf").is_file()


def test_map_and_simulate_never_write_inputs(electrodes, tmp_path):
    with watch_inputs(electrodes.parent):
        res = cli("map", electrodes, "--out", tmp_path / "regions.tsv")
        assert res.exit_code == 0, res.stderr
        res = cli("simulate", "--layout", electrodes, "--out", tmp_path / "sim", "--minutes", "0.1",
                  "--sessions", "1", "--no-artifacts")
        assert res.exit_code == 0, res.stderr
    assert (tmp_path / "regions.tsv").is_file() and list((tmp_path / "sim").rglob("*_ieeg.edf"))


# --------------------------------------------------------------------------- existing outputs
def test_existing_outputs_refused_without_overwrite(scalp, model, electrodes, session, tmp_path):
    targets = {k: tmp_path / k for k in ("recon.edf", "store.h5", "regions.tsv")}
    for t in targets.values():
        t.write_bytes(b"old")
    sim = tmp_path / "sim"
    sim.mkdir()
    (sim / "keep.txt").write_text("old")
    cmds = {
        "recon.edf": ("reconstruct", scalp, "--model", model, "--out", targets["recon.edf"]),
        "store.h5": ("import", scalp, "--out", targets["store.h5"]),
        "regions.tsv": ("map", electrodes, "--out", targets["regions.tsv"]),
        "model": ("calibrate", session, "--method", "ridge", "--minutes", "1.5", "--out", model),
        "sim": ("simulate", "--layout", electrodes, "--out", sim, "--minutes", "0.1", "--sessions", "1"),
    }
    cfg = (model / "config.json").read_bytes()
    for name, args in cmds.items():
        res = cli(*args)
        assert res.exit_code == 5, (name, res.stderr)
        assert "pass --overwrite" in res.stderr and "Traceback" not in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1
    assert all(t.read_bytes() == b"old" for t in targets.values())
    assert (model / "config.json").read_bytes() == cfg and (sim / "keep.txt").read_text() == "old"
    # --overwrite replaces only what ieegrecon wrote: not this foreign "recon.edf"...
    res = cli("reconstruct", scalp, "--model", model, "--out", targets["recon.edf"], "--overwrite")
    assert res.exit_code == 5 and "not an EDF ieegrecon wrote" in res.stderr
    assert targets["recon.edf"].read_bytes() == b"old"
    # ...but a surrogate it wrote before
    targets["recon.edf"].unlink()
    assert cli("reconstruct", scalp, "--model", model, "--out", targets["recon.edf"]).exit_code == 0
    res = cli("reconstruct", scalp, "--model", model, "--out", targets["recon.edf"], "--overwrite")
    assert res.exit_code == 0 and targets["recon.edf"].read_bytes()[:1] == b"0"


def test_output_equal_to_input_refused(scalp, model):
    before = sha256_file(scalp)
    res = cli("reconstruct", scalp, "--model", model, "--out", scalp, "--overwrite")
    assert res.exit_code == 5 and "is one of the inputs" in res.stderr and str(scalp) in res.stderr
    assert sha256_file(scalp) == before


def test_import_output_equal_to_input_refused(scalp):
    before = sha256_file(scalp)
    res = cli("import", scalp, "--out", scalp, "--overwrite")
    assert res.exit_code == 5 and sha256_file(scalp) == before


# --------------------------------------------------------------------------- batches
def test_batch_continues_past_a_bad_file(scalp, model, tmp_path):
    bad = tmp_path / "bad.edf"
    bad.write_bytes(scalp.read_bytes()[:5000])
    second = tmp_path / "second.edf"
    shutil.copy(scalp, second)
    out = tmp_path / "out"
    res = cli("reconstruct", scalp, bad, second, "--model", model, "--out", out)
    assert res.exit_code == 3
    assert sorted(p.name for p in out.iterdir()) == ["scalp_recon.edf", "second_recon.edf"]
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("ieegrecon: error:")]
    assert len(errors) == 1 and str(bad) in errors[0] and "truncated" in errors[0]
    assert "1 of 3 inputs failed" in res.stderr and "Traceback" not in res.stderr


# --------------------------------------------------------------------------- interruptions
def _interrupting_write(monkeypatch):
    import edfio

    real = edfio.Edf.write

    def write(self, target, *a, **k):
        real(self, target, *a, **k)  # a complete temp file exists...
        with open(target, "r+b") as f:  # ...then half of it, then Ctrl-C
            f.truncate(os.path.getsize(target) // 2)
        raise KeyboardInterrupt

    monkeypatch.setattr(edfio.Edf, "write", write)


def test_interrupted_write_edf_leaves_nothing(tmp_path, monkeypatch):
    _interrupting_write(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        write_edf(tmp_path / "x.edf", np.zeros((2, 400)) + 1e-6, 200.0, ["Cz", "Pz"])
    assert list(tmp_path.iterdir()) == []


def test_interrupted_reconstruct_keeps_the_old_output(scalp, model, tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    target = out / "recon.edf"
    assert cli("reconstruct", scalp, "--model", model, "--out", target).exit_code == 0
    old = target.read_bytes()
    _interrupting_write(monkeypatch)
    res = cli("reconstruct", scalp, "--model", model, "--out", target, "--overwrite")
    assert res.exit_code == 130 and "interrupted; no partial output was kept" in res.stderr
    assert [p.name for p in out.iterdir()] == ["recon.edf"] and target.read_bytes() == old
