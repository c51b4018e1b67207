"""Thread settings side by side: threads per operation against worker threads, per method.

Usage::

    python benchmarks/bench_threads.py [--minutes 10] [--methods ridge,cast,flow] [--workdir DIR]
        [--rounds 1] [--burner]

For each method, on the bundled calibration pair and a generated 19-channel
EDF of ``--minutes`` (``bench_memory.write_long_edf``), one process per run
(wall time with imports, peak RSS from :func:`os.wait4`):

- ``calibrate``: ``ieegrecon calibrate examples/calibration/sub-01/ses-01
  --method M --minutes 2 --drop-references`` (into a scratch folder);
- ``reconstruct``: ``ieegrecon reconstruct EDF --model M`` with one model per
  method, calibrated once before the timed runs;

under three settings of the environment (``ieegrecon._threads``):

- ``op1 w1``: one thread per operation, one worker (``IEEGRECON_OP_THREADS=1
  IEEGRECON_THREADS=1``);
- ``op2 w1``: two threads per operation (torch intra-op, BLAS), one worker
  (what the policy of session 10 did on 2 cores);
- ``op1 w2``: the default on 2 cores: one thread per operation, two workers
  over CAST's batches of windows and the lagged readouts' blocks of time.

``--burner`` repeats every run beside a second CPU-bound process
(``python -c "while True: pass"``). Outputs of one method must be
byte-identical across settings (checked, printed). Prints a table; not a test.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_throughput import measure, workdir_and_edf  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CAL_PAIR = ROOT / "examples" / "calibration" / "sub-01" / "ses-01"
SETTINGS = {"op1 w1": ("1", "1"), "op2 w1": ("2", "1"), "op1 w2": ("1", "2")}


def run(cmd: list[str], op: str, workers: str, burner: bool) -> tuple[float, float]:
    """(wall s, peak MiB) of ``cmd`` under the given thread settings (``bench_throughput.measure``)."""
    env = {"IEEGRECON_OP_THREADS": op, "IEEGRECON_THREADS": workers}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return measure(cmd, burner)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--methods", default="ridge,cast,flow")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--rounds", type=int, default=1, help="interleaved rounds; the best of them is printed")
    ap.add_argument("--burner", action="store_true", help="also beside a second CPU-bound process")
    args = ap.parse_args()
    work, edf = workdir_and_edf(args.workdir, args.minutes, "ieegrecon-threads-")
    py = [sys.executable, "-m", "ieegrecon"]
    conds = [False, True] if args.burner else [False]
    print(f"input: {args.minutes:g} min; wall s (best of {args.rounds}) / peak MiB; load average before: "
          f"{open('/proc/loadavg').read().split()[:3]}")
    print(f"{'method':>7} {'step':>12} {'burner':>7} " + " ".join(f"{s:>16}" for s in SETTINGS))
    for m in [v.strip() for v in args.methods.split(",") if v.strip()]:
        model = work / f"model-{m}"  # every reconstruction uses this model (calibrated once, untimed)
        cal = py + ["calibrate", str(CAL_PAIR), "--method", m, "--minutes", "2", "--drop-references",
                    "--out", str(model), "--overwrite"]
        if not model.exists():
            run(cal, "1", "1", False)
        cal = cal[:-2] + [str(work / f"scratch-{m}"), "--overwrite"]  # timed calibrations write here
        res: dict[tuple[str, str, bool], tuple[float, float]] = {}
        for _ in range(args.rounds):
            for s, (op, w) in SETTINGS.items():
                for b in conds:
                    rec = py + ["reconstruct", str(edf), "--model", str(model), "--out",
                                str(work / f"recon-{m}-{s.replace(' ', '')}.edf"), "--overwrite"]
                    for step, cmd in (("calibrate", cal), ("reconstruct", rec)):
                        got = run(cmd, op, w, b)
                        key = (step, s, b)
                        res[key] = min(res.get(key, got), got)
        for step in ("calibrate", "reconstruct"):
            for b in conds:
                cells = [f"{res[(step, s, b)][0]:8.1f} s {res[(step, s, b)][1]:4.0f}M" for s in SETTINGS]
                print(f"{m:>7} {step:>12} {'yes' if b else 'no':>7} " + " ".join(f"{c:>16}" for c in cells))
        outs = [work / f"recon-{m}-{s.replace(' ', '')}.edf" for s in SETTINGS]
        same = all(filecmp.cmp(outs[0], o, shallow=False) for o in outs[1:])
        print(f"{m:>7} reconstructions byte-identical across settings: {same}")


if __name__ == "__main__":
    main()
