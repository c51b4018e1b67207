"""Reconstruct a whole archive on dask.distributed: one task per recording, resumable.

:func:`run_batch` plans the archive (:mod:`ieegrecon.workflow.manifest`),
runs :func:`reconstruct_task` for every recording that is not finished on a
dask cluster (a ``LocalCluster`` of ``workers`` single-threaded processes, an
existing scheduler, or a ``client`` given by the caller) and records each
finished task as it arrives. Each task calls the one library path,
:func:`ieegrecon.workflow.reconstruct.reconstruct_file`, whose writers are
atomic: a killed worker loses its own task only (dask runs it again on
another worker) and never leaves a partial output.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from ..errors import IeegreconError, OutputError, UsageError
from ..io.atomic import output_errors, write_json_atomic
from ..recording import sha256_file
from . import manifest as mf
from .manifest import Task

#: ``progress(n_finished, n_total, task)`` after each task (skipped ones included).
BatchProgress = Callable[[int, int, Task], None]

_MODELS: dict[tuple[str, str, int], tuple[Any, Any]] = {}


@dataclass
class BatchSummary:
    """What an archive run did (also written as ``batch_summary.json``)."""

    model: str
    model_sha256: str
    tasks: list[Task]
    ran: int = 0
    skipped: int = 0
    seconds: float = 0.0
    workers: str = ""
    manifest: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[Task]:
        """The tasks that failed."""
        return [t for t in self.tasks if t.status == "failed"]

    @property
    def exit_code(self) -> int:
        """The worst exit code of the failures (0 when none failed)."""
        return max((t.exit_code for t in self.failed), default=0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary: counts, worst exit code, the failures."""
        return {"model": self.model, "model_sha256": self.model_sha256, "total": len(self.tasks),
                "done": sum(t.status == "done" for t in self.tasks), "ran": self.ran, "skipped": self.skipped,
                "failed": len(self.failed), "exit_code": self.exit_code, "seconds": round(self.seconds, 3),
                "workers": self.workers, "manifest": self.manifest, "notes": self.notes,
                "failures": [{"input": t.input, "exit_code": t.exit_code, "error": t.error} for t in self.failed]}


def run_batch(inputs: list[dict[str, str]] | list[str | Path], model: str | Path, out: str | Path, *,
              report: str | Path | None = None, overwrite: bool = False, anonymize: bool = False, samples: int = 0,
              workers: int = 1, scheduler: str | None = None, client: Any = None,
              progress: BatchProgress | None = None) -> BatchSummary:
    """Reconstruct every input with a patient model, one dask task per recording.

    Parameters
    ----------
    inputs : list of dict | list of path-like
        Scalp EEG files, or rows of an input manifest (:func:`~ieegrecon.workflow.manifest.read_inputs`:
        ``input`` and optional ``output``, ``report``).
    model : path-like
        Patient model folder.
    out : path-like
        Output folder: ``<stem>_recon.edf`` per input (unless a row names its output), and the
        batch state ``batch_manifest.tsv`` and ``batch_summary.json``.
    report : path-like | None
        Folder of per-input report folders (``report/<stem>/``).
    overwrite : bool
        Replace existing outputs that no earlier run of this batch wrote (only ieegrecon's own).
    anonymize, samples
        As :func:`~ieegrecon.workflow.reconstruct.reconstruct_file`.
    workers : int
        Worker processes of a new ``LocalCluster`` (one thread each).
    scheduler : str | None
        Address of a running dask scheduler to use instead (e.g. ``tcp://host:8786``).
    client : distributed.Client | None
        A client to use instead of both (tests: ``LocalCluster(processes=False)``).
    progress : callable | None
        ``progress(n_finished, n_total, task)``.

    Returns
    -------
    BatchSummary
        ``exit_code`` is the worst exit code of the failed tasks.

    Raises
    ------
    UsageError, ModelFileError, OutputError
        Before any task runs: colliding outputs, an invalid model, an unwritable folder.
    """
    from ..models.io import load_patient_model
    from .reconstruct import check_calibrated

    t0 = time.perf_counter()
    out = Path(out)
    mdl, pm = load_patient_model(model)
    check_calibrated(mdl, pm)
    model_sha = pm.sha256 or sha256_file(Path(model) / "model.safetensors")
    tasks = plan_tasks(inputs, out, report, model_sha)
    with output_errors(out):
        out.mkdir(parents=True, exist_ok=True)
    todo = _to_run(tasks, mf.read_state(out), overwrite, model)
    mf.write_state(out, tasks)
    skipped = sum(k not in todo and t.status == "done" for k, t in enumerate(tasks))
    summary = BatchSummary(str(model), model_sha, tasks, ran=len(todo), skipped=skipped,
                           manifest=str(out / mf.STATE_NAME))
    done = [0]

    def finished(task: Task) -> None:
        done[0] += 1
        if progress is not None:
            progress(done[0], len(tasks), task)

    for k, t in enumerate(tasks):
        if k not in todo:
            finished(t)
    try:
        if todo:
            common = {"model": str(Path(model).resolve()), "anonymize": anonymize, "samples": samples,
                      "driver_pid": os.getpid()}
            with _client(workers, scheduler, client) as (cl, where):
                summary.workers = where
                _run_on(cl, [tasks[k] for k in todo], common, out, finished)
    finally:
        summary.seconds = time.perf_counter() - t0
        mf.write_state(out, tasks)
        mf.clear_journal(out)
        write_json_atomic(summary.to_dict(), out / mf.SUMMARY_NAME, overwrite=True)
    return summary


def plan_tasks(inputs: list[dict[str, str]] | list[str | Path], out: Path, report: str | Path | None,
               model_sha: str) -> list[Task]:
    """One :class:`Task` per input, outputs named after the inputs; refuse collisions before any work.

    Raises
    ------
    UsageError
        An input listed twice, two tasks writing one output or report, an output that is an input.
    """
    rows = [r if isinstance(r, dict) else {"input": str(r)} for r in inputs]
    if not rows:
        raise UsageError("no input to reconstruct")
    tasks = []
    for r in rows:
        src = Path(r["input"]).resolve()
        dst = Path(r.get("output") or out / f"{src.stem}_recon.edf").resolve()
        rep = r.get("report") or ("" if report is None else str(Path(report) / src.stem))
        tasks.append(Task(str(src), str(dst), str(Path(rep).resolve()) if rep else "", model_sha256=model_sha))
    for attr in ("input", "output", "report"):
        seen: dict[str, str] = {}
        for t in tasks:
            key = getattr(t, attr)
            if key and key in seen:
                raise UsageError(f"inputs {seen[key]}, {t.input} would both write {key}: rename them or give "
                                 "each its own output in the manifest" if attr != "input"
                                 else f"{key} is listed twice")
            seen[key] = t.input
    inputs_set = {t.input for t in tasks}
    clash = next((t for t in tasks if t.output in inputs_set or t.report in inputs_set), None)
    if clash is not None:
        raise OutputError("is one of the inputs", clash.output if clash.output in inputs_set else clash.report)
    return tasks


def _to_run(tasks: list[Task], old: dict[str, Task], overwrite: bool, model: str | Path) -> list[int]:
    """The indices of the tasks to run now.

    Finished tasks (:func:`~ieegrecon.workflow.manifest.needs_run`) take their
    old record; the others' outputs are checked against the output policy
    (refused ones fail now, exit 5), except that what an earlier run of this
    batch wrote for a task is that task's to replace.
    """
    from .._checks import check_out_path

    todo = []
    for k, t in enumerate(tasks):
        prev = old.get(t.input)
        if prev is not None and prev.status == "done" and Path(t.input).is_file() and Path(t.output).is_file():
            report_done = not t.report or (Path(t.report) / "report.json").is_file()
            if not mf.needs_run(t, prev, sha256_file(t.input), sha256_file(t.output), report_done):
                t.update(asdict(prev))
                continue
        try:
            mine = prev is not None and prev.output == t.output
            check_out_path(t.output, overwrite=overwrite or mine, inputs=(t.input, model), kind="edf")
            if t.report:
                check_out_path(t.report, overwrite=overwrite or mine, inputs=(t.input, model), kind="report")
        except IeegreconError as err:
            t.update({"status": "failed", "exit_code": err.exit_code, "error": str(err)})
            continue
        t.update({"status": "pending", "exit_code": 0, "error": ""})
        todo.append(k)
    return todo


def _run_on(client: Any, tasks: list[Task], common: dict[str, Any], out: Path, finished: Callable) -> None:
    """Submit one future per task; record each result (journal, then progress) as it completes.

    A result is released from the cluster as soon as it is recorded: a worker
    killed later then holds nothing that dask would compute again.
    """
    from distributed import as_completed

    pending = {}
    for k, t in enumerate(tasks):
        fut = client.submit(reconstruct_task, {**common, "input": t.input, "output": t.output, "report": t.report},
                            key=f"ieegrecon-reconstruct-{k}-{os.getpid()}-{time.monotonic_ns()}", pure=False)
        pending[fut.key] = (fut, t)
    try:
        for fut in as_completed([f for f, _ in pending.values()]):
            t = pending.pop(fut.key)[1]
            if fut.status == "finished":
                t.update(fut.result())
            else:  # the worker died (KilledWorker after dask's retries) or the task could not run
                exc = fut.exception()
                t.update({"status": "failed", "exit_code": 1,
                          "error": f"worker failed: {type(exc).__name__}: {exc}; rerun to retry"})
            fut.release()
            mf.append_journal(out, t)
            finished(t)
    finally:
        for fut, _ in pending.values():
            fut.cancel()


@contextlib.contextmanager
def _client(workers: int, scheduler: str | None, client: Any) -> Iterator[tuple[Any, str]]:
    """The dask client to run on: the caller's, one joined to ``scheduler``, or a new LocalCluster's."""
    if client is not None:
        yield client, "client"
        return
    from distributed import Client

    if scheduler:
        with Client(scheduler) as cl:
            yield cl, scheduler
        return
    if workers < 1:
        raise UsageError(f"the 'workers' parameter must be at least 1, got {workers}")
    with local_cluster(workers) as cluster, Client(cluster) as cl:
        yield cl, f"LocalCluster({workers} processes x 1 thread)"


#: Environment of new worker processes, over dask's ``distributed.nanny.pre-spawn-environ``.
#: dask sets ``MALLOC_TRIM_THRESHOLD_=65536`` there, which turns off glibc's adaptive mmap
#: threshold: every large array is then mapped and zero-filled afresh, and a cast task ran
#: 1.7x slower (9.6 vs 5.7 s for 10 min, 2/3 of the extra in the kernel; docs/scale-out.md).
#: ``None`` removes a variable; threads stay at one per worker, waiting passively.
WORKER_ENVIRON: dict[str, str | None] = {
    "MALLOC_TRIM_THRESHOLD_": None, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE",
}


@contextlib.contextmanager
def local_cluster(workers: int, **kwargs: Any) -> Iterator[Any]:
    """A ``distributed.LocalCluster`` of ``workers`` single-threaded processes started with :data:`WORKER_ENVIRON`.

    Parameters
    ----------
    workers : int
        Worker processes.
    **kwargs
        Passed to ``LocalCluster`` (over ``threads_per_worker=1, processes=True``).

    Yields
    ------
    distributed.LocalCluster
    """
    import dask
    from distributed import LocalCluster

    environ = {f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in WORKER_ENVIRON.items()}
    # no dashboard; the scheduler's HTTP endpoints on a free port (its default, 8787, may be taken)
    options = {"threads_per_worker": 1, "processes": True, "dashboard_address": None,
               "scheduler_kwargs": {"dashboard": False, "dashboard_address": ":0"},
               "silence_logs": logging.ERROR, **kwargs}
    with dask.config.set(environ), LocalCluster(n_workers=workers, **options) as cluster:
        yield cluster


# --------------------------------------------------------------------------- the task, on a worker
def reconstruct_task(spec: dict[str, Any]) -> dict[str, Any]:
    """Reconstruct one recording on a dask worker; never raises for a user error.

    Parameters
    ----------
    spec : dict
        ``input``, ``output``, ``report`` ('' for none), ``model`` (folder), ``anonymize``,
        ``samples``, ``driver_pid``.

    Returns
    -------
    dict
        The :class:`Task` fields to update: ``status`` (``done``/``failed``), ``exit_code``
        (that of the :class:`~ieegrecon.errors.IeegreconError`, 1 for any other exception), ``error``,
        ``seconds``, ``input_sha256``, ``output_sha256``.
    """
    from . import reconstruct

    t0 = time.perf_counter()
    res: dict[str, Any] = {"status": "failed", "error": "", "output_sha256": ""}
    try:
        if os.path.isfile(spec["input"]):  # else reconstruct_file says what is wrong with it, as reconstruct does
            res["input_sha256"] = sha256_file(spec["input"])
        mdl, pm = _patient_model(spec["model"])
        single_threaded(spec["driver_pid"])  # after the model's imports (torch)
        # the driver checked the output policy before submitting; a retry after a killed worker
        # may find what that worker published, so the task replaces its own output
        reconstruct.reconstruct_file(spec["input"], mdl, pm, spec["output"], report_dir=spec["report"] or None,
                                     overwrite=True, forbidden=(spec["input"],), anonymize=spec["anonymize"],
                                     samples=spec["samples"])
        res.update(status="done", exit_code=0, output_sha256=sha256_file(spec["output"]))
    except IeegreconError as err:
        res.update(exit_code=err.exit_code, error=str(err))
    except OSError as exc:
        res.update(exit_code=3 if not Path(spec["input"]).is_file() else 1,
                   error=f"{spec['input']}: {exc.strerror or exc}")
    except Exception as exc:  # noqa: BLE001 - reported as the task's internal error (exit 1)
        res.update(exit_code=1, error=f"internal error: {type(exc).__name__}: {exc}")
    res["seconds"] = round(time.perf_counter() - t0, 3)
    return res


def _patient_model(folder: str) -> tuple[Any, Any]:
    """The patient model, loaded once per worker thread (and again when its weights change)."""
    from ..models.io import load_patient_model

    key = (folder, str(os.stat(Path(folder) / "model.safetensors").st_mtime_ns), threading.get_ident())
    if key not in _MODELS:
        _MODELS[key] = load_patient_model(folder)
    return _MODELS[key]


def single_threaded(driver_pid: int) -> None:
    """In a worker process (not the driver's), run BLAS, OpenMP and torch on one thread.

    N workers on N cores then do not oversubscribe them. A worker inside the
    driver's process (``LocalCluster(processes=False)``) leaves the settings alone.
    """
    if os.getpid() == driver_pid:
        return
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = "1"
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:
        pass
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
