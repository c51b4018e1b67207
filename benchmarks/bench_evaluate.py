"""Wall time of ``ieegrecon evaluate`` on a 3-subject, 3-minute simulated cohort (development seed) on 2 cores.

Usage::

    .venv/bin/python benchmarks/bench_evaluate.py [--cohort DIR] [--seed 12] [--world v2]
        [--methods ridge,ridge0,ridge-cv,ridge-prior,ridge-gauss] [--xs-ridge]

Simulates the cohort (``ieegrecon simulate --subjects 3 --minutes 3``; skipped
when ``--cohort`` already holds one), optionally pretrains ``xs-ridge``
leave-one-subject-out (``ieegrecon pretrain --method xs-ridge --loso``), then
runs ``ieegrecon evaluate`` at 0.25, 0.5 and 1 min with the oracle and the
3-min ridge limit, each step as its own process with BLAS limited to 2
threads. Prints the wall and CPU time of every step. Target (issue #17):
``evaluate`` within 10 minutes on 2 cores. Development seeds only (< 1000).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The baselines ``evaluate`` runs by default in this benchmark (xs-ridge needs pretraining: ``--xs-ridge``).
METHODS = "ridge,ridge0,ridge-cv,ridge-prior,ridge-gauss"
TARGET_S = 600.0


def _step(name: str, args: list[str]) -> float:
    """Run ``python -m ieegrecon ARGS`` with 2 BLAS threads; print and return its wall time."""
    env = {**os.environ, "OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2", "MKL_NUM_THREADS": "2",
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "ieegrecon", *args], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"{name}: exit {res.returncode}, {wall:.1f} s wall, {cpu:.1f} s CPU")
    if res.returncode:
        print(res.stderr[-2000:])
        raise SystemExit(res.returncode)
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cohort", type=Path, default=None, help="simulated cohort (made here when absent)")
    ap.add_argument("--seed", type=int, default=12, help="development master seed, < 1000")
    ap.add_argument("--world", default="v2")
    ap.add_argument("--methods", default=METHODS)
    ap.add_argument("--xs-ridge", action="store_true", help="also pretrain (LOSO) and evaluate xs-ridge")
    ap.add_argument("--layout", type=Path, default=ROOT.parent / "shared" / "data" / "ds004752")
    a = ap.parse_args()
    if not 0 <= a.seed < 1000:
        ap.error("--seed must be a development seed (0-999): the sealed cohort (docs/evaluation.md) is never used")
    work = Path(tempfile.mkdtemp(prefix="bench_evaluate_"))
    cohort = a.cohort or work / "cohort"
    if not (cohort / "dataset_description.json").exists():
        _step("simulate 3 subjects x 2 sessions x 3 min",
              ["simulate", "--layout", str(a.layout), "--subjects", "3", "--minutes", "3", "--seed", str(a.seed),
               "--world", a.world, "--out", str(cohort)])
    methods, extra = a.methods, []
    if a.xs_ridge:
        _step("pretrain xs-ridge --loso (1 min per session)",
              ["pretrain", str(cohort), "--method", "xs-ridge", "--loso", "--max-minutes", "1",
               "--out", str(work / "xs")])
        methods += ",xs-ridge"
        extra = ["--pretrained", f"xs-ridge={work / 'xs' / 'folds'}"]
    wall = _step(f"evaluate {methods} at 0.25,0.5,1 min (+ oracle, 3-min ridge limit)",
                 ["evaluate", str(cohort), "--methods", methods, "--calibration-minutes", "0.25,0.5,1",
                  "--limit-minutes", "3", "--out", str(work / "results"), *extra])
    print(f"evaluate: {wall:.1f} s wall ({'within' if wall <= TARGET_S else 'OVER'} the {TARGET_S:.0f} s target); "
          f"results in {work / 'results'}")


if __name__ == "__main__":
    main()
