"""Pair ``cast_ablation.py`` rows with ``ieegrecon evaluate``'s cast and ridge rows, subject by subject.

::

    python benchmarks/ablation_vs_evaluate.py abl50021.json:ev-recorded-50021 abl50023.json:ev-recorded-50023

Each argument is ``ABLATION_JSON:EVALUATE_FOLDER`` (one cohort). Prints per calibration length the mean
over subjects of: evaluate's ``ridge`` and ``cast`` r, the ablation's plain-penalty and lag-prior-alone r,
and cast minus the lag prior alone (subjects where cast is higher, paired Wilcoxon p): what the network
adds beyond the lag prior (docs/results.md §1e).
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
from scipy.stats import wilcoxon


def paired(pairs: list[str]) -> pd.DataFrame:
    """One row per (cohort, subject, minutes) with ``plain``, ``lag_prior``, ``ridge`` and ``cast`` r."""
    rows = []
    for k, pair in enumerate(pairs):
        abl_path, ev = pair.split(":", 1)
        abl = json.loads(open(abl_path).read())
        c = pd.read_csv(f"{ev}/contacts.tsv", sep="\t", dtype={"subject": str})
        per = c.groupby(["method", "minutes", "subject"])["r"].mean()
        for r in abl:
            sub = r["subject"].replace("sub-", "")
            rows.append({"cohort": k, "subject": sub, "minutes": r["minutes"], "plain": r["plain"],
                         "lag_prior": r["lag_prior"], "ridge": per.get(("ridge", r["minutes"], sub), np.nan),
                         "cast": per.get(("cast", r["minutes"], sub), np.nan)})
    return pd.DataFrame(rows)


def main(argv: list[str]) -> None:
    d = paired(argv)
    for minutes, g in d.groupby("minutes"):
        diff = (g["cast"] - g["lag_prior"]).to_numpy()
        print(f"{minutes:g} min, {len(g)} subjects: ridge {g['ridge'].mean():.4f} | plain (ablation) "
              f"{g['plain'].mean():.4f} | lag prior alone {g['lag_prior'].mean():.4f} | cast {g['cast'].mean():.4f} | "
              f"cast - lag prior {diff.mean():+.4f} (cast higher in {(diff > 0).sum()}/{len(g)}, "
              f"Wilcoxon p {wilcoxon(diff).pvalue:.3g})")


if __name__ == "__main__":
    main(sys.argv[1:])
