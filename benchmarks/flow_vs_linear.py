"""The flow's posterior mean against the strongest linear row of another run on the same subjects.

::

    python benchmarks/flow_vs_linear.py ev-recorded-50021:ev-flow-50021 ev-recorded-50023:ev-flow-50023

Each argument pairs a results folder of ``ieegrecon evaluate`` that holds the linear baselines
(its ``stats.json`` names the strongest linear row chosen per subject and calibration length) with
one that holds ``flow`` and ``ridge-gauss`` on the same subjects and protocol. Prints, per subject at
``--minutes``, the r of the chosen strongest linear method, of the flow's posterior mean and of
``ridge-gauss``'s point estimate (``subjects.tsv``, all contacts), and the means (issue #19: the
flow's posterior mean within 0.005 r of the strongest linear row). Reporting glue only.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd


def pair_rows(linear: Path, flow: Path, minutes: float) -> list[tuple]:
    """(subject, chosen, r strongest linear, r flow, r ridge-gauss) for every subject at ``minutes``."""
    sub = pd.read_csv(linear / "subjects.tsv", sep="\t", dtype={"subject": str})
    sub = sub[(sub.subset == "all") & (pd.to_numeric(sub.minutes, errors="coerce") == minutes)]
    fl = pd.read_csv(flow / "subjects.tsv", sep="\t", dtype={"subject": str})
    fl = fl[(fl.subset == "all") & (pd.to_numeric(fl.minutes, errors="coerce") == minutes)]
    rows = []
    for d in json.loads((linear / "stats.json").read_text())["strongest_linear"]:
        if d["minutes"] != minutes:
            continue
        s = d["subject"]

        def r_of(df, method):
            return float(df[(df.subject == s) & (df.method == method)].r.iloc[0])

        rows.append((f"{linear.name}/{s}", d["chosen"], r_of(sub, d["chosen"]), r_of(fl, "flow"),
                     r_of(fl, "ridge-gauss")))
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pairs", nargs="+", help="LINEAR_RESULTS:FLOW_RESULTS")
    ap.add_argument("--minutes", type=float, default=1.0)
    args = ap.parse_args(argv)
    rows = [r for p in args.pairs for r in pair_rows(*map(Path, p.split(":", 1)), args.minutes)]
    df = pd.DataFrame(rows, columns=["subject", "strongest", "r_strongest", "r_flow", "r_ridge_gauss"])
    df["flow_minus_strongest"] = df.r_flow - df.r_strongest
    print(df.round(4).to_string(index=False))
    m = df[["r_strongest", "r_flow", "r_ridge_gauss", "flow_minus_strongest"]].mean()
    print(f"mean over {len(df)} subjects: strongest linear {m.r_strongest:.4f}, flow {m.r_flow:.4f}, "
          f"ridge-gauss {m.r_ridge_gauss:.4f}, flow - strongest {m.flow_minus_strongest:+.4f} "
          f"(flow higher in {int((df.flow_minus_strongest > 0).sum())})")


if __name__ == "__main__":
    main()
