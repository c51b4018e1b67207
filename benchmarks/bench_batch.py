"""Archive throughput on dask (``ieegrecon batch``): 2 workers vs 1, bit-identity, a killed worker, a rerun.

Usage: ``python benchmarks/bench_batch.py [--n 8] [--minutes 10] [--workers 2] [--method cast]
[--out DIR]``

1. Calibrates a patient model on the shipped example session
   (``examples/calibration/sub-01/ses-01``, SIMULATED; ``cast`` starts from
   ``models/cast-sim9``) and writes ``--n`` synthetic scalp EDFs of
   ``--minutes`` each (1/f noise, the model's scalp channels, 200 Hz).
2. Serial path: :func:`ieegrecon.workflow.reconstruct.reconstruct_file` on
   each input in this process (what ``ieegrecon reconstruct A B C`` does);
   sha256 of every EDF.
3. :func:`ieegrecon.workflow.batch.run_batch` on a ``LocalCluster`` of 1
   worker process, then of ``--workers`` processes (one thread each):
   start-up (workers importing ieegrecon) and archive wall times, throughput
   ratio, and whether every EDF is bit-identical to the serial one.
4. Kill test: a fresh run on ``--workers`` processes in which one worker
   process is SIGKILLed once the first task has finished; then a rerun.
   Prints what the first run completed and how often the scheduler ran each
   task (only the task lost with the worker may run twice), what the rerun
   ran (finished files must not run again), and checks every output (pyedflib reads it, sha256
   equal to the serial output).

Prints figures; not a test. Wall times depend on the load of the machine.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_reconstruct import synthetic_scalp  # noqa: E402

from ieegrecon.io.edf import write_edf  # noqa: E402
from ieegrecon.recording import sha256_file  # noqa: E402

SESSION = ROOT / "examples" / "calibration" / "sub-01" / "ses-01"


def make_archive(folder: Path, names: list[str], n: int, minutes: float) -> list[Path]:
    """``n`` scalp EDFs of ``minutes`` each (seeds 0..n-1)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(n):
        p = folder / f"rec{k:02d}.edf"
        write_edf(p, synthetic_scalp(minutes, seed=k, names=names), 200.0, names)
        paths.append(p)
    return paths


def serial(inputs: list[Path], model: Path, out: Path) -> tuple[float, dict[str, str]]:
    """The serial library path, in this process; returns seconds and sha256 by input name."""
    from ieegrecon.models.io import load_patient_model
    from ieegrecon.workflow.reconstruct import reconstruct_file

    out.mkdir(parents=True)
    t0 = time.perf_counter()
    mdl, pm = load_patient_model(model)
    for p in inputs:
        reconstruct_file(p, mdl, pm, out / f"{p.stem}_recon.edf", forbidden=tuple(inputs))
    return time.perf_counter() - t0, {p.stem: sha256_file(out / f"{p.stem}_recon.edf") for p in inputs}


def on_cluster(inputs: list[Path], model: Path, out: Path, workers: int) -> tuple[float, float, dict[str, str]]:
    """run_batch on a new LocalCluster of ``workers`` processes; seconds to start it (workers importing
    ieegrecon), seconds of the archive itself, and sha256 by input name."""
    from distributed import Client

    from ieegrecon.workflow.batch import local_cluster, run_batch

    t0 = time.perf_counter()
    with local_cluster(workers) as cluster, Client(cluster) as client:
        client.run(_warm)
        t1 = time.perf_counter()
        run_batch(inputs, model, out, client=client)
        t2 = time.perf_counter()
    return t1 - t0, t2 - t1, {p.stem: sha256_file(out / f"{p.stem}_recon.edf") for p in inputs
                              if (out / f"{p.stem}_recon.edf").exists()}


def _warm() -> None:
    """What a worker imports for its first task (so that start-up is timed apart from the archive)."""
    import importlib

    for name in ("ieegrecon.models.cast", "ieegrecon.workflow.reconstruct"):
        importlib.import_module(name)


def _runs_per_key(dask_scheduler) -> dict[str, int]:
    """How many times the scheduler sent each task to a worker (from its transition log)."""
    runs: dict[str, int] = {}
    for entry in dask_scheduler.transition_log:
        key, finish = str(entry[0]), entry[2]
        if finish == "processing":
            runs[key] = runs.get(key, 0) + 1
    return runs


def kill_and_rerun(inputs: list[Path], model: Path, out: Path, workers: int, reference: dict[str, str]) -> None:
    """SIGKILL one worker process after the first finished task; rerun; check every output."""
    import pyedflib
    from distributed import Client

    from ieegrecon.workflow.batch import local_cluster, run_batch

    killed, done_before = [], []
    index = {str(p.resolve()): k for k, p in enumerate(inputs)}
    with local_cluster(workers, silence_logs=logging.CRITICAL) as cluster, Client(cluster) as client:
        pids = list(client.run(os.getpid).values())

        def progress(done: int, total: int, task) -> None:
            if not killed:
                done_before.append(index[task.input])
                busy = [a for a, ts in client.processing().items() if ts]
                victim = client.run(os.getpid, workers=busy[:1])
                pid = next(iter(victim.values()), pids[-1])
                threading.Timer(0.5, os.kill, (pid, signal.SIGKILL)).start()  # mid-task, not between tasks
                killed.append(pid)

        t0 = time.perf_counter()
        first = run_batch(inputs, model, out, client=client, progress=progress)
        t1 = time.perf_counter() - t0
        runs = client.run_on_scheduler(_runs_per_key)
    d1 = first.to_dict()
    again = [int(key.split("-")[2]) for key, v in runs.items() if v > 1]
    print(f"kill test, run 1: killed worker pid {killed[0]} after the first finished task; "
          f"{d1['done']} done, {d1['failed']} failed, {t1:.1f} s; task runs {sum(runs.values())} for "
          f"{len(runs)} tasks; run again: {len(again)} (finished before the kill: "
          f"{len(set(again) & set(done_before))})"
          + "".join(f"\n  failed: {Path(f['input']).name} exit {f['exit_code']}: {f['error'][:120]}"
                    for f in d1["failures"]))
    t0 = time.perf_counter()
    second = run_batch(inputs, model, out, workers=workers)
    d2 = second.to_dict()
    print(f"kill test, run 2 (rerun): ran {d2['ran']}, skipped {d2['skipped']} finished, {d2['done']} done, "
          f"{d2['failed']} failed, {time.perf_counter() - t0:.1f} s; duplicate work on finished files: "
          f"{d2['ran'] - (d1['total'] - d1['done'])}")
    bad = []
    for p in inputs:
        target = out / f"{p.stem}_recon.edf"
        try:
            with pyedflib.EdfReader(str(target)) as f:
                assert f.signals_in_file > 0
        except Exception as exc:  # noqa: BLE001
            bad.append(f"{target.name}: {exc}")
            continue
        if sha256_file(target) != reference[p.stem]:
            bad.append(f"{target.name}: differs from the serial output")
    leftovers = [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
    print(f"kill test: {len(inputs) - len(bad)} of {len(inputs)} outputs valid and identical to the serial path; "
          f"temporary files left: {len(leftovers)}" + "".join(f"\n  {b}" for b in bad))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=8, help="recordings")
    ap.add_argument("--minutes", type=float, default=10.0, help="minutes per recording")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--method", default="cast")
    ap.add_argument("--out", type=Path, default=None, help="working folder (default: a temporary one)")
    ap.add_argument("--no-kill", action="store_true", help="skip the kill test")
    args = ap.parse_args()
    from ieegrecon.models.io import load_patient_model
    from ieegrecon.workflow.calibrate import calibrate

    work = args.out or Path(tempfile.mkdtemp(prefix="bench_batch-"))
    model = work / "patient_model"
    t0 = time.perf_counter()
    calibrate(SESSION, method=args.method, minutes=1.0, out=model, overwrite=True)
    names = load_patient_model(model)[0].scalp_names
    inputs = make_archive(work / "archive", names, args.n, args.minutes)
    print(f"setup: {args.method} patient model ({len(names)} scalp channels), {args.n} x {args.minutes:g} min "
          f"EDFs in {time.perf_counter() - t0:.1f} s; cores: {os.cpu_count()}, load: {os.getloadavg()[0]:.2f}")
    t_ser, ref = serial(inputs, model, work / "serial")
    print(f"serial (reconstruct_file in one process): {t_ser:.1f} s")
    s_1, t_1, sha_1 = on_cluster(inputs, model, work / "w1", 1)
    s_n, t_n, sha_n = on_cluster(inputs, model, work / f"w{args.workers}", args.workers)
    same = sum(sha_1.get(k) == v == sha_n.get(k) for k, v in ref.items())
    print(f"LocalCluster 1 worker: {t_1:.1f} s (+{s_1:.1f} s start-up); {args.workers} workers: {t_n:.1f} s "
          f"(+{s_n:.1f} s start-up); throughput x{t_1 / t_n:.2f}, with start-up x{(s_1 + t_1) / (s_n + t_n):.2f} "
          f"(load now {os.getloadavg()[0]:.2f})")
    print(f"bit-identical to the serial path (sha256 of EDF): {same} of {len(ref)}")
    if not args.no_kill:
        kill_and_rerun(inputs, model, work / "killed", args.workers, ref)


if __name__ == "__main__":
    main()
