"""Speed of CAST inference: real-time factor on 2 CPU threads.

Usage: ``python benchmarks/bench_cast.py [--minutes 2] [--contacts 60] [--model FOLDER]``

Builds a CAST model (or loads a saved one with ``--model``), decodes
``--contacts`` contacts from the 19 standard 10-20 channels over
``--minutes`` of random scalp EEG at 200 Hz with ``torch.set_num_threads(2)``
(network plus the residual ridge a calibrated model applies),
and prints the real-time factor (seconds of signal per second of compute),
from wall time and from process CPU time / threads (the latter is what an
otherwise idle machine would give when other jobs share the cores).
The weights do not matter for speed, so an untrained model is fine.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from ieegrecon.channels import STANDARD_1020_19
from ieegrecon.models.base import ContactInfo
from ieegrecon.models.cast import CastModel


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=2.0)
    ap.add_argument("--contacts", type=int, default=60)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--model", default=None, help="saved CAST model folder (default: untrained default model)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.model:
        from ieegrecon.models.io import load_model

        model = load_model(args.model)[0]
    else:
        model = CastModel()
    rng = np.random.default_rng(0)
    pos = rng.normal(scale=0.03, size=(args.contacts, 3))
    model.set_targets(ContactInfo([f"c{i}" for i in range(args.contacts)], pos), list(STANDARD_1020_19))
    # a calibrated model also applies its residual ridge (lags ±100 ms): time that path too
    model.res_coef = rng.normal(scale=1e-7, size=(args.contacts, 19 * len(model.res_lags))).astype(np.float32)
    # ... and standardizes with the calibration recording's statistics instead of the input's
    model.scalp_center, model.scalp_scale = np.zeros(19), np.full(19, 20e-6)
    n_times = int(args.minutes * 60 * model.sfreq)
    scalp = rng.normal(scale=20e-6, size=(19, n_times))
    model.predict(scalp[:, : int(10 * model.sfreq)])  # warm-up
    times, cpu = [], []
    for _ in range(args.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = model.predict(scalp)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    assert out.shape == (args.contacts, n_times)
    best = min(times)
    print(json.dumps({"threads": args.threads, "n_scalp": 19, "n_contacts": args.contacts,
                      "signal_s": n_times / model.sfreq, "compute_s_best": round(best, 3),
                      "compute_s_median": round(float(np.median(times)), 3),
                      "realtime_factor": round(n_times / model.sfreq / best, 1),
                      # CPU seconds spread over the threads: the factor on an otherwise idle machine
                      "cpu_s_best": round(min(cpu), 3),
                      "realtime_factor_from_cpu": round(n_times / model.sfreq / (min(cpu) / args.threads), 1)}))


if __name__ == "__main__":
    main()
