"""Sampling speed of the conditional flow (``method='flow'``).

The model is calibrated (1 epoch, synthetic paired data: scalp AR(1) noise,
contacts = random mixes of it plus AR(1) noise) so that every inference step
runs as in use: the ridge location, the window colouring and the copula.
Then 32 posterior draws of ``--seconds`` of scalp EEG are timed::

    python benchmarks/bench_flow.py --contacts 48 --scalp 8 --seconds 60
    python benchmarks/bench_flow.py --contacts 60 --scalp 19 --seconds 60

Prints the wall-clock real-time factor (seconds of signal per second of
wall time) and the factor from CPU time per busy core.

The held-out evaluation of the flow (coverage, band power, connectivity
against ridge) is ``ieegrecon evaluate --methods ridge,flow`` (docs/flow.md).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np


def calibrated_model(n_contacts: int, n_scalp: int, params: dict, seconds: float = 120.0, seed: int = 0):
    """A flow calibrated for one epoch on synthetic paired data at 200 Hz."""
    from scipy.signal import lfilter

    from ieegrecon.models.base import ContactInfo, PairedSegment
    from ieegrecon.models.flow import FlowModel

    rng = np.random.default_rng(seed)
    n = int(seconds * 200)
    x = lfilter([1], [1, -0.9], rng.standard_normal((n_scalp, n)), axis=1) * 1e-5
    noise = lfilter([1], [1, -0.8], rng.standard_normal((n_contacts, n)), axis=1) * 5e-6
    y = rng.standard_normal((n_contacts, n_scalp)) @ x / np.sqrt(n_scalp) + noise
    contacts = ContactInfo([f"c{i}" for i in range(n_contacts)], rng.uniform(-0.06, 0.06, (n_contacts, 3)),
                           ["hippocampus_L"] * n_contacts, ["deep"] * n_contacts)
    seg = PairedSegment(x, y, 200.0, [f"S{i}" for i in range(n_scalp)], contacts, "bench")
    model = FlowModel(**params)
    model.calibrate(seg, epochs=1, seed=seed)
    return model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--contacts", type=int, default=48)
    ap.add_argument("--scalp", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--draws", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3, help="timed runs; the best and the median are printed")
    ap.add_argument("--params", default="{}", help="FlowModel constructor parameters as JSON")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    model = calibrated_model(args.contacts, args.scalp, json.loads(args.params))
    rng = np.random.default_rng(1)
    scalp = rng.standard_normal((args.scalp, int(args.seconds * model.sfreq))) * 1e-5
    model.sample(scalp[:, :400], n_samples=2)  # warm-up
    walls, cpus = [], []
    for _ in range(args.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = model.sample(scalp, n_samples=args.draws, seed=0)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    dt, dm, dc = min(walls), float(np.median(walls)), min(cpus)
    print(f"{args.draws} draws of {args.contacts} contacts x {args.seconds:.0f} s ({args.scalp} scalp channels, "
          f"{args.threads} threads, best of {args.repeat}): wall {dt:.2f} s -> {args.seconds / dt:.1f}x real time "
          f"(median {args.seconds / dm:.1f}x); CPU {dc:.2f} s -> {args.seconds / (dc / args.threads):.1f}x real "
          f"time per {args.threads} busy cores; load average {os.getloadavg()[0]:.1f}; output {out.shape}")


if __name__ == "__main__":
    main()
