"""Statistics across subjects: per-subject and per-region tables, the summary, and the tests.

SD across folds, seeded bootstrap 95 % CIs of the mean over subjects
(:func:`bootstrap_ci`), paired Wilcoxon signed-rank tests between methods
(:func:`scipy.stats.wilcoxon`), and the Spearman correlation between
confidence and test r (:func:`scipy.stats.spearmanr`).

The **strongest linear** row (:data:`STRONGEST`, :func:`strongest_linear`) is,
per subject and calibration length, the linear baseline
(:data:`~ieegrecon.models.base.LINEAR_BASELINES`) with the highest mean
confidence r, i.e. chosen on calibration data only, as a practitioner could;
:func:`versus_strongest` compares every method with it per subject (paired
Wilcoxon, bootstrap CI of the mean difference, matched-pairs rank-biserial
correlation). The baseline with the best mean *test* r per calibration length
is also reported (``strongest_linear_oracle``): an oracle choice that favours
the baselines, for a conservative comparison.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from ..models.base import LINEAR_BASELINES
from .ceilings import ORACLE_NAMES, label
from .config import LIMIT, METRIC_COLS, ORACLE, SUBSETS, EvalConfig

#: Method name of the strongest-linear row (per subject and M, the baseline chosen on calibration data).
STRONGEST = "strongest-linear"

#: Per-recording columns (one value per subject and method), copied into the subject table.
_TOTAL_COLS = ("fc_alpha_rel_err_total", "draw_fc_alpha_rel_err_total")


def bootstrap_ci(values: np.ndarray, n_boot: int, seed: int, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean (resampling subjects with replacement).

    Parameters
    ----------
    values : ndarray, shape (n_subjects,)
        NaNs are dropped.
    n_boot : int
    seed : int
        Seed of :func:`numpy.random.default_rng`.
    level : float

    Returns
    -------
    (low, high) : floats (NaN with fewer than 2 values)
    """
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if len(v) < 2 or n_boot < 1:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), size=(n_boot, len(v)))].mean(axis=1)
    q = (1 - level) / 2
    return float(np.quantile(means, q)), float(np.quantile(means, 1 - q))


def subset(df, name: str):
    """The contacts of ``df`` in subset ``name`` (one of :data:`~ieegrecon.evaluation.config.SUBSETS`)."""
    if name == "all":
        return df
    if name == "viable":
        return df[df["viable"]]
    if name == "hipp_amyg":
        return df[df["region"].str.contains("hippocampus|amygdala", regex=True)]
    return df[df["depth_class"] == name]


def summarize(contacts, cfg: EvalConfig):
    """Per-subject, per-region and overall tables plus statistics.

    Parameters
    ----------
    contacts : pandas.DataFrame
        Rows from :func:`ieegrecon.evaluation.protocol.evaluate_subject`.
    cfg : EvalConfig

    Returns
    -------
    subjects, regions, summary : pandas.DataFrame
    stats : dict
    """
    import pandas as pd

    df = contacts.copy()
    df["minutes_key"] = df["minutes"].fillna(-1.0)
    best, choices = strongest_linear(df)
    if len(best):
        df = pd.concat([df, best], ignore_index=True)
    subjects = subject_table(df)
    summary = summary_table(subjects, cfg)
    regions = region_table(df)
    stats: dict[str, Any] = {"wilcoxon": wilcoxon_tests(subjects, df, cfg),
                             "confidence_reliability": confidence_reliability(df),
                             "strongest_linear": choices,
                             "strongest_linear_oracle": oracle_choice(subjects),
                             "versus_strongest_linear": versus_strongest(subjects, cfg)}
    return subjects, regions, summary, stats


def strongest_linear(df, baselines: tuple[str, ...] = LINEAR_BASELINES):
    """Contact rows of the strongest linear baseline per (subject, calibration length), chosen on calibration data.

    Parameters
    ----------
    df : pandas.DataFrame
        Contact rows with ``minutes_key``.
    baselines : tuple of str
        Candidates; at least two must have been evaluated, else no row is made.

    Returns
    -------
    rows : pandas.DataFrame
        The chosen baseline's rows relabelled :data:`STRONGEST` (empty without two candidates).
    choices : list of dict
        ``subject``, ``minutes``, ``chosen`` and each candidate's mean confidence r.
    """
    import pandas as pd

    cand = df[df["method"].isin(baselines) & df["confidence_r"].notna()]
    if cand["method"].nunique() < 2:
        return df.iloc[:0], []
    rows, choices = [], []
    for (sub, mk), g in cand.groupby(["subject", "minutes_key"], sort=True):
        score = g.groupby("method")["confidence_r"].mean()
        chosen = str(score.idxmax())
        rows.append(g[g["method"] == chosen].assign(method=STRONGEST))
        choices.append({"subject": sub, "minutes": float(mk), "chosen": chosen,
                        "confidence_r": {m: _f(v) for m, v in score.items()}})
    return pd.concat(rows, ignore_index=True), choices


def oracle_choice(subjects, baselines: tuple[str, ...] = LINEAR_BASELINES) -> list[dict[str, Any]]:
    """Per calibration length, the baseline with the best mean test r over subjects (all contacts).

    An oracle choice (made on the test data): it favours the baselines, so a
    method beating it is compared conservatively.

    Parameters
    ----------
    subjects : pandas.DataFrame
        :func:`subject_table`.
    baselines : tuple of str
        Candidates.

    Returns
    -------
    list of dict
        ``minutes``, ``best``, ``r_mean`` and ``r_mean_per_baseline``.
    """
    g = subjects[subjects["method"].isin(baselines) & (subjects["subset"] == "all")]
    out = []
    for M, h in g.groupby("minutes", sort=True):
        means = h.groupby("method")["r"].mean()
        out.append({"minutes": float(M), "best": str(means.idxmax()), "r_mean": _f(means.max()),
                    "r_mean_per_baseline": {m: _f(v) for m, v in means.items()}})
    return out


def rank_biserial(d: np.ndarray) -> float:
    """Matched-pairs rank-biserial correlation of paired differences ``d`` (Kerby 2014), in [-1, 1].

    ``(R+ - R-) / (R+ + R-)`` with ``R±`` the sums of the ranks of ``|d|``
    (zeros dropped, ties averaged) of the positive and negative differences;
    +1 when every subject favours the first method.

    Parameters
    ----------
    d : ndarray, shape (n_subjects,)
        Paired differences (first method minus second); NaNs are dropped.

    Returns
    -------
    float
        NaN without a non-zero difference.
    """
    from scipy.stats import rankdata

    d = np.asarray(d, float)
    d = d[np.isfinite(d) & (d != 0)]
    if not len(d):
        return float("nan")
    ranks = rankdata(np.abs(d))
    return float((ranks[d > 0].sum() - ranks[d < 0].sum()) / ranks.sum())


def versus_strongest(subjects, cfg: EvalConfig) -> list[dict[str, Any]]:
    """Every method against :data:`STRONGEST` per subset ("all", "viable") and calibration length.

    Every evaluated method is compared (the linear baselines themselves, ``ridge-gauss``, and the
    learned methods ``cast``, ``flow``, ``source`` when present), ceilings excepted, on the subjects
    both have at that length (a zero-shot length, where no baseline runs, gives no row).

    Parameters
    ----------
    subjects : pandas.DataFrame
        :func:`subject_table` with the :data:`STRONGEST` rows (:func:`summarize` adds them).
    cfg : EvalConfig
        ``calibration_minutes``, ``n_boot`` and ``seed`` (of the bootstrap CI).

    Returns
    -------
    list of dict
        ``subset``, ``minutes``, ``method``, ``n_subjects``, ``mean_diff`` (method minus strongest
        linear, mean over subjects) with its bootstrap 95 % CI (``diff_ci_low``, ``diff_ci_high``),
        ``wins`` (subjects where the method is higher), Wilcoxon ``statistic`` and ``p``, and
        ``rank_biserial`` (effect size).
    """
    if STRONGEST not in set(subjects["method"]):
        return []
    methods = [m for m in dict.fromkeys(subjects["method"]) if m not in (STRONGEST, LIMIT, *ORACLE_NAMES)]
    out = []
    for subset_name in ("all", "viable"):
        for M in cfg.calibration_minutes:
            for m in methods:
                res = _paired_test(subjects, (m, M), (STRONGEST, M), subset_name, M)
                d = _paired_diffs(subjects, (m, M), (STRONGEST, M), subset_name)
                if not len(d):
                    continue
                lo, hi = bootstrap_ci(d, cfg.n_boot, cfg.seed)
                out.append({"subset": subset_name, "minutes": M, "method": m, "n_subjects": len(d),
                            "mean_diff": _f(d.mean()), "diff_ci_low": _f(lo), "diff_ci_high": _f(hi),
                            "wins": int((d > 0).sum()), "statistic": res["statistic"], "p": res["p"],
                            "rank_biserial": _f(rank_biserial(d))})
    return out


def _paired_diffs(subjects, ka: tuple[str, float | None], kb: tuple[str, float | None], subset_name: str
                  ) -> np.ndarray:
    """Per-subject differences of mean r, ``ka`` minus ``kb``, over the subjects both have (finite)."""
    va, vb = _subject_values(subjects, ka, subset_name), _subject_values(subjects, kb, subset_name)
    d = np.array([va[s] - vb[s] for s in sorted(set(va) & set(vb))], float)
    return d[np.isfinite(d)]


def subject_table(df):
    """Mean metrics per (subject, method, minutes, subset), with r as a fraction of each ceiling."""
    import pandas as pd

    srows = []
    for (sub, method, mk), g in df.groupby(["subject", "method", "minutes_key"], sort=True):
        for name in SUBSETS:
            s = subset(g, name)
            row = {"subject": sub, "method": method, "minutes": g["minutes"].iloc[0], "subset": name,
                   "n_contacts": len(s)}
            for c in METRIC_COLS:  # a column the rows lack (results of an older release): NaN
                row[c] = float(s[c].mean()) if len(s) and c in s else np.nan
            for c in _TOTAL_COLS:
                row[c] = float(g[c].iloc[0])
            srows.append(row)
    subjects = pd.DataFrame(srows)
    for ceiling, col in ((LIMIT, "r_fraction_of_limit"), (ORACLE, "r_fraction_of_oracle")):
        ref = subjects[subjects["method"] == ceiling].set_index(["subject", "subset"])["r"]
        subjects[col] = [
            (row.r / ref.get((row.subject, row.subset), np.nan))
            if ref.get((row.subject, row.subset), np.nan) not in (0.0,) else np.nan
            for row in subjects.itertuples()]
    return subjects


def summary_table(subjects, cfg: EvalConfig):
    """Per (method, subset, minutes): mean r over subjects, its SD across folds and bootstrap CI, mean metrics."""
    import pandas as pd

    sum_rows = []
    for (method, subset_name), g in subjects.groupby(["method", "subset"], sort=True):
        for minutes, h in g.groupby(g["minutes"].fillna(-1.0), sort=True):
            vals = h["r"].to_numpy()
            lo, hi = bootstrap_ci(vals, cfg.n_boot, cfg.seed)
            row = {"method": method, "label": label(method), "minutes": h["minutes"].iloc[0], "subset": subset_name,
                   "n_subjects": int(np.isfinite(vals).sum()), "n_contacts": int(h["n_contacts"].sum()),
                   "r_mean": float(np.nanmean(vals)) if np.isfinite(vals).any() else np.nan,
                   "r_sd_across_folds": float(np.nanstd(vals, ddof=1)) if np.isfinite(vals).sum() > 1 else np.nan,
                   "r_ci_low": lo, "r_ci_high": hi}
            for c in METRIC_COLS[1:] + _TOTAL_COLS + ("r_fraction_of_limit", "r_fraction_of_oracle"):
                v = h[c].to_numpy(dtype=float)
                row[c] = float(np.nanmean(v)) if np.isfinite(v).any() else np.nan
            sum_rows.append(row)
    return pd.DataFrame(sum_rows)


def region_table(df):
    """Per (method, minutes, region): contacts, subjects, mean and median r, mean NMSE, coverage, distance."""
    return (df.groupby(["method", "minutes_key", "region"], sort=True)
            .agg(minutes=("minutes", "first"), n_contacts=("r", "size"), n_subjects=("subject", "nunique"),
                 r_mean=("r", "mean"), r_median=("r", "median"), nmse_mean=("nmse", "mean"),
                 coverage90=("coverage90", "mean"),
                 distance_to_scalp_mm=("distance_to_scalp_mm", "mean"))
            .reset_index().drop(columns="minutes_key"))


def wilcoxon_tests(subjects, df, cfg: EvalConfig) -> list[dict[str, Any]]:
    """Paired Wilcoxon signed-rank tests of subject-mean r between every two methods (and ceilings),
    per subset ("all", "viable") and calibration length.

    Parameters
    ----------
    subjects : pandas.DataFrame
        :func:`subject_table`.
    df : pandas.DataFrame
        Contact rows (which ceilings were computed).
    cfg : EvalConfig

    Returns
    -------
    list of dict
        ``subset``, ``minutes``, ``a``, ``b``, ``n_subjects``, ``mean_a``, ``mean_b``, ``median_diff``,
        ``statistic`` and ``p`` (None with fewer than two subjects or no difference).
    """
    ceilings = (LIMIT, *ORACLE_NAMES)
    methods = [m for m in cfg.methods] + [m for m in ceilings if m in set(df["method"])]
    out = []
    for subset_name in ("all", "viable"):
        for M in cfg.calibration_minutes:
            for a, b in itertools.combinations(methods, 2):
                ka = (a, M if a not in ceilings else None)
                kb = (b, M if b not in ceilings else None)
                out.append(_paired_test(subjects, ka, kb, subset_name, M))
    return out


def _paired_test(subjects, ka: tuple[str, float | None], kb: tuple[str, float | None], subset_name: str,
                 M: float) -> dict[str, Any]:
    """One Wilcoxon test between the subjects both ``ka`` and ``kb`` (method, minutes) have."""
    from scipy import stats as st

    va, vb = _subject_values(subjects, ka, subset_name), _subject_values(subjects, kb, subset_name)
    common = sorted(set(va) & set(vb))
    x = np.array([va[s] for s in common])
    y = np.array([vb[s] for s in common])
    ok = np.isfinite(x) & np.isfinite(y)
    res = {"subset": subset_name, "minutes": M, "a": ka[0], "b": kb[0], "n_subjects": int(ok.sum()),
           "mean_a": _f(np.mean(x[ok])) if ok.any() else None,
           "mean_b": _f(np.mean(y[ok])) if ok.any() else None,
           "median_diff": _f(np.median(x[ok] - y[ok])) if ok.any() else None,
           "statistic": None, "p": None}
    if ok.sum() >= 2 and np.any(x[ok] != y[ok]):
        w = st.wilcoxon(x[ok], y[ok])
        res["statistic"], res["p"] = _f(w.statistic), _f(w.pvalue)
    return res


def confidence_reliability(df) -> list[dict[str, Any]]:
    """Spearman correlation between confidence r and test r over pooled contacts, per method and minutes."""
    from scipy import stats as st

    out = []
    for (method, mk), g in df[df["confidence_r"].notna()].groupby(["method", "minutes_key"], sort=True):
        ok = np.isfinite(g["confidence_r"].to_numpy(float)) & np.isfinite(g["r"].to_numpy(float))
        res = {"method": method, "minutes": float(mk), "n_contacts": int(ok.sum()),
               "n_subjects": int(g["subject"].nunique()), "spearman_rho": None, "p": None}
        if ok.sum() >= 3:
            rho = st.spearmanr(g["confidence_r"][ok], g["r"][ok])
            res["spearman_rho"], res["p"] = _f(rho.statistic), _f(rho.pvalue)
        out.append(res)
    return out


def _subject_values(subjects, key: tuple[str, float | None], subset_name: str) -> dict[str, float]:
    """Subject -> mean r of (method, minutes) ``key`` in ``subset_name`` (minutes None: a ceiling)."""
    method, M = key
    g = subjects[(subjects["method"] == method) & (subjects["subset"] == subset_name)]
    if M is not None:
        g = g[np.isclose(g["minutes"].astype(float), M)]
    return dict(zip(g["subject"], g["r"].astype(float)))


def _f(v) -> float | None:
    v = float(v)
    return v if np.isfinite(v) else None
