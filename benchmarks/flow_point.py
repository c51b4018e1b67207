"""The flow's point estimate three ways, on development seeds: ridge location, Monte Carlo mean, z = 0.

Usage::

    python benchmarks/flow_point.py --seeds 7,11,13,17,19,23 --workdir /tmp/flow_point

Per seed: ``ieegrecon simulate`` (one subject of ds004752's sub-01 layout, one 3-min session, iEEG at
250 Hz), ``ieegrecon calibrate --method flow --minutes 2 --drop-references``, then ``ieegrecon
reconstruct`` of the whole scalp three times with the flow's ``predict`` set to the ridge location
(the default), the Monte Carlo posterior mean of 16 antithetic draws, or the central point ``z = 0``.
Prints, per seed, the mean over contacts of Pearson r against the simulated iEEG (preprocessed as the
model's configuration says) on the held-out last minute, and each variant's difference from the
Monte Carlo mean (mean, min, max over contacts), then one JSON line. Development seeds only: never
the sealed cohort's (docs/evaluation.md).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LAYOUT = ROOT.parent / "shared" / "data" / "ds004752" / "sub-01" / "ses-01"
VARIANTS = {"location": None, "mc": 16, "zero": 0}


def _run_cli(variant: str, args: list[str]) -> None:
    """``ieegrecon`` with the flow's default ``predict`` set to ``variant`` (a child process)."""
    from ieegrecon.cli import main
    from ieegrecon.models.flow import FlowModel

    n = VARIANTS[variant]
    default = FlowModel.predict
    FlowModel.predict = lambda self, scalp, n_samples=n, seed=0: default(self, scalp, n_samples, seed)
    sys.argv = ["ieegrecon", *args]
    main()


def _edf(path: Path) -> tuple[list[str], np.ndarray]:
    import pyedflib

    with pyedflib.EdfReader(str(path)) as r:
        labels = [r.getLabel(i) for i in range(r.signals_in_file)]
        return labels, np.stack([r.readSignal(i) for i in range(r.signals_in_file)])


def _held_out_r(ieeg_path: Path, model_dir: Path, outs: dict[str, Path], t0_s: float) -> dict[str, np.ndarray]:
    """Pearson r per contact on ``[t0_s, end)`` of each output against the preprocessed iEEG."""
    from ieegrecon.io.read import read_recording
    from ieegrecon.metrics import pearson_r
    from ieegrecon.preprocessing import Preprocessing, apply_preprocessing

    cfg = json.loads((model_dir / "config.json").read_text())
    prep = Preprocessing.from_dict(cfg.get("preprocessing", cfg.get("scalp_preprocessing", {})))
    ieeg = read_recording(ieeg_path, preload=True)
    names = [c.upper() for c in ieeg.ch_names]
    out = {}
    for variant, path in outs.items():
        labels, x = _edf(path)
        keep = [(k, names.index(lab.split()[0].upper())) for k, lab in enumerate(labels)
                if lab.strip() and lab.split()[0].upper() in names]
        y = apply_preprocessing(ieeg.data[[i for _, i in keep]], ieeg.sfreq, prep, reference=False) * 1e6
        x = x[[k for k, _ in keep]]
        n, s0 = min(x.shape[1], y.shape[1]), int(t0_s * prep.sfreq)
        out[variant] = pearson_r(y[:, s0:n], x[:, s0:n])
    return out


def run_seed(seed: int, work: Path) -> dict[str, np.ndarray]:
    """Simulate, calibrate and reconstruct one development seed; r per contact per variant."""
    d = work / f"seed{seed}"
    d.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cli = [sys.executable, "-m", "ieegrecon"]
    if not (d / "sim").exists():
        subprocess.run([*cli, "simulate", "--layout", str(LAYOUT), "--subjects", "1", "--sessions", "1", "--minutes",
                        "3", "--seed", str(seed), "--ieeg-sfreq", "250", "--out", str(d / "sim")],
                       check=True, env=env, capture_output=True)
    ses = d / "sim" / "sub-01" / "ses-01"
    if not (d / "model-flow").exists():
        subprocess.run([*cli, "calibrate", str(ses), "--method", "flow", "--minutes", "2", "--drop-references",
                        "--out", str(d / "model-flow")], check=True, env=env, capture_output=True)
    eeg, ieeg = next((ses / "eeg").glob("*_eeg.edf")), next((ses / "ieeg").glob("*_ieeg.edf"))
    outs = {}
    for variant in VARIANTS:
        outs[variant] = d / f"recon-{variant}.edf"
        subprocess.run([sys.executable, __file__, "--_cli", variant, "reconstruct", str(eeg), "--model",
                        str(d / "model-flow"), "--out", str(outs[variant]), "--overwrite"],
                       check=True, env=env, capture_output=True)
    return _held_out_r(ieeg, d / "model-flow", outs, 120.0)


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--_cli":
        return _run_cli(sys.argv[2], sys.argv[3:])
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="7,11,13,17,19,23")
    ap.add_argument("--workdir", type=Path, required=True)
    a = ap.parse_args()
    rows = {}
    for seed in (int(s) for s in a.seeds.split(",")):
        r = run_seed(seed, a.workdir)
        rows[seed] = {v: {"mean_r": round(float(r[v].mean()), 4),
                          "minus_mc": [round(float(f(r[v] - r["mc"])), 4) for f in (np.mean, np.min, np.max)]}
                      for v in VARIANTS}
        print(f"seed {seed}: " + ", ".join(f"{v} r {x['mean_r']:.4f} ({x['minus_mc'][0]:+.4f} vs mc)"
                                           for v, x in rows[seed].items()), flush=True)
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
