"""evaluation.report: the HTML report of a run, self-contained (figures inlined), from the tables alone."""

import pandas as pd

from ieegrecon.evaluation.config import EvalConfig, EvalResult
from ieegrecon.evaluation.report import figures, write_report
from ieegrecon.evaluation.stats import summarize
from test_evaluation_stats import contacts_table


def _result(coverage: bool = False) -> EvalResult:
    df = contacts_table()
    if coverage:
        flow = df[df["method"] == "ridge"].assign(method="flow", coverage90=0.9)
        df = pd.concat([df, flow], ignore_index=True)
    cfg = EvalConfig(methods=sorted(set(df["method"]) - {"ridge-limit"}), calibration_minutes=[1.0], n_boot=50)
    subjects, regions, summary, stats = summarize(df, cfg)
    stats.update({"root": "/data", "subjects": ["01", "02", "03", "04"], "protocol": "per subject",
                  "skipped": ["sub-01: ridge at 0 min (no zero-shot)"]})
    return EvalResult(df, subjects, regions, summary, stats)


def test_write_report(tmp_path):
    res = _result()
    path = write_report(res, tmp_path / "report.html")
    html = path.read_text()
    # r per region, r vs distance, r vs minutes, ridge vs ridge-limit, confidence
    assert html.count("data:image/png;base64,") == 5
    assert "ridge against ridge-limit, per contact" in html
    assert "sub-01: ridge at 0 min (no zero-shot)" in html and "r_fraction_of_limit" in html


def test_coverage_figure_for_sampling_methods():
    titles = [t for t, _ in figures(_result(coverage=True))]
    assert "flow: coverage of the 90 % posterior bands per region" in titles
    assert "ridge: coverage of the 90 % posterior bands per region" not in titles
