"""Archives on dask.distributed (ieegrecon batch): one task per recording, resumable, failures with exit codes."""

from __future__ import annotations

import json
import os
from contextlib import contextmanager

import numpy as np
import pytest
from typer.testing import CliRunner

distributed = pytest.importorskip("distributed")

from ieegrecon.cli import app  # noqa: E402
from ieegrecon.io.edf import write_edf  # noqa: E402
from ieegrecon.recording import sha256_file  # noqa: E402
from ieegrecon.workflow import batch, manifest as mf  # noqa: E402
from ieegrecon.workflow import reconstruct  # noqa: E402

SFREQ = 200.0


@pytest.fixture(scope="module")
def patient_model(linear_session, tmp_path_factory):
    from ieegrecon.models.io import load_patient_model
    from ieegrecon.workflow.calibrate import calibrate

    out = tmp_path_factory.mktemp("batchpm") / "ridge"
    calibrate(linear_session, method="ridge", minutes=1.0, out=out)
    return out, load_patient_model(out)[0].scalp_names


@pytest.fixture(scope="module")
def client():
    """Two single-threaded workers inside this process (no cluster, no subprocess)."""
    with batch.local_cluster(2, processes=False) as c, distributed.Client(c) as cl:
        yield cl


def _scalp(path, names, seconds=20.0, seed=0):
    rng = np.random.default_rng(seed)
    write_edf(path, rng.normal(scale=20e-6, size=(len(names), int(seconds * SFREQ))), SFREQ, names)
    return path


@pytest.fixture()
def archive(patient_model, tmp_path):
    """Three good recordings, one unreadable (exit 3), one without the model's channels (exit 4)."""
    _, names = patient_model
    src = tmp_path / "archive"
    src.mkdir()
    good = [_scalp(src / f"rec{k}.edf", names, seed=k) for k in range(3)]
    bad = src / "broken.edf"
    bad.write_bytes(b"not an EDF at all")
    missing = _scalp(src / "fewchannels.edf", names[:3], seed=9)
    return good, bad, missing


@contextmanager
def _counting(monkeypatch):
    calls = []
    real = reconstruct.reconstruct_file

    def counted(path, *a, **kw):
        calls.append(os.path.basename(path))
        return real(path, *a, **kw)

    monkeypatch.setattr(reconstruct, "reconstruct_file", counted)
    yield calls
    monkeypatch.setattr(reconstruct, "reconstruct_file", real)


def test_batch_collects_failures_matches_serial_and_resumes(patient_model, archive, client, tmp_path, monkeypatch):
    model, _ = patient_model
    good, bad, missing = archive
    out = tmp_path / "out"
    with _counting(monkeypatch) as calls:
        summary = batch.run_batch([*good, bad, missing], model, out, client=client)
    assert sorted(calls) == sorted(p.name for p in [*good, bad, missing])
    assert summary.exit_code == 4  # the worst of exit 3 (unreadable) and exit 4 (missing channels)
    codes = {os.path.basename(t.input): t.exit_code for t in summary.failed}
    assert codes == {"broken.edf": 3, "fewchannels.edf": 4}
    saved = json.loads((out / mf.SUMMARY_NAME).read_text())
    assert saved["exit_code"] == 4 and saved["done"] == 3 and saved["failed"] == 2
    state = mf.read_state(out)
    assert {os.path.basename(k): t.status for k, t in state.items()} == {
        "rec0.edf": "done", "rec1.edf": "done", "rec2.edf": "done", "broken.edf": "failed",
        "fewchannels.edf": "failed"}
    assert not (out / mf.JOURNAL_NAME).exists() and not list(out.glob(".*.tmp"))
    # bit-identical to the serial path
    from ieegrecon.models.io import load_patient_model

    mdl, pm = load_patient_model(model)
    serial = tmp_path / "serial.edf"
    reconstruct.reconstruct_file(good[1], mdl, pm, serial)
    assert sha256_file(serial) == sha256_file(out / "rec1_recon.edf") == state[str(good[1])].output_sha256

    # rerun: finished outputs are not touched, failed ones are retried
    mtimes = {p: p.stat().st_mtime_ns for p in out.glob("*_recon.edf")}
    with _counting(monkeypatch) as calls:
        again = batch.run_batch([*good, bad, missing], model, out, client=client)
    assert sorted(calls) == ["broken.edf", "fewchannels.edf"]
    assert again.skipped == 3 and again.ran == 2 and again.exit_code == 4
    assert {p: p.stat().st_mtime_ns for p in out.glob("*_recon.edf")} == mtimes

    # a changed input (or a deleted output) is done again, replacing the batch's own output
    good[0].unlink()
    _scalp(good[0], patient_model[1], seed=42)
    (out / "rec2_recon.edf").unlink()
    with _counting(monkeypatch) as calls:
        third = batch.run_batch(good, model, out, client=client)
    assert sorted(calls) == ["rec0.edf", "rec2.edf"] and third.exit_code == 0
    assert mf.read_state(out)[str(good[0])].input_sha256 == sha256_file(good[0])


def test_batch_refuses_collisions_and_foreign_outputs_before_any_work(patient_model, archive, client, tmp_path,
                                                                      monkeypatch):
    from ieegrecon.errors import UsageError

    model, names = patient_model
    good, _, _ = archive
    other = tmp_path / "other"
    other.mkdir()
    twin = _scalp(other / "rec0.edf", names)
    with pytest.raises(UsageError, match="would both write"):
        batch.run_batch([good[0], twin], model, tmp_path / "o1", client=client)
    out = tmp_path / "o2"
    out.mkdir()
    (out / "rec1_recon.edf").write_bytes(b"someone else's file")
    with _counting(monkeypatch) as calls:
        summary = batch.run_batch(good[:2], model, out, client=client, overwrite=True)
    assert calls == ["rec0.edf"]  # the foreign file is refused before any work, even with overwrite
    assert [t.exit_code for t in summary.failed] == [5] and summary.exit_code == 5
    assert (out / "rec1_recon.edf").read_bytes() == b"someone else's file"


def test_journal_of_a_killed_run_is_replayed(tmp_path):
    tasks = [mf.Task(str(tmp_path / f"in{k}.edf"), str(tmp_path / f"in{k}_recon.edf")) for k in range(2)]
    mf.write_state(tmp_path, tasks)
    tasks[0].update({"status": "done", "input_sha256": "ab", "output_sha256": "cd", "seconds": 1.5})
    mf.append_journal(tmp_path, tasks[0])
    with open(tmp_path / mf.JOURNAL_NAME, "a") as f:
        f.write('{"input": "cut sh')  # the driver was killed in the middle of a line
    state = mf.read_state(tmp_path)
    assert state[tasks[0].input].status == "done" and state[tasks[0].input].seconds == 1.5
    assert state[tasks[1].input].status == "pending"


def test_cli_batch_manifest_summary_and_worst_exit_code(patient_model, archive, client, tmp_path, monkeypatch):
    model, _ = patient_model
    good, bad, _ = archive
    tsv = tmp_path / "archive" / "manifest.tsv"
    tsv.write_text("input\toutput\n# a comment\nrec0.edf\t\nbroken.edf\t\nrec1.edf\tnamed/r1.edf\n")
    (tmp_path / "archive" / "named").mkdir()

    @contextmanager
    def in_process(workers, scheduler, given):
        assert workers == 2 and scheduler is None
        yield client, "test client"

    monkeypatch.setattr(batch, "_client", in_process)
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["batch", str(tsv), "--model", str(model), "--out", str(out), "--workers", "2",
                                   "--json"])
    assert res.exit_code == 3, res.output
    d = json.loads(res.stdout)
    assert d["done"] == 2 and d["failed"] == 1 and d["failures"][0]["exit_code"] == 3
    assert (out / "rec0_recon.edf").is_file() and (tmp_path / "archive" / "named" / "r1.edf").is_file()
    assert "ieegrecon: error:" in res.stderr and "broken.edf" in res.stderr
    rows = (out / mf.STATE_NAME).read_text().splitlines()
    assert rows[0].split("\t") == list(mf.COLUMNS) and len(rows) == 4


def test_input_manifest_paths_and_errors(tmp_path):
    from ieegrecon.errors import InputError

    tsv = tmp_path / "m.tsv"
    tsv.write_text("input\treport\n\n# skipped\nsub/a.edf\trep/a\n")
    assert mf.read_inputs(tsv) == [{"input": str(tmp_path / "sub" / "a.edf"), "output": "",
                                    "report": str(tmp_path / "rep" / "a")}]
    tsv.write_text("file\na.edf\n")
    with pytest.raises(InputError, match="'input' column"):
        mf.read_inputs(tsv)
    tsv.write_text("input\n")
    with pytest.raises(InputError, match="lists no input"):
        mf.read_inputs(tsv)


def _worker_environ():
    import os as _os

    return {k: _os.environ.get(k) for k in ("MALLOC_TRIM_THRESHOLD_", "OMP_NUM_THREADS", "OMP_WAIT_POLICY")}


def test_local_cluster_workers_keep_glibc_adaptive_malloc(monkeypatch):
    """dask's default MALLOC_TRIM_THRESHOLD_ made every task 1.7x slower: workers must start without it."""
    for var in [*batch.WORKER_ENVIRON, "PYTHONHASHSEED"]:  # dask's nanny also sets them here: restore after
        if var in os.environ and var != "MALLOC_TRIM_THRESHOLD_":
            monkeypatch.setenv(var, os.environ[var])
        else:
            monkeypatch.delenv(var, raising=False)
    with batch.local_cluster(1) as cluster, distributed.Client(cluster) as cl:
        (env,) = cl.run(_worker_environ).values()
    assert env == {"MALLOC_TRIM_THRESHOLD_": None, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
                   "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
