"""Markdown tables of the flow against ridge from an ``ieegrecon evaluate`` results folder.

::

    ieegrecon evaluate /tmp/cohort9_12 --methods ridge,flow --calibration-minutes 1,2,5,10 \\
        --test-minutes 3 --limit-minutes 12 --out /tmp/ev_flow
    python benchmarks/flow_tables.py /tmp/ev_flow

Prints, per calibration length (mean over subjects of each subject's mean over
contacts): coverage of the flow's 90 % bands overall, per depth class and for
hippocampus/amygdala contacts; band-power error (mean of the five bands), PSD
Hellinger distance and alpha functional-connectivity relative error of flow
draws against ridge's point estimate, all contacts and hippocampus/amygdala;
Pearson r of the flow's posterior mean and ridge; the number of subjects in
which the flow's error is lower and a paired Wilcoxon signed-rank p across
subjects; and the coverage per region (pooled contacts).

When the folder also holds ``ridge-gauss`` (issue #19: ridge + Gaussian residual
draws), flow draws are compared with ridge-gauss draws, per subject and calibration
length (mean over contacts): kurtosis and skewness errors, IED-waveform error
(contacts with ground-truth discharges only), band-power error (mean of the five
bands) and PSD Hellinger distance, who wins and the flow/ridge-gauss ratio; then
the coverage of both methods' 90 % bands per depth class and per region::

    ieegrecon evaluate /tmp/flowm/c31 --methods ridge-gauss,flow --calibration-minutes 1 \\
        --limit-minutes 0 --no-oracle --draws 16 --out /tmp/flowm/ev31
    python benchmarks/flow_tables.py /tmp/flowm/ev31
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import wilcoxon

from ieegrecon.evaluation.stats import subset as contact_subset

BANDS = ("delta", "theta", "alpha", "beta", "gamma")


def per_subject(contacts: pd.DataFrame) -> pd.DataFrame:
    """One row per subject x method x minutes x subset with the compared metrics."""
    c = contacts.copy()
    c["bp_mean"] = c[[f"bp_err_{b}" for b in BANDS]].mean(axis=1)
    c["draw_bp_mean"] = c[[f"draw_bp_err_{b}" for b in BANDS]].mean(axis=1)
    rows = []
    for (sub, method, minutes), g in c[c["method"].isin(["flow", "ridge"])].groupby(["subject", "method", "minutes"]):
        for subset in ("all", "superficial", "deep", "hipp_amyg"):
            h = contact_subset(g, subset)
            if not len(h):
                continue
            flow = method == "flow"
            rows.append({
                "subject": sub, "method": method, "minutes": minutes, "subset": subset, "n": len(h),
                "r": h["r"].mean(), "coverage": h["coverage90"].mean(),
                "bp": (h["draw_bp_mean"] if flow else h["bp_mean"]).mean(),
                "hellinger": (h["draw_psd_hellinger"] if flow else h["psd_hellinger"]).mean(),
                # whole-matrix error for all contacts, row-wise errors averaged within a subset
                "fc": (g["draw_fc_alpha_rel_err_total"] if flow else g["fc_alpha_rel_err_total"]).iloc[0]
                if subset == "all" else (h["draw_fc_alpha_rel_err"] if flow else h["fc_alpha_rel_err"]).mean(),
            })
    return pd.DataFrame(rows)


def compare(ps: pd.DataFrame, subset: str, metric: str) -> list[tuple[float, float, float, int, int, float]]:
    """(minutes, flow mean, ridge mean, n subjects flow lower, n subjects, Wilcoxon p) per minutes."""
    out = []
    for minutes in sorted(ps["minutes"].unique()):
        g = ps[(ps["subset"] == subset) & (ps["minutes"] == minutes)].pivot(index="subject", columns="method",
                                                                          values=metric).dropna()
        if g.empty:
            continue
        p = wilcoxon(g["flow"], g["ridge"]).pvalue if len(g) > 1 and (g["flow"] != g["ridge"]).any() else np.nan
        out.append((minutes, g["flow"].mean(), g["ridge"].mean(), int((g["flow"] < g["ridge"]).sum()), len(g), p))
    return out


#: Draw metrics of the flow versus ridge-gauss comparison (column, label); lower is better for all.
DRAW_METRICS = (("draw_kurtosis_err", "kurtosis err"), ("draw_skew_err", "skew err"),
                ("draw_ied_waveform_err", "IED waveform err"), ("draw_bp_mean", "band-power err"),
                ("draw_psd_hellinger", "PSD Hellinger"))


def draw_versus(contacts: pd.DataFrame, baseline: str = "ridge-gauss") -> pd.DataFrame:
    """Per subject x minutes x metric: mean over contacts of flow's and ``baseline``'s draw metrics.

    The IED-waveform error is averaged over the contacts with ground-truth
    discharges (it is NaN elsewhere); ``contacts`` counts the contacts averaged.
    """
    c = contacts[contacts["method"].isin(["flow", baseline])].copy()
    c["draw_bp_mean"] = c[[f"draw_bp_err_{b}" for b in BANDS]].mean(axis=1)
    rows = []
    for (sub, minutes), g in c.groupby(["subject", "minutes"]):
        for col, label in DRAW_METRICS:
            if col not in g:
                continue
            m = g.groupby("method")[col].agg(["mean", "count"])
            if not {"flow", baseline} <= set(m.index):
                continue
            f, b = m.loc["flow", "mean"], m.loc[baseline, "mean"]
            rows.append({"subject": sub, "minutes": minutes, "metric": label, "contacts": int(m.loc["flow", "count"]),
                         "flow": f, baseline: b, "winner": "flow" if f < b else baseline if b < f else "tie",
                         "ratio": f / b if b else np.nan})
    return pd.DataFrame(rows)


def print_draw_versus(contacts: pd.DataFrame, baseline: str = "ridge-gauss") -> None:
    """Markdown: :func:`draw_versus` per subject, the win count per metric, coverage per depth class and region."""
    dv = draw_versus(contacts, baseline)
    print(f"| subject | minutes | metric | contacts | flow | {baseline} | lower | flow / {baseline} |")
    print("|---|---|---|---|---|---|---|---|")
    for _, r in dv.iterrows():
        print(f"| {r['subject']} | {r['minutes']:g} | {r['metric']} | {r['contacts']} | {r['flow']:.4g} | "
              f"{r[baseline]:.4g} | {r['winner']} | {r['ratio']:.3f} |")
    print()
    print(f"| metric | minutes | subjects where flow < {baseline} | median ratio |")
    print("|---|---|---|---|")
    for (metric, minutes), g in dv.groupby(["metric", "minutes"], sort=False):
        print(f"| {metric} | {minutes:g} | {int((g['winner'] == 'flow').sum())}/{len(g)} | {g['ratio'].median():.3f} |")
    print()
    c = contacts[contacts["method"].isin(["flow", baseline])]
    for key in ("depth_class", "region"):
        t = c.groupby([key, "method"])["coverage90"].agg(["mean", "size"]).unstack("method")
        print(f"| {key} | contacts | coverage90 flow | coverage90 {baseline} |")
        print("|---|---|---|---|")
        for k, r in t.iterrows():
            print(f"| {k} | {int(r[('size', 'flow')])} | {r[('mean', 'flow')]:.3f} | {r[('mean', baseline)]:.3f} |")
        print()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results", type=Path)
    args = ap.parse_args()
    contacts = pd.read_csv(args.results / "contacts.tsv", sep="\t")
    if (contacts["method"] == "ridge-gauss").any():
        print_draw_versus(contacts)
    if not (contacts["method"] == "ridge").any():
        return
    ps = per_subject(contacts)
    flow = ps[ps["method"] == "flow"]
    print("| minutes | subjects | coverage all | superficial | deep | hipp/amyg | min over subjects (all) |")
    print("|---|---|---|---|---|---|---|")
    for minutes, g in flow.groupby("minutes"):
        cov = {s: g.loc[g["subset"] == s, "coverage"].mean() for s in ("all", "superficial", "deep", "hipp_amyg")}
        lo = g.loc[g["subset"] == "all", "coverage"].min()
        print(f"| {minutes:g} | {g['subject'].nunique()} | {cov['all']:.3f} | {cov['superficial']:.3f} | "
              f"{cov['deep']:.3f} | {cov['hipp_amyg']:.3f} | {lo:.3f} |")
    print()
    print("| subset | metric | minutes | flow | ridge | subjects where flow < ridge | Wilcoxon p |")
    print("|---|---|---|---|---|---|---|")
    for subset in ("all", "hipp_amyg"):
        for metric, name in (("bp", "band-power error (mean of 5 bands, decades)"), ("hellinger", "PSD Hellinger"),
                             ("fc", "alpha FC relative error"), ("r", "Pearson r (flow: posterior mean)")):
            for minutes, f, r, lower, n, p in compare(ps, subset, metric):
                print(f"| {subset} | {name} | {minutes:g} | {f:.3f} | {r:.3f} | {lower}/{n} | {p:.3g} |")
    print()
    c = contacts[contacts["method"] == "flow"]
    reg = c.groupby("region").agg(contacts=("coverage90", "size"), coverage=("coverage90", "mean"))
    print("coverage per region, pooled over subjects and calibration lengths: " + ", ".join(
        f"{r} {row.coverage:.3f} ({int(row.contacts)})" for r, row in reg.iterrows()))


if __name__ == "__main__":
    main()
