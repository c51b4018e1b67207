"""Table and figure of an ``ieegrecon evaluate`` run: mean per-contact r against calibration minutes.

Usage: ``python benchmarks/plot_loso.py RESULTS_DIR --out docs/figures/cast_loso.png``

Reads ``RESULTS_DIR/summary.tsv`` (written by ``ieegrecon evaluate``), prints a
Markdown table of the mean over subjects of the per-contact Pearson r (all
contacts, superficial, deep) per method and calibration length, and draws
r against minutes (log axis; zero-shot at the left edge) with the bootstrap
95 % CI of the mean over subjects, one panel per subset.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from ieegrecon.evaluation.config import LIMIT, ORACLE

SUBSETS = ("all", "superficial", "deep")


def _table(df: pd.DataFrame) -> str:
    piv = df[df["subset"].isin(SUBSETS)].pivot_table(index=["method", "minutes"], columns="subset",
                                                     values="r_mean", aggfunc="first")
    ci = df[df["subset"] == "all"].set_index(["method", "minutes"])[["r_ci_low", "r_ci_high", "n_subjects"]]
    lines = ["| method | minutes | subjects | r, all contacts [95 % CI] | superficial | deep |",
             "|---|---|---|---|---|---|"]
    for (method, minutes), row in piv.iterrows():
        c = ci.loc[(method, minutes)]
        mins = "zero-shot" if minutes == 0 else ("—" if not np.isfinite(minutes) else f"{minutes:g}")
        lines.append(f"| {method} | {mins} | {int(c['n_subjects'])} | {row['all']:.3f} "
                     f"[{c['r_ci_low']:.3f}, {c['r_ci_high']:.3f}] | {row['superficial']:.3f} | {row['deep']:.3f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", type=Path)
    ap.add_argument("--out", type=Path, default=None, help="PNG to write")
    ap.add_argument("--methods", default="cast,ridge,source", help="comma-separated; ridge-limit and oracle "
                    "are drawn as horizontal lines")
    args = ap.parse_args()
    df = pd.read_csv(args.results / "summary.tsv", sep="\t", na_values=["n/a"])
    df["minutes"] = df["minutes"].astype(float)
    methods = args.methods.split(",")
    df = df[df["method"].isin(methods)]
    print(_table(df))
    if args.out is None:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ceilings = (LIMIT, ORACLE)  # one value each: drawn as horizontal lines
    curves = df[~df["method"].isin(ceilings)]
    positive = sorted(m for m in curves["minutes"].unique() if m > 0)
    zero_x = positive[0] / 2 if positive else 0.1  # where zero-shot is drawn on the log axis
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), sharey=True)
    for ax, subset in zip(axes, SUBSETS):
        for method in methods:
            g = df[(df["method"] == method) & (df["subset"] == subset)].sort_values("minutes")
            if g.empty:
                continue
            if method in ceilings:
                ax.axhline(g["r_mean"].iloc[0], ls="--", lw=1, color="k" if method == ORACLE else "grey",
                           label=f"{method} ({g['minutes'].iloc[0]:g} min)" if method != ORACLE else method)
                continue
            x = np.where(g["minutes"] == 0, zero_x, g["minutes"])
            ax.errorbar(x, g["r_mean"], yerr=[g["r_mean"] - g["r_ci_low"], g["r_ci_high"] - g["r_mean"]],
                        marker="o", capsize=3, label=method)
        ax.set_xscale("log")
        ax.set_xticks([zero_x] + positive)
        ax.set_xticklabels(["0"] + [f"{m:g}" for m in positive])
        ax.set_title(f"{subset} contacts")
        ax.set_xlabel("calibration (min)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("mean per-contact Pearson r (test session)")
    axes[0].legend()
    fig.suptitle("Leave-one-subject-out, SIMULATED cohort (mean over subjects, bootstrap 95 % CI)")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
