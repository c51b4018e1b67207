"""The strongest-linear row, its comparisons and effect sizes (evaluation.stats), and the ceiling labels."""

import numpy as np
import pandas as pd

from ieegrecon.evaluation.ceilings import label
from ieegrecon.evaluation.config import LIMIT, ORACLE, EvalConfig
from ieegrecon.evaluation.stats import STRONGEST, rank_biserial, summarize
from test_evaluation_stats import contacts_table


def _with_baselines() -> pd.DataFrame:
    """ridge (1 min) plus two baselines: ridge0 looks best on calibration data but is worse on test;
    ridge-cv is best on test but looks worst on calibration; 'cast' is 0.05 above ridge0 everywhere."""
    df = contacts_table(n_subjects=5)
    ridge = df[df["method"] == "ridge"]
    r0 = ridge.assign(method="ridge0", r=ridge["r"] - 0.03, confidence_r=ridge["confidence_r"] + 0.1)
    rcv = ridge.assign(method="ridge-cv", r=ridge["r"] + 0.04, confidence_r=ridge["confidence_r"] - 0.1)
    cast = r0.assign(method="cast", r=r0["r"] + 0.05)
    return pd.concat([df, r0, rcv, cast], ignore_index=True)


def test_strongest_linear_is_chosen_on_calibration_data_not_on_the_test():
    cfg = EvalConfig(methods=["ridge", "ridge0", "ridge-cv", "cast"], calibration_minutes=[1.0], n_boot=200)
    subjects, _, summary, stats = summarize(_with_baselines(), cfg)
    assert {c["chosen"] for c in stats["strongest_linear"]} == {"ridge0"}  # highest confidence, not test r
    best = summary[(summary["method"] == STRONGEST) & (summary["subset"] == "all")].iloc[0]
    r0 = summary[(summary["method"] == "ridge0") & (summary["subset"] == "all")].iloc[0]
    np.testing.assert_allclose(best["r_mean"], r0["r_mean"])
    (orc,) = stats["strongest_linear_oracle"]
    assert orc["best"] == "ridge-cv"  # the oracle choice (test r) favours the baselines
    (vs,) = [v for v in stats["versus_strongest_linear"] if v["method"] == "cast" and v["subset"] == "all"]
    np.testing.assert_allclose(vs["mean_diff"], 0.05)
    assert vs["wins"] == 5 and vs["rank_biserial"] == 1.0 and vs["p"] is not None
    np.testing.assert_allclose([vs["diff_ci_low"], vs["diff_ci_high"]], 0.05)  # every subject: +0.05
    assert not [v for v in stats["versus_strongest_linear"] if v["method"] in (LIMIT, STRONGEST)]


def test_no_strongest_row_with_a_single_baseline():
    cfg = EvalConfig(methods=["ridge"], calibration_minutes=[1.0], n_boot=50)
    _, _, summary, stats = summarize(contacts_table(), cfg)
    assert STRONGEST not in set(summary["method"]) and stats["versus_strongest_linear"] == []


def test_rank_biserial():
    assert rank_biserial(np.array([0.1, 0.2, 0.3])) == 1.0
    assert rank_biserial(np.array([-0.1, -0.2])) == -1.0
    np.testing.assert_allclose(rank_biserial(np.array([1.0, -2.0, 3.0, 0.0])), (1 + 3 - 2) / 6)
    assert np.isnan(rank_biserial(np.zeros(3)))


def test_ceilings_are_labelled_for_what_they_are():
    assert label(ORACLE) == "oracle-inst"
    assert label(LIMIT) == "ridge-limit (lagged Wiener limit)"
    assert label("ridge") == "ridge"


def test_report_has_the_strongest_linear_section_and_figure(tmp_path):
    from ieegrecon.evaluation.config import EvalResult
    from ieegrecon.evaluation.report import write_report

    df = _with_baselines()
    cfg = EvalConfig(methods=["ridge", "ridge0", "ridge-cv", "cast"], calibration_minutes=[1.0], n_boot=50)
    subjects, regions, summary, stats = summarize(df, cfg)
    stats.update({"root": "/data", "subjects": ["01"], "protocol": "", "skipped": []})
    text = write_report(EvalResult(df, subjects, regions, summary, stats), tmp_path / "r.html").read_text()
    assert "Against the strongest linear baseline" in text and "rank_biserial" in text
    assert "ridge-limit (lagged Wiener limit)" in text
    assert "(chosen per subject on calibration data; all contacts)" in text


def _learned_at_two_lengths() -> pd.DataFrame:
    """ridge, ridge0 (chosen: higher confidence) and cast/flow at 0.25 and 1 min: cast is ridge0 + 0.05 at
    0.25 min and ridge0 - 0.02 at 1 min; flow is ridge0 + 0.01 at both."""
    one = contacts_table(n_subjects=5)
    ridge1 = one[one["method"] == "ridge"]
    frames = [one]
    for M, cast_shift in ((0.25, 0.05), (1.0, -0.02)):
        ridge = ridge1.assign(minutes=M, train_minutes=M, r=ridge1["r"] - (0.02 if M < 1 else 0.0))
        if M != 1.0:
            frames.append(ridge)
        r0 = ridge.assign(method="ridge0", r=ridge["r"] - 0.01, confidence_r=ridge["confidence_r"] + 0.1)
        frames += [r0, r0.assign(method="cast", r=r0["r"] + cast_shift), r0.assign(method="flow", r=r0["r"] + 0.01)]
    return pd.concat(frames, ignore_index=True)


def test_cast_and_flow_against_the_strongest_linear_row_per_calibration_length(tmp_path):
    from ieegrecon.evaluation.config import EvalResult
    from ieegrecon.evaluation.report import write_report

    df = _learned_at_two_lengths()
    cfg = EvalConfig(methods=["ridge", "ridge0", "cast", "flow"], calibration_minutes=[0.25, 1.0], n_boot=50)
    subjects, regions, summary, stats = summarize(df, cfg)
    assert {(c["minutes"], c["chosen"]) for c in stats["strongest_linear"]} == {(0.25, "ridge0"), (1.0, "ridge0")}
    vs = {(v["method"], v["minutes"]): v for v in stats["versus_strongest_linear"] if v["subset"] == "all"}
    for (m, M), d in {("cast", 0.25): 0.05, ("cast", 1.0): -0.02, ("flow", 0.25): 0.01, ("flow", 1.0): 0.01}.items():
        np.testing.assert_allclose(vs[m, M]["mean_diff"], d, atol=1e-12)
        assert vs[m, M]["n_subjects"] == 5 and vs[m, M]["wins"] == (5 if d > 0 else 0)
    stats.update({"root": "/data", "subjects": ["01"], "protocol": "", "skipped": []})
    text = write_report(EvalResult(df, subjects, regions, summary, stats), tmp_path / "r.html").read_text()
    head = text[text.index("per calibration length (all contacts)"):text.index("All comparisons")]
    assert "<td>cast</td>" in head and "<td>flow</td>" in head and "<td>ridge0</td>" not in head
    assert "+0.050 [+0.050, +0.050] (5/5)" in head and "-0.020 [-0.020, -0.020] (0/5)" in head
