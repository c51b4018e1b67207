"""Self-contained HTML report of an evaluation run (matplotlib figures inlined as base64 PNG)."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import numpy as np

from ..io.atomic import atomic_path
from ..models.base import LINEAR_BASELINES
from .ceilings import label as ceiling_label
from .config import LIMIT, ORACLE, EvalResult
from .regions import region_html

#: Summary columns shown in the report's table, when present.
SUMMARY_COLS = ("method", "label", "minutes", "subset", "n_subjects", "n_contacts", "r_mean", "r_sd_across_folds",
                "r_ci_low", "r_ci_high", "r_win_median", "nmse", "psd_hellinger", "fc_alpha_rel_err_total",
                "r_fraction_of_limit", "r_fraction_of_oracle", "coverage90", "draw_psd_hellinger",
                "draw_fc_alpha_rel_err_total")


#: Rows that are baselines themselves, left out of the headline comparison with the strongest linear row
#: (``ridge-gauss``'s point estimate is ``ridge``'s).
BASELINE_ROWS = (*LINEAR_BASELINES, "ridge-gauss")


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return f'<img alt="figure" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def _largest(df, method: str) -> float:
    m = df.loc[df["method"] == method, "minutes"].dropna()
    return float(m.max()) if len(m) else float("nan")


def _at_largest(c, m: str):
    """``m``'s contact rows at its largest calibration length (all rows for a ceiling)."""
    g = c[c["method"] == m]
    return g if m in (LIMIT, ORACLE) else g[np.isclose(g["minutes"], _largest(c, m))]


def _region_bars(plt, groups: list[tuple[str, Any]], col: str, regs: list[str], width: float):
    """Grouped bar chart: per region, the mean of ``col`` in each (label, contacts frame) group."""
    fig, ax = plt.subplots(figsize=(max(6, 0.35 * len(regs) + 3), 4))
    for k, (label, g) in enumerate(groups):
        ax.bar(np.arange(len(regs)) + k * width, [g.loc[g["region"] == r, col].mean() for r in regs], width,
               label=label)
    ax.set_xticks(np.arange(len(regs)) + 0.4, regs, rotation=90, fontsize=7)
    ax.legend(fontsize=7)
    return fig, ax


def _identity_axes(ax) -> None:
    """The diagonal and r limits of a scatter of r against r."""
    ax.plot([-1, 1], [-1, 1], "k--", lw=0.8)
    ax.set_xlim(-0.2, 1)
    ax.set_ylim(-0.2, 1)


def _fig_regions(plt, c, methods: list[str]) -> tuple[str, str]:
    """r per region, each method at its largest calibration length, ceilings beside."""
    groups = [(m, _at_largest(c, m)) for m in methods + [x for x in (LIMIT, ORACLE) if x in set(c["method"])]]
    fig, ax = _region_bars(plt, groups, "r", sorted(c["region"].unique()), width=0.8 / max(1, len(methods) + 2))
    ax.set_ylabel("mean Pearson r")
    return "Pearson r per region (largest calibration length; all contacts)", _png(fig)


def _fig_distance(plt, c, methods: list[str]) -> tuple[str, str]:
    """r against the contact's distance to the scalp."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for m in methods + [x for x in (ORACLE,) if x in set(c["method"])]:
        g = _at_largest(c, m)
        ax.scatter(g["distance_to_scalp_mm"], g["r"], s=8, alpha=0.6, label=m)
    ax.set_xlabel("distance to scalp (mm)")
    ax.set_ylabel("Pearson r (test session)")
    ax.legend(fontsize=7)
    return "Pearson r against distance to scalp", _png(fig)


def _fig_minutes(plt, s, methods: list[str]) -> tuple[str, str]:
    """Mean r over subjects (bootstrap CI) against calibration minutes; ceilings as lines."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for m in methods:
        g = s[(s["method"] == m) & (s["subset"] == "all")].sort_values("minutes")
        ax.errorbar(g["minutes"], g["r_mean"], yerr=[g["r_mean"] - g["r_ci_low"], g["r_ci_high"] - g["r_mean"]],
                    marker="o", capsize=3, label=m)
    for m, ls in ((LIMIT, "--"), (ORACLE, ":")):
        g = s[(s["method"] == m) & (s["subset"] == "all")]
        if len(g):
            ax.axhline(float(g["r_mean"].iloc[0]), ls=ls, color="k", label=ceiling_label(m))
    ax.set_xlabel("calibration minutes")
    ax.set_ylabel("mean r over subjects (95 % bootstrap CI)")
    ax.legend(fontsize=7)
    return "Pearson r against calibration minutes (all contacts)", _png(fig)


def _fig_pairs(plt, c, methods: list[str]) -> list[tuple[str, str]]:
    """Method against method (and against the ridge limit), per contact; at most six."""
    pairs = [(a, b) for i, a in enumerate(methods) for b in methods[i + 1:]]
    pairs += [(m, LIMIT) for m in methods if LIMIT in set(c["method"])]
    out = []
    for a, b in pairs[:6]:
        ga = _at_largest(c, a).set_index(["subject", "contact"])["r"]
        gb = _at_largest(c, b).set_index(["subject", "contact"])["r"]
        j = ga.to_frame("a").join(gb.to_frame("b"), how="inner")
        fig, ax = plt.subplots(figsize=(4.5, 4.5))
        ax.scatter(j["b"], j["a"], s=8, alpha=0.6)
        _identity_axes(ax)
        ax.set_xlabel(f"r, {b}")
        ax.set_ylabel(f"r, {a}")
        out.append((f"{a} against {b}, per contact", _png(fig)))
    return out


def _fig_confidence(plt, c, methods: list[str]) -> tuple[str, str]:
    """Test-session r against the confidence (calibration held-out r)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for m in methods:
        g = c[(c["method"] == m) & c["confidence_r"].notna()]
        g = g[np.isclose(g["minutes"], _largest(c, m))]
        ax.scatter(g["confidence_r"], g["r"], s=8, alpha=0.6, label=m)
    _identity_axes(ax)
    ax.set_xlabel("confidence: calibration held-out r")
    ax.set_ylabel("test-session r")
    ax.legend(fontsize=7)
    return "Reliability of confidence (largest calibration length)", _png(fig)


def _fig_coverage(plt, c, methods: list[str]) -> list[tuple[str, str]]:
    """Per sampling method: coverage of the 90 % bands per region, one bar per calibration length."""
    sampled = [m for m in methods if c.loc[c["method"] == m, "coverage90"].notna().any()] if "coverage90" in c else []
    out = []
    for m in sampled:
        g = c[c["method"] == m]
        mins = sorted(g["minutes"].unique())
        groups = [(f"{M:g} min", g[np.isclose(g["minutes"], M)]) for M in mins]
        fig, ax = _region_bars(plt, groups, "coverage90", sorted(g["region"].unique()), width=0.8 / len(mins))
        ax.axhspan(0.85, 0.95, color="0.85", zorder=0, label="85-95 %")
        ax.axhline(0.9, color="k", lw=0.8)
        ax.set_ylim(0.5, 1.0)
        ax.set_ylabel("fraction of true samples in the 90 % band")
        ax.legend(fontsize=7)
        out.append((f"{m}: coverage of the 90 % posterior bands per region", _png(fig)))
    return out


def _fig_versus_strongest(plt, versus: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Per method: mean r minus the strongest linear baseline's (bootstrap CI) against calibration minutes."""
    rows = [v for v in versus if v["subset"] == "all" and v["mean_diff"] is not None]
    if not rows:
        return []
    fig, ax = plt.subplots(figsize=(6, 4))
    for k, m in enumerate(dict.fromkeys(v["method"] for v in rows)):
        g = sorted((v for v in rows if v["method"] == m), key=lambda v: v["minutes"])
        x = np.array([v["minutes"] for v in g]) * (1 + 0.02 * k)  # a small offset keeps error bars apart
        y = np.array([v["mean_diff"] for v in g])
        lo = np.array([np.nan if v["diff_ci_low"] is None else v["diff_ci_low"] for v in g])
        hi = np.array([np.nan if v["diff_ci_high"] is None else v["diff_ci_high"] for v in g])
        ax.errorbar(x, y, yerr=[y - lo, hi - y], marker="o", capsize=3, label=m)
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("calibration minutes")
    ax.set_ylabel("mean r minus strongest linear (95 % bootstrap CI)")
    ax.legend(fontsize=7)
    return [("Against the strongest linear baseline (chosen per subject on calibration data; all contacts)",
             _png(fig))]


def _headline_versus(versus: list[dict[str, Any]]) -> str:
    """Methods other than the linear baselines (cast, flow, source, ...) against the strongest linear row:
    one line per method, one column per calibration length, ``mean diff [95 % CI] (wins/subjects)``."""
    import pandas as pd

    rows = [v for v in versus if v["subset"] == "all" and v["method"] not in BASELINE_ROWS]
    if not rows:
        return ""

    def cell(v: dict[str, Any]) -> str:
        if v["mean_diff"] is None:
            return "n/a"
        ci = "" if v["diff_ci_low"] is None else f" [{v['diff_ci_low']:+.3f}, {v['diff_ci_high']:+.3f}]"
        return f"{v['mean_diff']:+.3f}{ci} ({v['wins']}/{v['n_subjects']})"

    table = pd.DataFrame([{"method": v["method"], "minutes": float(v["minutes"]), "cell": cell(v)} for v in rows])
    table = table.pivot(index="method", columns="minutes", values="cell")  # columns in increasing minutes
    table = table.rename(columns=lambda m: f"{m:g} min").reset_index().rename_axis(columns=None)
    return ("<h3>Each method against the strongest linear row, per calibration length (all contacts)</h3><p>Mean "
            "over subjects of the method's r minus the strongest linear baseline's, 95 % bootstrap CI, subjects "
            "where the method is higher / subjects.</p>" + table.to_html(index=False, na_rep="n/a"))


def _versus_html(st: dict[str, Any]) -> str:
    """The strongest-linear section: each non-baseline method per calibration length, every comparison (tests,
    CIs, effect sizes), the choices, the oracle choice."""
    versus = st.get("versus_strongest_linear") or []
    if not versus:
        return ""
    import pandas as pd

    cols = ["subset", "minutes", "method", "n_subjects", "mean_diff", "diff_ci_low", "diff_ci_high", "wins",
            "statistic", "p", "rank_biserial"]
    table = pd.DataFrame(versus)[cols].to_html(index=False, float_format=lambda v: f"{v:.3g}", na_rep="n/a")
    chosen = "".join(f"<li>sub-{html.escape(str(c['subject']))}, {c['minutes']:g} min: {html.escape(c['chosen'])}</li>"
                     for c in st.get("strongest_linear", []))
    orc = "".join(f"<li>{o['minutes']:g} min: {html.escape(o['best'])} (mean r {o['r_mean']:.3f})</li>"
                  for o in st.get("strongest_linear_oracle", []) if o.get("r_mean") is not None)
    return (f"<h2>Against the strongest linear baseline</h2><p>Per subject and calibration length, the linear "
            f"baseline with the highest mean confidence r (calibration data only). Paired over subjects: "
            f"mean difference (method minus strongest linear) with its bootstrap 95 % CI, subjects won, "
            f"Wilcoxon signed-rank test, matched-pairs rank-biserial correlation.</p>{_headline_versus(versus)}"
            f"<h3>All comparisons</h3>{table}"
            f"<h3>Chosen baselines</h3><ul>{chosen}</ul><h3>Best baseline by mean test r (an oracle choice, "
            f"favours the baselines)</h3><ul>{orc}</ul>")


def figures(result: EvalResult) -> list[tuple[str, str]]:
    """(title, <img> tag) pairs: r per region, r vs distance, r vs minutes, method vs method, confidence,
    coverage of sampling methods."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    c = result.contacts
    methods = [m for m in dict.fromkeys(c["method"]) if m not in (LIMIT, ORACLE)]
    out = [_fig_regions(plt, c, methods), _fig_distance(plt, c, methods),
           _fig_minutes(plt, result.summary, methods)]
    out += _fig_pairs(plt, c, methods)
    out.append(_fig_confidence(plt, c, methods))
    out += _fig_coverage(plt, c, methods)
    out += _fig_versus_strongest(plt, result.stats.get("versus_strongest_linear") or [])
    return out


def write_report(result: EvalResult, path: str | Path) -> Path:
    """Write ``report.html`` (figures inlined; tables from the summary and statistics).

    Parameters
    ----------
    result : EvalResult
    path : path-like

    Returns
    -------
    Path
    """
    path = Path(path)
    s = result.summary
    table = s[[c for c in SUMMARY_COLS if c in s]].to_html(index=False, float_format=lambda v: f"{v:.3f}",
                                                           na_rep="n/a")
    st = result.stats
    rel = "".join(f"<li>{html.escape(str(r))}</li>" for r in st.get("confidence_reliability", []))
    wil = "".join(f"<li>{html.escape(str(r))}</li>" for r in st.get("wilcoxon", []) if r.get("p") is not None)
    skipped = "".join(f"<li>{html.escape(x)}</li>" for x in st.get("skipped", []))
    figs = "".join(f"<h3>{html.escape(t)}</h3>{img}" for t, img in figures(result))
    doc = f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>ieegrecon evaluate</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:auto}} table{{border-collapse:collapse;font-size:12px}}
td,th{{border:1px solid #ccc;padding:2px 5px}} img{{max-width:100%}}</style></head><body>
<h1>ieegrecon evaluate</h1>
<p>Data: {html.escape(str(st.get('root')))}; subjects: {html.escape(', '.join(st.get('subjects', [])))}.</p>
<h2>Protocol</h2><pre>{html.escape(str(st.get('protocol', '')))}</pre>
<h2>Summary (mean over subjects; SD across folds; 95 % bootstrap CI over subjects)</h2>{table}
{_versus_html(st)}
{region_html(result)}
<h2>Figures</h2>{figs}
<h2>Reliability of confidence (Spearman, pooled contacts)</h2><ul>{rel}</ul>
<h2>Paired Wilcoxon signed-rank tests across subjects</h2><ul>{wil}</ul>
<h2>Skipped / notes</h2><ul>{skipped}</ul>
</body></html>"""
    with atomic_path(path) as tmp:
        tmp.write_text(doc, encoding="utf-8")
    return path
