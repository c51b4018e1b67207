"""An exact-bands sidecar (layout ``offsets``): its size, reading it back, and against an arrays sidecar.

Usage::

    python benchmarks/band_sidecar.py OUT_uncertainty.h5 [--hour H] [--arrays OLD_uncertainty.h5]

Prints the sidecar's size in bytes and its number of gaps; with ``--hour H``
the wall time and peak RSS of rebuilding hour ``H`` (0-based) of the bands as
arrays (``read_uncertainty_h5(..., start=, stop=)``, which also checks the
EDF's sha256); with ``--arrays`` the largest difference, in µV and as a
fraction of the upper offset, between the bands rebuilt from the EDF's trace
and those of a sidecar that stored them as float32 arrays (same input and
model, e.g. one written before session 15): the EDF's 16-bit quantization.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np

from ieegrecon.workflow.uncertainty import read_uncertainty_h5


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sidecar", type=Path)
    ap.add_argument("--hour", type=int, default=None)
    ap.add_argument("--arrays", type=Path, default=None, help="a sidecar of the same bands stored as arrays")
    args = ap.parse_args()
    head = read_uncertainty_h5(args.sidecar, arrays=False)
    res: dict = {"bytes": args.sidecar.stat().st_size, "layout": head["layout"], "n_gaps": len(head["gaps"])}
    if args.hour is not None:
        n = int(3600 * head["sfreq"])
        t0 = time.perf_counter()
        part = read_uncertainty_h5(args.sidecar, start=args.hour * n, stop=(args.hour + 1) * n)
        res.update(read_hour_s=round(time.perf_counter() - t0, 2), shape=list(part["lo"].shape),
                   peak_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
    if args.arrays is not None:
        new, old = read_uncertainty_h5(args.sidecar), read_uncertainty_h5(args.arrays)
        for k in ("lo", "median", "hi"):
            d = np.abs(new[k].astype(float) - old[k].astype(float))
            res[f"{k}_max_abs_uv"] = float(d.max() * 1e6)
            res[f"{k}_max_over_offset"] = float((d.max(axis=1) / head["offsets"][1]).max())
    print(json.dumps(res))


if __name__ == "__main__":
    main()
