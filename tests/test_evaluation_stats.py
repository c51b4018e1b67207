"""evaluation.stats: the bootstrap CI, and the tables and tests of :func:`summarize` on a known contacts table."""

import numpy as np
import pandas as pd

from ieegrecon.evaluation.config import LIMIT, METRIC_COLS, POSTERIOR_COLS, EvalConfig
from ieegrecon.evaluation.stats import bootstrap_ci, subset, summarize


def test_bootstrap_ci_is_seeded_and_brackets_mean():
    v = np.array([0.1, 0.2, 0.35, 0.4, 0.5, 0.6])
    lo, hi = bootstrap_ci(v, 500, seed=3)
    assert lo < v.mean() < hi
    assert (lo, hi) == bootstrap_ci(v, 500, seed=3)
    assert np.isnan(bootstrap_ci(v[:1], 500, seed=3)[0])


def contacts_table(n_subjects: int = 4, n_contacts: int = 6, seed: int = 0) -> pd.DataFrame:
    """A contacts table as evaluate_subject writes it: ridge at 1 min and the ridge limit, known r."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_subjects):
        for method, minutes, shift in (("ridge", 1.0, 0.0), (LIMIT, 3.0, 0.2)):
            for i in range(n_contacts):
                r = 0.1 + 0.05 * i + shift + 0.01 * s
                row = {"subject": f"{s + 1:02d}", "method": method, "minutes": minutes, "contact": f"c{i}",
                       "region": "insula_L" if i % 2 else "hippocampus_L",
                       "depth_class": "deep" if i % 2 else "superficial", "distance_to_scalp_mm": 20.0 + i,
                       "confidence_r": None if method == LIMIT else r - 0.02,
                       "confidence_source": "" if method == LIMIT else "calibration-session tail",
                       "viable": method != LIMIT and r - 0.02 >= 0.3}
                row.update({c: float(rng.random()) for c in METRIC_COLS})
                row.update({c: np.nan for c in POSTERIOR_COLS})
                row.update({"r": r, "fc_alpha_rel_err_total": 0.5, "fit_s": 0.1, "train_minutes": minutes})
                rows.append(row)
    return pd.DataFrame(rows)


def test_summarize_tables_and_tests():
    df = contacts_table()
    cfg = EvalConfig(methods=["ridge"], calibration_minutes=[1.0], n_boot=200)
    subjects, regions, summary, stats = summarize(df, cfg)
    assert set(subjects["subset"]) == {"all", "viable", "superficial", "deep", "hipp_amyg"}
    # the ridge limit's r is 0.2 above ridge's for every contact
    lim = subjects[(subjects["method"] == LIMIT) & (subjects["subset"] == "all")]
    np.testing.assert_allclose(lim["r_fraction_of_limit"], 1.0)
    all_ridge = summary[(summary["method"] == "ridge") & (summary["subset"] == "all")].iloc[0]
    assert all_ridge["n_subjects"] == 4 and all_ridge["n_contacts"] == 24
    assert all_ridge["r_ci_low"] <= all_ridge["r_mean"] <= all_ridge["r_ci_high"]
    np.testing.assert_allclose(all_ridge["r_mean"], df[df["method"] == "ridge"]["r"].mean())
    assert set(regions["region"]) == {"insula_L", "hippocampus_L"}
    (w,) = [t for t in stats["wilcoxon"] if t["subset"] == "all"]
    assert (w["a"], w["b"], w["n_subjects"]) == ("ridge", LIMIT, 4) and w["p"] is not None
    np.testing.assert_allclose(w["median_diff"], -0.2)
    (rel,) = stats["confidence_reliability"]
    assert rel["method"] == "ridge" and rel["spearman_rho"] > 0.9


def test_subsets():
    df = contacts_table(n_subjects=1)
    assert len(subset(df, "all")) == len(df)
    assert set(subset(df, "deep")["depth_class"]) == {"deep"}
    assert set(subset(df, "hipp_amyg")["region"]) == {"hippocampus_L"}
    assert subset(df, "viable")["viable"].all()
