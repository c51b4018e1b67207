"""Coverage of ``ridge-gauss``'s 90 % bands: quantiles of its draws against its exact Gaussian quantiles.

Reads ``contacts.tsv`` of ``ieegrecon evaluate`` folders made on the same data by two releases
(before and after the closed-form bands) and prints coverage on the test session, contacts pooled
over subjects: overall, per depth class, per region (regions with at least ``--min-contacts``
contacts), the range over subjects, and the number of subjects whose coverage is nearer 0.90::

    ieegrecon evaluate DATA --methods ridge-gauss --calibration-minutes 1 --limit-minutes 0 \\
        --no-oracle --draws 16 --out EV            # once per release, same DATA
    python benchmarks/gauss_bands.py EV_DRAWS EV_EXACT [EV_DRAWS2 EV_EXACT2 ...]

Also prints what the quantiles of ``n`` draws cover when the model is exactly right (a new value
from the same Gaussian inside the 5-95 % quantiles of ``n`` draws, numpy's default quantiles;
20 000 simulated sets per ``n``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd


def mc_coverage(n: int, sets: int = 20000, seed: int = 0) -> float:
    """Probability that a new N(0, 1) value falls inside the 5-95 % quantiles of ``n`` N(0, 1) draws."""
    rng = np.random.default_rng(seed)
    lo, hi = np.quantile(rng.standard_normal((sets, n)), (0.05, 0.95), axis=1)
    new = rng.standard_normal(sets)
    return float(np.mean((new >= lo) & (new <= hi)))


def load(folders: list[Path]) -> pd.DataFrame:
    """ridge-gauss rows of the folders' ``contacts.tsv``, concatenated."""
    frames = [pd.read_csv(f / "contacts.tsv", sep="\t").assign(cohort=i) for i, f in enumerate(folders)]
    c = pd.concat(frames, ignore_index=True)  # subjects are named per cohort: (cohort, subject) is one
    return c[c["method"] == "ridge-gauss"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", type=Path, nargs="+", help="pairs: draws-release folder, exact-release folder")
    ap.add_argument("--min-contacts", type=int, default=10)
    args = ap.parse_args()
    if len(args.folders) % 2:
        ap.error("give folders in pairs (draws, exact)")
    draws, exact = load(args.folders[0::2]), load(args.folders[1::2])
    for n in (16, 32):
        print(f"quantiles of {n} draws, model exactly right: coverage {mc_coverage(n):.3f} (nominal 0.900)")
    print()
    print("| group | contacts | coverage, quantiles of draws | coverage, exact Gaussian |")
    print("|---|---|---|---|")
    print(f"| all | {len(exact)} | {draws['coverage90'].mean():.3f} | {exact['coverage90'].mean():.3f} |")
    for key in ("depth_class", "region"):
        d, e = draws.groupby(key)["coverage90"].mean(), exact.groupby(key)["coverage90"].agg(["mean", "size"])
        for k, r in e.iterrows():
            if key == "depth_class" or r["size"] >= args.min_contacts:
                print(f"| {k} | {int(r['size'])} | {d.get(k, np.nan):.3f} | {r['mean']:.3f} |")
    per_d = draws.groupby(["cohort", "subject"])["coverage90"].mean()
    per_e = exact.groupby(["cohort", "subject"])["coverage90"].mean()
    nearer = int(np.sum(np.abs(per_e - 0.9) < np.abs(per_d.reindex(per_e.index) - 0.9)))
    print()
    print(f"per subject: draws {per_d.min():.3f}-{per_d.max():.3f}, exact {per_e.min():.3f}-{per_e.max():.3f}; "
          f"exact nearer 0.90 in {nearer} of {len(per_e)} subjects")


if __name__ == "__main__":
    main()
