"""Markdown tables from one or more ``ieegrecon evaluate`` results folders, pooled over their subjects.

::

    python benchmarks/eval_tables.py RESULTS [RESULTS ...] [--names 50021,50023] [--subset all]

Each folder's ``contacts.tsv`` is read; with several folders their subjects are
told apart by a prefix (``--names``, default the folder names) and the
statistics are recomputed on the pooled contacts with
:func:`ieegrecon.evaluation.stats.summarize` (the settings of the first folder's
``stats.json``: calibration lengths, bootstrap resamples and seed), exactly as
``evaluate`` computes them for one folder. Prints:

1. mean r per method and calibration length (all / superficial / deep contacts),
   bootstrap 95 % CI over subjects, and r as a fraction of the lagged Wiener limit;
2. every method against the strongest linear row (per subject, the linear
   baseline with the best calibration-session confidence r), paired over subjects;
3. IED F1 per depth class and for hippocampus/amygdala contacts (surrogate, true
   iEEG, scalp alone), where the cohort has ground-truth events;
4. CAST's protocol: ``selected_r`` beside all-contact r, and the fraction selected;
5. per atlas region (both hemispheres together; contacts pooled over subjects, as
   ``by_region.tsv``): r and IED F1 of the methods in ``--region-methods`` at one
   calibration length, beside the detector on the true iEEG and on the scalp alone.

Reporting glue only; no figure here is computed differently from ``evaluate``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from ieegrecon.evaluation.config import EvalConfig
from ieegrecon.evaluation.regions import region_detail
from ieegrecon.evaluation.stats import STRONGEST, subset, summarize


def pooled_contacts(folders: list[Path], names: list[str]) -> pd.DataFrame:
    """Contact rows of every folder; subjects prefixed ``NAME-`` when there are several folders."""
    frames = []
    for folder, name in zip(folders, names):
        c = pd.read_csv(folder / "contacts.tsv", sep="\t", dtype={"subject": str})
        if len(folders) > 1:
            c["subject"] = name + "-" + c["subject"].astype(str)
        frames.append(c)
    return pd.concat(frames, ignore_index=True)


def config_of(folder: Path) -> EvalConfig:
    """The bootstrap and calibration settings of an evaluate run (``stats.json`` → ``config``)."""
    cfg = json.loads((folder / "stats.json").read_text())["config"]
    return EvalConfig(methods=list(cfg["methods"]), calibration_minutes=list(cfg["calibration_minutes"]),
                      n_boot=int(cfg["n_boot"]), seed=int(cfg["seed"]))


def _fmt(v, nd: int = 3) -> str:
    return "" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.{nd}f}"


def _minutes(v) -> str:
    return "n/a" if pd.isna(v) else f"{float(v):g}"


def summary_md(summary: pd.DataFrame) -> str:
    """Table 1: r per method and length, with its CI and fraction of the lagged Wiener limit."""
    piv = summary.set_index(["method", "minutes", "subset"])
    lines = ["| method | calibration (min) | subjects | r, all contacts [95 % CI] | superficial | deep | "
             "r / lagged Wiener limit |", "|---|---|---|---|---|---|---|"]
    rows = summary[summary["subset"] == "all"].sort_values(["minutes", "method"], na_position="last")
    for row in rows.itertuples():
        def r_of(name):
            try:
                return piv.loc[(row.method, row.minutes, name), "r_mean"]
            except KeyError:
                return np.nan
        lines.append(f"| {row.label} | {_minutes(row.minutes)} | {row.n_subjects} | {_fmt(row.r_mean)} "
                     f"[{_fmt(row.r_ci_low)}, {_fmt(row.r_ci_high)}] | {_fmt(r_of('superficial'))} | "
                     f"{_fmt(r_of('deep'))} | {_fmt(row.r_fraction_of_limit)} |")
    return "\n".join(lines)


def versus_md(versus: list[dict], subset_name: str = "all") -> str:
    """Table 2: every method minus the strongest linear row, paired over subjects."""
    lines = ["| minutes | method | subjects | mean diff vs strongest linear [95 % CI] | wins | Wilcoxon p | "
             "rank-biserial |", "|---|---|---|---|---|---|---|"]
    for v in sorted((v for v in versus if v["subset"] == subset_name), key=lambda v: (v["minutes"], v["method"])):
        p, rb = v["p"], v["rank_biserial"]
        lines.append(f"| {v['minutes']:g} | {v['method']} | {v['n_subjects']} | {v['mean_diff']:+.3f} "
                     f"[{v['diff_ci_low']:+.3f}, {v['diff_ci_high']:+.3f}] | {v['wins']}/{v['n_subjects']} | "
                     f"{'n/a' if p is None else f'{p:.3g}'} | {'n/a' if rb is None else f'{rb:.2f}'} |")
    return "\n".join(lines)


def ied_md(contacts: pd.DataFrame) -> str:
    """Table 3: IED F1 per subset, mean over subjects of the mean over contacts with ground truth."""
    if "ied_f1" not in contacts or not np.isfinite(contacts["ied_f1"].to_numpy(float)).any():
        return "(no IED ground truth in these results)"
    names = ("all", "superficial", "deep", "hipp_amyg")
    lines = ["| method | minutes | " + " | ".join(f"F1 {n}" for n in names) + " | true iEEG (all / deep) | "
             "scalp alone (all / deep) |", "|---|---|" + "---|" * (len(names) + 2)]
    c = contacts[np.isfinite(contacts["ied_f1"].to_numpy(float))]

    def mean_of(s, col):
        return s.groupby("subject")[col].mean().mean() if len(s) else np.nan

    for (method, _), g in c.groupby(["method", c["minutes"].fillna(-1.0)], sort=True):
        sub = {n: subset(g, n) for n in names}
        lines.append(f"| {method} | {_minutes(g['minutes'].iloc[0])} | "
                     + " | ".join(_fmt(mean_of(sub[n], "ied_f1")) for n in names)
                     + f" | {_fmt(mean_of(g, 'ied_f1_ieeg'))} / {_fmt(mean_of(sub['deep'], 'ied_f1_ieeg'))}"
                     + f" | {_fmt(mean_of(g, 'ied_f1_scalp'))} / {_fmt(mean_of(sub['deep'], 'ied_f1_scalp'))} |")
    return "\n".join(lines)


def selection_md(contacts: pd.DataFrame) -> str:
    """Table 4: CAST's protocol, selected_r beside all-contact r (means over subjects)."""
    if "selected_r" not in contacts:
        return "(no selected_r in these results)"
    lines = ["| method | minutes | r, all contacts | selected_r | fraction selected |", "|---|---|---|---|---|"]
    for (method, minutes), g in contacts.groupby(["method", contacts["minutes"].fillna(-1.0)], sort=True):
        if not np.isfinite(g["selected_fraction"].to_numpy(float)).any():
            continue
        per = g.groupby("subject").agg(r=("r", "mean"), sel=("selected_r", "mean"),
                                       frac=("selected_fraction", "mean"))
        lines.append(f"| {method} | {_minutes(g['minutes'].iloc[0])} | {_fmt(per['r'].mean())} | "
                     f"{_fmt(per['sel'].mean())} | {_fmt(per['frac'].mean(), 2)} |")
    return "\n".join(lines)


def regions_md(contacts: pd.DataFrame, methods: list[str], minutes: float) -> str:
    """Table 5: r and IED F1 per atlas region (hemispheres merged), contacts pooled over subjects.

    The means are :func:`ieegrecon.evaluation.regions.region_detail`'s (what ``by_region.tsv`` holds),
    computed with each region's two hemispheres as one group.
    """
    c = contacts[contacts["method"].isin(methods) & np.isclose(contacts["minutes"].to_numpy(float), minutes)]
    if c.empty:
        return f"(none of {methods} at {minutes:g} min in these results)"
    det = region_detail(c.assign(region=c["region"].astype(str).str.replace(r"_[LR]$", "", regex=True)))
    det = det[det["level"] == "region"].set_index(["group", "method"])
    has_ied = "ied_f1" in det and np.isfinite(det["ied_f1"].to_numpy(float)).any()
    head = (["region", "contacts", "subjects"] + [f"r {m}" for m in methods]
            + ([f"IED F1 {m}" for m in methods] + ["IED F1 true iEEG", "IED F1 scalp", "contacts with IEDs"]
               if has_ied else []))

    def cell(area, method, col):
        return det[col].get((area, method), np.nan)

    def count(area, col):  # 0 where the first method has no row in the region (as an empty group gave)
        v = cell(area, methods[0], col)
        return str(int(v)) if np.isfinite(v) else "0"

    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for area in sorted(det.index.get_level_values("group").unique()):
        first = methods[0]
        row = [area, count(area, "n_contacts"), count(area, "n_subjects")]
        row += [_fmt(cell(area, m, "r")) for m in methods]
        if has_ied:
            row += [_fmt(cell(area, m, "ied_f1")) for m in methods]
            row += [_fmt(cell(area, first, "ied_f1_ieeg")), _fmt(cell(area, first, "ied_f1_scalp")),
                    count(area, "ied_n_contacts")]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", nargs="+", type=Path)
    ap.add_argument("--names", default=None, help="comma-separated subject prefixes, one per folder")
    ap.add_argument("--region-methods", default="cast,xs-ridge,source",
                    help="methods of the per-region table (comma-separated)")
    ap.add_argument("--region-minutes", type=float, default=1.0, help="calibration length of the per-region table")
    args = ap.parse_args(argv)
    names = args.names.split(",") if args.names else [p.name for p in args.results]
    contacts = pooled_contacts(args.results, names)
    subjects, _, summary, stats = summarize(contacts, config_of(args.results[0]))
    choices = pd.DataFrame(stats["strongest_linear"])
    print(f"{contacts['subject'].nunique()} subjects, {len(contacts)} contact rows\n")
    print("## r per method\n\n" + summary_md(summary) + "\n")
    if len(choices):
        print(f"{STRONGEST}: chosen per subject and length among "
              + ", ".join(f"{m} ({n}x)" for m, n in choices['chosen'].value_counts().items()) + "\n")
    print("## Against the strongest linear row (all contacts)\n\n" + versus_md(stats["versus_strongest_linear"]) + "\n")
    print("## IED F1\n\n" + ied_md(contacts) + "\n")
    print("## CAST's protocol\n\n" + selection_md(contacts) + "\n")
    print(f"## Per region at {args.region_minutes:g} min\n\n"
          + regions_md(contacts, args.region_methods.split(","), args.region_minutes))


if __name__ == "__main__":
    main()
