"""The output policy (docs/cli.md, "Output policy"): ieegrecon never loses data.

One test per rule. Every refusal is checked to happen before any
computation and to leave every input byte for byte (sha256) unchanged.
Tests run as root, and root ignores file permissions, so "read-only" is
simulated through ``os.access`` and an ``OSError(EROFS)`` raised by the
writer, and "disk full" through ``shutil.disk_usage`` and an
``OSError(ENOSPC)``, rather than with chmod or a small mounted file system.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ieegrecon.cli import app
from ieegrecon.errors import OutputError
from ieegrecon.io.atomic import atomic_dir, atomic_path
from ieegrecon.recording import sha256_file

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_BIDS = ROOT / "examples" / "calibration"
EXAMPLE_EDF = ROOT / "examples" / "MB0400FU.EDF"
runner = CliRunner()


def cli(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def digests(*paths: Path) -> dict[Path, str]:
    files = [f for p in paths for f in ([p] if p.is_file() else sorted(q for q in p.rglob("*") if q.is_file()))]
    return {f: sha256_file(f) for f in files}


def one_error_line(res, code: int, *words: str) -> str:
    assert res.exit_code == code, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ieegrecon: error:") and "Traceback" not in res.stderr, lines
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


@pytest.fixture()
def bids(tmp_path) -> Path:
    """A private copy of the bundled simulated BIDS dataset (root)."""
    dst = tmp_path / "cal"
    shutil.copytree(EXAMPLE_BIDS, dst)
    return dst


@pytest.fixture()
def no_compute(monkeypatch):
    """Fail loudly if calibrate or reconstruct get as far as reading their inputs."""
    import ieegrecon.io.bids  # noqa: F401 - imported first: it binds read_recording at import time
    import ieegrecon.io.read
    import ieegrecon.workflow.inputs

    def boom(*a, **k):
        raise AssertionError("the command started computing before refusing its output")

    monkeypatch.setattr(ieegrecon.workflow.inputs, "load_paired_recordings", boom)
    monkeypatch.setattr(ieegrecon.io.read, "read_recording", boom)


@pytest.fixture(scope="module")
def patient_model(tmp_path_factory) -> Path:
    """A ridge patient model calibrated on the bundled session (30 s)."""
    out = tmp_path_factory.mktemp("policy") / "pm"
    res = cli("calibrate", EXAMPLE_BIDS / "sub-01" / "ses-01", "--method", "ridge", "--minutes", "0.5", "--out", out)
    assert res.exit_code == 0, res.output
    return out


# --------------------------------------------------------------------------- outputs that are inputs
@pytest.mark.parametrize("target", ["session", "root", "unrelated"])
def test_calibrate_never_replaces_inputs_or_foreign_folders(bids, tmp_path, target, no_compute):
    """--out the session itself, the BIDS root above it, or a folder ieegrecon did not write: exit 5."""
    ses = bids / "sub-01" / "ses-01"
    unrelated = tmp_path / "unrelated"
    (unrelated / "sub").mkdir(parents=True)
    (unrelated / "notes.txt").write_text("my notes")
    shutil.copy(EXAMPLE_EDF, unrelated / "sub" / "data.edf")
    out = {"session": ses, "root": bids, "unrelated": unrelated}[target]
    before = digests(bids, unrelated)
    res = cli("calibrate", ses, "--method", "ridge", "--minutes", "0.5", "--out", out, "--overwrite")
    word = {"session": "is one of the inputs", "root": "contains the input",
            "unrelated": "not a model folder ieegrecon wrote"}[target]
    one_error_line(res, 5, str(out), word)
    assert digests(bids, unrelated) == before
    assert not [p for p in tmp_path.rglob("*ieegrecon*")]  # no temporary or lock left


def test_map_out_equal_to_its_input_refused(bids, no_compute):
    el = next((bids / "sub-01" / "ses-01" / "ieeg").glob("*_electrodes.tsv"))
    before = digests(bids)
    one_error_line(cli("map", el, "--out", el, "--overwrite"), 5, "is one of the inputs")
    assert digests(bids) == before


def test_import_out_inside_an_input_folder_refused(bids, no_compute):
    edf = next((bids / "sub-01" / "ses-01" / "eeg").glob("*_eeg.edf"))
    before = digests(bids)
    one_error_line(cli("import", bids, "--out", edf, "--overwrite"), 5, "inside the input folder")
    assert digests(bids) == before


def test_map_out_json_would_be_its_own_sidecar(bids, tmp_path):
    """`map --out r.json` used to write the table and overwrite it with its sidecar: refused (exit 2)."""
    el = next((bids / "sub-01" / "ses-01" / "ieeg").glob("*_electrodes.tsv"))
    one_error_line(cli("map", el, "--out", tmp_path / "r.json"), 2, "must end in .tsv")
    assert not (tmp_path / "r.json").exists()


@pytest.mark.slow
def test_report_into_a_model_folder_refused(patient_model, tmp_path):
    before = digests(patient_model)
    res = cli("reconstruct", EXAMPLE_EDF, "--model", patient_model, "--out", tmp_path / "r.edf",
              "--report", patient_model)
    one_error_line(res, 5, str(patient_model))
    assert digests(patient_model) == before and not (tmp_path / "r.edf").exists()
    # the model still works, with a report elsewhere
    res = cli("reconstruct", EXAMPLE_EDF, "--model", patient_model, "--out", tmp_path / "r.edf",
              "--report", tmp_path / "rep")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "rep" / "report.html").is_file() and digests(patient_model) == before


def test_batch_stem_collision_refused_before_any_work(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for d in ("a", "b"):
        shutil.copy(EXAMPLE_EDF, tmp_path / d / "x.edf")
    out = tmp_path / "out"
    # the model folder does not even exist: the collision is found before it is loaded
    res = cli("reconstruct", tmp_path / "a" / "x.edf", tmp_path / "b" / "x.edf", "--model", tmp_path / "nomodel",
              "--out", out)
    one_error_line(res, 2, "x_recon.edf", "collide")
    assert not out.exists()


# --------------------------------------------------------------------------- --overwrite of our own outputs
@pytest.mark.slow
def test_overwrite_replaces_a_previous_patient_model(patient_model, tmp_path):
    """What examples/run_example.sh does: calibrate --overwrite onto an earlier patient model."""
    out = tmp_path / "pm"
    shutil.copytree(patient_model, out)
    cfg = (out / "config.json").read_text()
    # a model written before the `written_by` marker existed is still recognised as ieegrecon's
    (out / "config.json").write_text(cfg.replace('"written_by"', '"written_by_old"'))
    res = cli("calibrate", EXAMPLE_BIDS / "sub-01" / "ses-01", "--method", "ridge", "--minutes", "0.75",
              "--out", out, "--overwrite")
    assert res.exit_code == 0, res.output
    assert '"minutes": 0.75' in (out / "config.json").read_text() and '"written_by"' in (out / "config.json").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pm"]  # no .old / .tmp / lock left beside it


# --------------------------------------------------------------------------- concurrent claims
def _race(fn, n=2):
    barrier = threading.Barrier(n)
    results: list[object] = [None] * n

    def run(i):
        try:
            fn(i, barrier)
            results[i] = "ok"
        except OutputError as err:
            results[i] = err

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def test_two_concurrent_claims_of_one_file_exactly_one_wins(tmp_path):
    """Both checked `target` was free, both wrote; old code os.replace'd twice and lost one result."""
    target = tmp_path / "recon.edf"

    def claim(i, barrier):
        with atomic_path(target) as tmp:
            tmp.write_text(f"writer {i}")
            barrier.wait()  # both finished writing before either publishes

    results = _race(claim)
    assert sorted(r == "ok" for r in results) == [False, True], results
    loser = next(r for r in results if r != "ok")
    assert "another process" in str(loser)
    winner = results.index("ok")
    assert target.read_text() == f"writer {winner}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["recon.edf"]


def test_two_concurrent_claims_of_one_folder_exactly_one_wins(tmp_path):
    target = tmp_path / "pm"

    def claim(i, barrier):
        with atomic_dir(target, overwrite=False) as tmp:
            (tmp / "config.json").write_text(f"writer {i}")
            barrier.wait()

    results = _race(claim)
    assert sorted(r == "ok" for r in results) == [False, True], results
    assert (target / "config.json").read_text() == f"writer {results.index('ok')}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pm"]


# --------------------------------------------------------------------------- disk full, read-only
def test_disk_full_checked_before_import(tmp_path, monkeypatch):
    """import used to start writing HDF5 onto a full disk (h5py segfaulted); now exit 5 first."""
    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda p: real(p)._replace(free=1000))
    res = cli("import", EXAMPLE_EDF, "--out", tmp_path / "s.h5")
    one_error_line(res, 5, "not enough free space")
    assert list(tmp_path.iterdir()) == []


def test_disk_full_while_writing_is_one_line(bids, tmp_path, monkeypatch):
    """ENOSPC raised by the write itself (space was checked, then the disk filled up): exit 5, no temp left."""
    import pathlib

    real = pathlib.Path.write_text

    def full(self, *a, **k):
        if ".ieegrecon-" in self.name:  # ieegrecon's temporary: the disk fills up while writing it
            real(self, "half")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, *a, **k)

    monkeypatch.setattr(pathlib.Path, "write_text", full)
    el = next((bids / "sub-01" / "ses-01" / "ieeg").glob("*_electrodes.tsv"))
    out = tmp_path / "out"
    out.mkdir()
    res = cli("map", el, "--out", out / "regions.tsv")
    one_error_line(res, 5, "no space left", "regions.tsv")
    assert list(out.iterdir()) == []


def test_read_only_output_folder_refused_before_computing(tmp_path, monkeypatch, no_compute):
    """Root ignores chmod, so the read-only folder is simulated by os.access (what check_writable asks)."""
    ro = tmp_path / "ro"
    ro.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **k: False if Path(p) == ro else real(p, mode, **k))
    res = cli("calibrate", EXAMPLE_BIDS / "sub-01" / "ses-01", "--method", "ridge", "--minutes", "0.5",
              "--out", ro / "pm")
    one_error_line(res, 5, "permission denied", str(ro))
    res = cli("import", EXAMPLE_EDF, "--out", ro / "s.h5")
    one_error_line(res, 5, "permission denied")
    assert list(ro.iterdir()) == []


def test_read_only_file_system_while_writing_is_one_line(tmp_path):
    """EROFS from the write itself (a remount after the check): OutputError naming the file, temp removed."""
    target = tmp_path / "x.json"
    with pytest.raises(OutputError, match="read-only file system"):
        with atomic_path(target):
            raise OSError(errno.EROFS, "Read-only file system")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- SIGTERM, stale temporaries
_SLOW_IMPORT = """
import sys, time
import ieegrecon.io.store as store
real = store._write_part
def slow(*a, **k):
    real(*a, **k)
    open(sys.argv[1], "w").close()  # the temporary store is half written: tell the test
    time.sleep(60)
store._write_part = slow
from ieegrecon.cli import app
app(sys.argv[2:], prog_name="ieegrecon")
"""


def test_sigterm_exits_143_and_leaves_no_temporary(tmp_path):
    """A real process killed mid-write (as `timeout`/Slurm do): exit 143, old output intact, no temp file.

    The write is slowed down (``_write_part`` sleeps once the temporary store
    is half written) so that the signal surely arrives mid-write.
    """
    out = tmp_path / "out"
    out.mkdir()
    store = out / "s.h5"
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    first = subprocess.run([sys.executable, "-m", "ieegrecon", "import", str(EXAMPLE_EDF), "--out", str(store)],
                           env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    old = sha256_file(store)
    flag = tmp_path / "writing"
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_IMPORT, str(flag), "import", str(EXAMPLE_EDF),
                             "--out", str(store), "--overwrite"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not flag.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert flag.exists(), proc.communicate()
    assert [p for p in out.iterdir() if p.name.endswith(".tmp")]  # mid-write indeed
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "terminated" in err and "Traceback" not in err
    assert [p.name for p in out.iterdir()] == ["s.h5"] and sha256_file(store) == old


def test_stale_temporaries_of_dead_processes_are_removed(tmp_path):
    from ieegrecon.io.atomic import HOST

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".x.edf.ieegrecon-{HOST}-{dead.pid}-00ff.tmp"
    stale.write_bytes(b"half")
    stale_dir = tmp_path / f".pm.ieegrecon-{HOST}-{dead.pid}-0a0b.tmp"
    stale_dir.mkdir()
    (stale_dir / "config.json").write_text("{}")
    alive = tmp_path / f".y.edf.ieegrecon-{HOST}-{os.getppid()}-00aa.tmp"  # a live process: kept
    alive.write_bytes(b"in progress")
    other_host = tmp_path / f".z.edf.ieegrecon-{HOST}x-{dead.pid}-00bb.tmp"  # another machine's: kept
    other_host.write_bytes(b"written from a cluster node")
    foreign = tmp_path / ".notes.txt.tmp"  # not ieegrecon's pattern: never touched
    foreign.write_text("mine")
    with atomic_path(tmp_path / "new.json") as tmp:
        tmp.write_text("{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, other_host.name, foreign.name,
                                                                 "new.json"])


def test_sigterm_between_the_renames_of_a_folder_replacement_keeps_a_model(tmp_path, monkeypatch):
    """A termination while an old patient model is swapped for a new one never loses both."""
    import ieegrecon.io.atomic as atomic
    from ieegrecon.cli.app import Terminated

    target = tmp_path / "pm"
    target.mkdir()
    (target / "config.json").write_text("old")
    real_rename, calls = os.rename, []

    def rename(a, b):
        calls.append((a, b))
        real_rename(a, b)
        if len(calls) == 1:  # the signal arrives right after the old model was moved aside
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(atomic.os, "rename", rename)
    old_handler = signal.signal(signal.SIGTERM, lambda *a: (_ for _ in ()).throw(Terminated()))
    try:
        with pytest.raises(Terminated):
            with atomic.atomic_dir(target, overwrite=True) as tmp:
                (tmp / "config.json").write_text("new")
    finally:
        signal.signal(signal.SIGTERM, old_handler)
    assert (target / "config.json").read_text() == "new"  # both renames ran before the signal was delivered
    monkeypatch.undo()
    atomic.clean_stale_temps(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pm"]


# --------------------------------------------------------------------------- option values
def test_check_option_names_the_parameter(bids):
    """The library names the parameter (tests/test_checks.py); the CLI shows the flag."""
    from ieegrecon._checks import check_option
    from ieegrecon.errors import UsageError

    assert check_option("method", "a", ("a", "b")) == "a"
    with pytest.raises(UsageError) as err:
        check_option("method", "x", ("a", "b"))
    assert str(err.value) == ("Invalid value for the 'method' parameter: allowed values are 'a', 'b', "
                              "but got 'x' instead.")
    el = next((bids / "sub-01" / "ses-01" / "ieeg").glob("*_electrodes.tsv"))
    line = one_error_line(cli("map", el, "--json", "--atlas", "nope"), 2, "Invalid value for --atlas:", "'nope'")
    assert "parameter" not in line


def test_calibrate_never_overwrites_the_default_pretrained_model(tmp_path, monkeypatch):
    """The shipped model used when --model is not given is an input too (here a copy stands in for it)."""
    from ieegrecon.workflow import factory

    shipped = tmp_path / "cast-sim9"
    shutil.copytree(ROOT / "models" / "cast-sim9", shipped)
    monkeypatch.setattr(factory, "default_model", lambda method: shipped if method == "cast" else None)
    before = sha256_file(shipped / "model.safetensors")
    res = cli("calibrate", EXAMPLE_BIDS / "sub-01" / "ses-01", "--method", "cast", "--minutes", "1",
              "--out", shipped, "--overwrite")
    assert res.exit_code == 5, res.output
    assert "is one of the inputs" in res.stderr
    assert sha256_file(shipped / "model.safetensors") == before


def test_a_stale_lock_taken_over_meanwhile_is_not_removed(tmp_path, monkeypatch):
    """Two waiters find the same dead pid; the first takes the lock: the second must not delete that live lock."""
    import ieegrecon.io.atomic as atomic

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    target = tmp_path / "pm"
    lock = tmp_path / f".pm{atomic.LOCK_SUFFIX}"
    lock.write_text(str(dead.pid))
    live = os.getppid()
    real_alive = atomic.pid_alive

    def alive(pid):
        if pid == dead.pid and lock.read_text() == str(dead.pid):  # the other waiter wins the race right now
            lock.unlink()
            lock.write_text(str(live))
        return real_alive(pid)

    monkeypatch.setattr(atomic, "pid_alive", alive)
    with pytest.raises(OutputError, match=f"pid {live}"):
        with atomic.folder_lock(target, wait_s=0.3):
            pass
    assert lock.read_text() == str(live)  # the live owner still holds its lock
