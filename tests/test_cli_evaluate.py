"""``ieegrecon evaluate``: a run end to end on a tiny simulated cohort, and its command-line refusals."""

import json

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from ieegrecon.cli.app import app


def test_evaluate_end_to_end(cohort, tmp_path):
    out = tmp_path / "results"
    res = CliRunner().invoke(app, ["evaluate", str(cohort), "--methods", "ridge,source", "--calibration-minutes",
                                   "0,0.25", "--limit-minutes", "0.5", "--n-boot", "200", "--out", str(out)])
    assert res.exit_code == 0, res.output
    for name in ("contacts.tsv", "subjects.tsv", "regions.tsv", "summary.tsv", "by_region.tsv", "stats.json",
                 "report.html"):
        assert (out / name).is_file(), name
    c = pd.read_csv(out / "contacts.tsv", sep="\t")
    n_contacts = c[c["method"] == "oracle"].groupby("subject").size()
    assert set(n_contacts.index.astype(str).str.zfill(2)) == {"01", "02"}
    # ridge at 0.25 min, source at 0 (zero-shot) and 0.25 min, the oracle and the ridge limit, per contact
    assert len(c) == int(n_contacts.sum()) * 5
    assert set(c["method"]) == {"ridge", "source", "oracle", "ridge-limit"}
    assert c["r"].between(-1, 1).all()
    assert (c.loc[c["method"] == "ridge", "confidence_source"] == "calibration-session tail").all()
    s = pd.read_csv(out / "summary.tsv", sep="\t")
    assert set(s["subset"]) == {"all", "viable", "superficial", "deep", "hipp_amyg"}
    assert c["coverage90"].isna().all()  # no sampling method: no posterior columns
    assert c[["ied_f1", "ied_f1_ieeg", "ied_f1_scalp"]].isna().all().all()  # world v1: no ground-truth IEDs
    ridge_rows = c[c["method"] == "ridge"]
    assert ridge_rows["selected_fraction"].isin([0, 1]).all()
    assert c.loc[c["method"] == "oracle", "selected_r"].isna().all()
    assert {"selected_r", "selected_fraction", "ied_f1"} <= set(s.columns)
    br = pd.read_csv(out / "by_region.tsv", sep="\t")
    assert set(br["level"]) == {"region", "depth_class"} and {"r", "selected_r", "ied_f1"} <= set(br.columns)
    lim = s[(s["method"] == "ridge-limit") & (s["subset"] == "all")]
    np.testing.assert_allclose(lim["r_fraction_of_limit"], 1.0)
    ridge = s[(s["method"] == "ridge") & (s["subset"] == "all")].iloc[0]
    assert ridge["r_ci_low"] <= ridge["r_mean"] <= ridge["r_ci_high"]
    assert 0 < ridge["r_fraction_of_limit"] < 1.5
    stats = json.loads((out / "stats.json").read_text())
    assert any(w["a"] == "ridge" and w["b"] == "source" for w in stats["wilcoxon"])
    assert {r["method"] for r in stats["confidence_reliability"]} == {"ridge", "source"}
    assert "ses-02" in stats["protocol"]
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 4
    assert "Per region and depth class" in html
    assert stats["ieeg_reference"] == "recorded" and "Janča" in stats["ied_events"]
    # refuses to overwrite without --overwrite, one line naming the folder
    res2 = CliRunner().invoke(app, ["evaluate", str(cohort), "--methods", "ridge", "--out", str(out)])
    assert res2.exit_code != 0
    assert "results" in res2.output and "--overwrite" in res2.output


def test_unknown_reference_is_usage_error_naming_the_flag(cohort, tmp_path):
    res = CliRunner().invoke(app, ["evaluate", str(cohort), "--methods", "ridge", "--ieeg-reference", "laplacian",
                                   "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "--ieeg-reference" in res.output and "bipolar" in res.output


def test_unknown_method_is_usage_error(cohort, tmp_path):
    res = CliRunner().invoke(app, ["evaluate", str(cohort), "--methods", "nope", "--out", str(tmp_path / "o")])
    assert res.exit_code != 0
    assert "nope" in res.output


def test_evaluate_never_writes_into_its_dataset(cohort):
    """`evaluate ROOT --out ROOT/results --overwrite` used to write tables into the input dataset."""
    from ieegrecon.recording import sha256_file

    before = {p: sha256_file(p) for p in cohort.rglob("*") if p.is_file()}
    res = CliRunner().invoke(app, ["evaluate", str(cohort), "--methods", "ridge", "--calibration-minutes", "0.25",
                                   "--out", str(cohort / "results"), "--overwrite"])
    assert res.exit_code == 5, res.output
    assert "inside the input folder" in res.stderr
    assert {p: sha256_file(p) for p in cohort.rglob("*") if p.is_file()} == before
