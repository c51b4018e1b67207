"""Per-region results: r, CAST's selected r and IED F1 by atlas region and by depth class.

:func:`region_detail` is written as ``by_region.tsv``; :func:`region_html`
renders it for ``report.html``. Means are over contacts pooled across
subjects (a region is often present in one or two subjects only, so a mean
over subjects would mostly be a single subject's value); ``n_subjects``
says how many subjects the contacts come from.
"""

from __future__ import annotations

import html

import numpy as np

from .config import LIMIT, ORACLE

#: Columns averaged per group (when present in the contacts table).
REGION_COLS = ("r", "selected_r", "selected_fraction", "ied_f1", "ied_f1_ieeg", "ied_f1_scalp")


def region_detail(contacts):
    """Mean r, selected r, fraction selected and IED F1 per (method, minutes, level, group).

    Parameters
    ----------
    contacts : pandas.DataFrame
        The contacts table (one row per subject, method, minutes, scored channel).

    Returns
    -------
    pandas.DataFrame
        Columns ``method``, ``minutes``, ``level`` (``'region'`` or
        ``'depth_class'``), ``group`` (the region key or depth class),
        ``n_contacts``, ``n_subjects`` and the means of :data:`REGION_COLS`
        (``n_selected``: contacts selected; ``ied_n_contacts``: contacts
        with a defined ``ied_f1``).
    """
    import pandas as pd

    df = contacts.copy()
    df["minutes_key"] = df["minutes"].fillna(-1.0)
    cols = [c for c in REGION_COLS if c in df]
    out = []
    for level in ("region", "depth_class"):
        for (method, mk, group), g in df.groupby(["method", "minutes_key", level], sort=True):
            row = {"method": method, "minutes": g["minutes"].iloc[0], "level": level, "group": group,
                   "n_contacts": len(g), "n_subjects": g["subject"].nunique()}
            for c in cols:
                v = g[c].to_numpy(float)
                row[c] = float(np.nanmean(v)) if np.isfinite(v).any() else np.nan
            if "selected_fraction" in g:
                row["n_selected"] = int(np.nansum(g["selected_fraction"].to_numpy(float)))
            if "ied_f1" in g:
                row["ied_n_contacts"] = int(np.isfinite(g["ied_f1"].to_numpy(float)).sum())
            out.append(row)
    return pd.DataFrame(out)


def region_html(result) -> str:
    """HTML section of the per-region table: each method at its largest calibration length (ceilings beside)."""
    t = result.by_region
    if t is None or not len(t):
        return ""
    keep = []
    for method, g in t.groupby("method", sort=True):
        if method in (LIMIT, ORACLE):
            keep.append(g)
        else:
            keep.append(g[np.isclose(g["minutes"], g["minutes"].max())])
    import pandas as pd

    t = pd.concat(keep).sort_values(["level", "group", "method"])
    table = t.to_html(index=False, float_format=lambda v: f"{v:.3f}", na_rep="n/a")
    return ("<h2>Per region and depth class (largest calibration length; contacts pooled over subjects)</h2>"
            "<p>selected_r: test r of the contacts selected on calibration data (CAST's protocol); "
            "ied_f1: IED detection F1 against the simulator's ground truth on the surrogate, "
            f"ied_f1_ieeg on the true iEEG, ied_f1_scalp on the scalp alone.</p>{table}"
            f"<p>{html.escape('All lengths: by_region.tsv')}</p>")
