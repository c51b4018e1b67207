"""Throughput of every method against chunked MNE eLORETA and a bare lagged-ridge matmul, one process tree.

Usage::

    python benchmarks/bench_throughput.py [--minutes 60 | --hours 24] [--methods ridge,cast,flow]
        [--workdir DIR] [--burner] [--rounds 1] [--skip-anchor]

    python benchmarks/bench_throughput.py --methods ridge,cast,flow,ridge-gauss --rounds 3

1. Writes (once per length; reused from ``--workdir``) a 19-channel 200-Hz
   EDF of 1/f noise of ``--minutes`` (``bench_memory.write_long_edf``: one
   hour in memory at a time).
2. Calibrates a patient model per method on the bundled calibration pair
   (``ieegrecon calibrate examples/calibration/sub-01/ses-01 --minutes 2
   --drop-references``: the generated EDF has no ear electrodes;
   cast from the shipped ``models/cast-sim9``), timed, in a subprocess;
   models are reused from ``--workdir`` when there.
3. Each in its own subprocess, its peak RSS from :func:`os.wait4` of a tiny
   intermediate process (``bench_memory.run_measured``), wall time of the
   whole process (imports included, as a user sees it):

   - ``ridge``, ``cast``: ``ieegrecon reconstruct EDF --model M --out OUT``;
   - ``flow``: the same (the EDF holds the flow's point estimate, its ridge
     location, with no flow pass since session 12; 90 % bands are ``flow32``'s);
   - ``flow32``: ``--samples 32`` (32 draws: median in the EDF, 5-95 % band in
     the sidecar), only where the output is at most 1 h (the limit of
     ``--samples`` with draws); ``ridge-gauss32`` the same for ``ridge-gauss``
     (the default sampler since sealed run 2; exact bands, any length, the
     sidecar holding their offsets from the EDF's trace since session 15;
     ``ridge-gauss`` alone is its point estimate, ridge's);
   - ``eloreta``: MNE ``apply_inverse_raw`` (eLORETA, template head of
     :mod:`ieegrecon.headmodel`) on 60-s chunks of the EDF read lazily, with
     numpy's default BLAS threads; ``eloreta1`` the same with one BLAS
     thread; the faster of the two is the anchor ("vs eLORETA");
   - ``matmul``: the bare floor, numpy float32 lagged ridge (±100 ms lags, 48
     contacts) on 60-s chunks of the same EDF read lazily, nothing written.

``--burner`` runs every measurement twice, without and with a second
CPU-bound process (``python -c "while True: pass"``) and prints the slowdown
ratio per method (and of calibration for cast and flow). Absolute timings
depend on the machine's load; ratios within one run share it.

Ends with one parseable line per method:
``ridge: 398x real time, 7.7x vs eLORETA, peak 807 MiB``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_memory import run_measured, write_long_edf  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CAL_PAIR = ROOT / "examples" / "calibration" / "sub-01" / "ses-01"
CHUNK_S = 60.0

ELORETA = r"""
import sys, mne
from mne.minimum_norm import apply_inverse_raw, make_inverse_operator
from ieegrecon.headmodel import template_forward
edf, chunk_s = sys.argv[1], float(sys.argv[2])
names = ["Fp1","Fp2","F7","F3","Fz","F4","F8","T7","C3","Cz","C4","T8","P7","P3","Pz","P4","P8","O1","O2"]
with mne.utils.use_log_level("error"):
    raw = mne.io.read_raw_edf(edf, preload=False, verbose=False)
    raw.rename_channels(lambda n: n.replace("EEG ", ""))
    fwd, info = template_forward(names, 10.0)
    raw.set_montage(info.get_montage(), verbose=False)
    raw.set_eeg_reference("average", projection=True, verbose=False)
    cov = mne.make_ad_hoc_cov(raw.info, std=dict(eeg=1e-6), verbose=False)
    inv = make_inverse_operator(raw.info, fwd, cov, loose=1.0, depth=None, verbose=False)
    step = int(chunk_s * raw.info["sfreq"])
    for a in range(0, raw.n_times, step):
        stc = apply_inverse_raw(raw, inv, 1 / 9.0, method="eLORETA", start=a, stop=min(a + step, raw.n_times),
                                verbose=False, method_params=dict(max_iter=50))
        del stc
"""

MATMUL = r"""
import sys, numpy as np, pyedflib
edf, chunk_s = sys.argv[1], float(sys.argv[2])
r = pyedflib.EdfReader(edf)
n_ch, n_t, sf = r.signals_in_file, int(r.getNSamples()[0]), r.getSampleFrequency(0)
lags = np.arange(-20, 21)
W = np.random.default_rng(0).standard_normal((48, n_ch * len(lags))).astype(np.float32)
step, m = int(chunk_s * sf), 20
out = 0.0
for a in range(0, n_t, step):
    lo, hi = max(0, a - m), min(n_t, a + step + m)
    x = np.stack([r.readSignal(i, lo, hi - lo) for i in range(n_ch)]).astype(np.float32) * np.float32(1e-6)
    x = np.pad(x, ((0, 0), (m, m)))
    n = x.shape[1] - 2 * m
    X = np.stack([x[:, m + k:m + k + n] for k in lags], axis=1).reshape(n_ch * len(lags), n)
    out += float((W @ X)[:, 0].sum())
r.close()
print(out)
"""


def workdir_and_edf(workdir: str | None, minutes: float, prefix: str) -> tuple[Path, Path]:
    """The work folder (``workdir`` or a new temp dir) and its generated scalp EDF of ``minutes`` (written once)."""
    work = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix=prefix))
    work.mkdir(parents=True, exist_ok=True)
    edf = work / f"scalp_{minutes:g}min.edf"
    if not edf.exists():
        write_long_edf(edf, minutes / 60.0)
    return work, edf


def _burner() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def calibrate(work: Path, method: str, minutes: float = 2.0) -> tuple[Path, list[str]]:
    """The patient model folder for ``method`` and the command that calibrates it."""
    folder = work / f"model-{method}"
    cmd = [sys.executable, "-m", "ieegrecon", "calibrate", str(CAL_PAIR), "--method", method,
           "--minutes", f"{minutes:g}", "--drop-references", "--out", str(folder), "--overwrite"]
    return folder, cmd


def commands(work: Path, edf: Path, methods: list[str], minutes: float, anchor: bool) -> dict[str, list[str]]:
    """Name -> command of every measured run."""
    py = sys.executable
    cmds: dict[str, list[str]] = {}
    for m in methods:
        base = [py, "-m", "ieegrecon", "reconstruct", str(edf), "--model", str(work / f"model-{m}"),
                "--out", str(work / f"recon-{m}.edf"), "--overwrite"]
        cmds[m] = base
        if m == "ridge-gauss" or (m == "flow" and minutes <= 60):  # the flow's draws: --samples limit
            cmds[f"{m}32"] = base[:-2] + [str(work / f"recon-{m}32.edf"), "--overwrite", "--samples", "32"]
    if anchor:  # run with 1 and with 2 BLAS threads: the faster is the anchor (its best, not ours)
        cmds["eloreta"] = [py, "-c", ELORETA, str(edf), str(CHUNK_S)]
        cmds["eloreta1"] = ["env", "OMP_NUM_THREADS=1", "OPENBLAS_NUM_THREADS=1", "MKL_NUM_THREADS=1",
                            py, "-c", ELORETA, str(edf), str(CHUNK_S)]
    cmds["matmul"] = [py, "-c", MATMUL, str(edf), str(CHUNK_S)]
    return cmds


def measure(cmd: list[str], burner: bool) -> tuple[float, float]:
    """(wall s, peak RSS MiB) of ``cmd``, with a CPU burner beside it when ``burner``."""
    b = _burner() if burner else None
    try:
        rc, wall, rss, err = run_measured(cmd)
    finally:
        if b is not None:
            b.kill()
            b.wait()
    if rc:
        raise RuntimeError(f"{cmd[:4]} exited {rc}: {err}")
    return wall, rss


def _median(v: list[float]) -> float:
    s = sorted(v)
    return s[len(s) // 2] if len(s) % 2 else 0.5 * (s[len(s) // 2 - 1] + s[len(s) // 2])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0, help="length of the generated scalp EDF")
    ap.add_argument("--hours", type=float, default=None, help="length in hours (overrides --minutes)")
    ap.add_argument("--methods", default="ridge,cast,flow")
    ap.add_argument("--workdir", default=None, help="folder for the EDF and models (default: a temp dir)")
    ap.add_argument("--rounds", type=int, default=1, help="interleaved rounds; medians are printed")
    ap.add_argument("--burner", action="store_true", help="also measure beside a second CPU-bound process")
    ap.add_argument("--skip-anchor", action="store_true", help="no eLORETA run (long inputs)")
    ap.add_argument("--recalibrate", action="store_true", help="calibrate even when a model folder exists")
    args = ap.parse_args()
    minutes = 60.0 * args.hours if args.hours is not None else args.minutes
    work, edf = workdir_and_edf(args.workdir, minutes, "ieegrecon-thr-")
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    conds = [False, True] if args.burner else [False]
    cal: dict[tuple[str, bool], list[float]] = {}
    for m in methods:
        folder, cmd = calibrate(work, m)
        if folder.exists() and not (args.recalibrate or args.burner):
            continue
        for b in (conds if m in ("cast", "flow") else [False]):
            wall, _ = measure(cmd, b)
            cal.setdefault((m, b), []).append(wall)
    cmds = commands(work, edf, methods, minutes, not args.skip_anchor)
    res: dict[tuple[str, bool], list[tuple[float, float]]] = {}
    for _ in range(args.rounds):
        for name, cmd in cmds.items():
            for b in conds:
                res.setdefault((name, b), []).append(measure(cmd, b))
    report(res, cal, minutes, conds, cmds, args)


def report(res, cal, minutes: float, conds: list[bool], cmds: dict, args) -> None:
    """Print the table, the burner ratios and one parseable line per method."""
    dur = minutes * 60.0
    wall = {k: _median([w for w, _ in v]) for k, v in res.items()}
    peak = {k: max(r for _, r in v) for k, v in res.items()}
    els = [wall[k] for k in (("eloreta", False), ("eloreta1", False)) if k in wall]
    el = min(els) if els else None  # the anchor at its faster thread setting
    mm = wall[("matmul", False)]
    print(f"input: {minutes:g} min, 19 channels, 200 Hz -> contacts of the bundled calibration pair; "
          f"{args.rounds} round(s); whole-process wall time (imports included)")
    print(f"{'run':>13} {'wall s':>8} {'x real time':>12} {'vs eLORETA':>11} {'vs matmul':>10} {'peak MiB':>9}")
    for name in cmds:
        w = wall[(name, False)]
        vs_el = f"{el / w:.2f}x" if el else "-"
        print(f"{name:>13} {w:8.1f} {dur / w:11.0f}x {vs_el:>11} {w / mm:9.1f}x {peak[(name, False)]:9.0f}")
    for (m, b), v in sorted(cal.items()):
        print(f"calibrate {m} ({'with' if b else 'without'} a CPU burner): {_median(v):.1f} s wall")
    if True in conds:
        for name in cmds:
            print(f"{name}: {wall[(name, True)] / wall[(name, False)]:.2f}x slower beside a CPU burner")
        for m in sorted({m for m, _ in cal}):
            if (m, True) in cal and (m, False) in cal:
                print(f"calibrate {m}: {_median(cal[(m, True)]) / _median(cal[(m, False)]):.2f}x slower beside "
                      "a CPU burner")
    for name in cmds:
        if name in ("eloreta", "eloreta1", "matmul"):
            continue
        w = wall[(name, False)]
        vs_el = f"{el / w:.1f}x vs eLORETA" if el else "no eLORETA"
        print(f"{name}: {dur / w:.0f}x real time, {vs_el}, peak {peak[(name, False)]:.0f} MiB")


if __name__ == "__main__":
    main()
