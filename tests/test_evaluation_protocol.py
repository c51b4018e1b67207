"""evaluation.protocol: one subject's rows (methods, lengths, ceilings), pretrained folds, confidence sources,
sampling methods' posterior columns, and the single-session run."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from ieegrecon.cli.app import app
from ieegrecon.errors import InputError, UsageError
from ieegrecon.evaluation.config import LIMIT, ORACLE, EvalConfig
from ieegrecon.evaluation.data import load_subject
from ieegrecon.evaluation.protocol import evaluate_subject, pretrained_folder
from ieegrecon.evaluation.run import run_evaluation


def test_evaluate_subject_rows_and_skips(cohort):
    cfg = EvalConfig(methods=["ridge", "source"], calibration_minutes=[0, 0.25, 1.0], limit_minutes=0.5)
    sub = load_subject("01", sorted((cohort / "sub-01").glob("ses-*")), cfg)
    said = []
    rows, skipped = evaluate_subject(sub, cohort, cfg, said.append)
    df = pd.DataFrame(rows)
    n = len(sub.test.contacts.ch_names)
    # oracle, limit, ridge at 0.25, source at 0 and 0.25; ridge has no zero-shot and 1 min > the 0.5-min session
    counts = df.assign(minutes=df["minutes"].fillna(-1.0)).groupby(["method", "minutes"]).size().to_dict()
    assert counts == {(LIMIT, 0.5): n, (ORACLE, -1.0): n, ("ridge", 0.25): n, ("source", 0.0): n,
                      ("source", 0.25): n}
    assert len(df) == 5 * n
    assert any("ridge at 0 min (no zero-shot)" in s for s in skipped)
    assert any("ridge at 1 min (calibration data" in s for s in skipped)
    assert any("source at 1 min" in s for s in skipped)
    assert (df.loc[df["method"] == "source", "confidence_source"]
            .isin(["zero-shot: whole calibration session", "calibration-session tail"]).all())
    assert df.loc[df["method"].isin([LIMIT, ORACLE]), "confidence_r"].isna().all()
    assert any("ridge-limit on 0.50 min" in m for m in said)


def test_pretrained_folder_rules(tmp_path):
    cfg = EvalConfig(methods=["cast"], pretrained={"cast": tmp_path})
    with pytest.raises(InputError, match="no pretrained fold for test subject sub-07"):
        pretrained_folder("cast", "07", cfg)
    (tmp_path / "fold-sub-07").mkdir()
    assert pretrained_folder("cast", "07", cfg) == tmp_path / "fold-sub-07"
    with pytest.raises(UsageError, match="set the 'pretrained' parameter"):
        pretrained_folder("flow", "07", cfg)


@pytest.mark.slow
def test_single_session_run(one_session):
    cfg = EvalConfig(methods=["ridge"], calibration_minutes=[0.25], limit_minutes=None, oracle=False, n_boot=50)
    res = run_evaluation(one_session, cfg)
    assert set(res.contacts["method"]) == {"ridge"}
    # no tail left before the test part: confidence from blocked CV inside the calibration minutes
    assert res.contacts["confidence_source"].str.startswith("blocked").all()
    assert any("one session only" in n for notes in res.stats["notes"].values() for n in notes)


@pytest.mark.slow
def test_pretrain_loso_folds_feed_evaluate(cohort, tmp_path):
    """`pretrain --loso` writes one fold per subject that `evaluate` uses, zero-shot and calibrated."""
    model = tmp_path / "cast"
    res = CliRunner().invoke(app, ["pretrain", str(cohort), "--out", str(model), "--loso", "--epochs", "1",
                                   "--windows-per-epoch", "8", "--json"])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (model / "folds").iterdir()) == ["fold-sub-01", "fold-sub-02"]
    summary = json.loads((model / "pretrain.json").read_text())
    assert [f["held_out"] for f in summary["loso"]] == ["sub-01", "sub-02"]
    assert summary["windows_per_epoch"] == 8 and summary["data"]["simulated"]
    card = (model / "MODEL_CARD.md").read_text()
    assert "SIMULATED" in card and "windows per epoch: 8" in card
    # each fold's lag prior comes from the training subjects' sessions only (2 of the 4)
    assert "Calibration lag prior" in card and summary["pretrain"]["lag_prior"]["segments"] == 4
    fold = json.loads((model / "folds" / "fold-sub-01" / "config.json").read_text())
    assert fold["extra"]["pretrain"]["lag_prior"]["segments"] == 2
    out = tmp_path / "ev"
    res = CliRunner().invoke(app, ["evaluate", str(cohort), "--methods", "ridge,cast", "--calibration-minutes",
                                   "0,0.25", "--pretrained", f"cast={model / 'folds'}", "--limit-minutes", "0.25",
                                   "--no-report", "--n-boot", "20", "--out", str(out)])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out / "contacts.tsv", sep="\t")
    cast = df[df["method"] == "cast"]
    assert sorted(cast["minutes"].unique()) == [0.0, 0.25] and set(cast["subject"].astype(str)) == {"1", "2"}
    assert (df[df["method"] == "ridge"]["minutes"] == 0.25).all()  # ridge has no zero-shot


def test_evaluate_flow_from_scratch_reports_coverage_and_draw_metrics(cohort, tmp_path):
    """flow without --pretrained trains on the calibration minutes only; its rows carry the 90 % band
    coverage and the metrics of posterior draws, the test part is capped by --test-minutes."""
    out = tmp_path / "ev"
    res = CliRunner().invoke(app, ["evaluate", str(cohort), "--methods", "ridge,flow", "--calibration-minutes",
                                   "0.5", "--test-minutes", "0.25", "--draws", "8", "--limit-minutes", "0",
                                   "--no-oracle", "--no-report", "--n-boot", "20", "--out", str(out)])
    assert res.exit_code == 0, res.output
    c = pd.read_csv(out / "contacts.tsv", sep="\t")
    flow, ridge = c[c["method"] == "flow"], c[c["method"] == "ridge"]
    assert len(flow) == len(ridge) > 0
    assert flow["coverage90"].between(0.5, 1.0).all() and ridge["coverage90"].isna().all()
    for col in ("draw_bp_err_alpha", "draw_psd_hellinger", "draw_fc_alpha_rel_err_total"):
        assert np.isfinite(flow[col]).all() and ridge[col].isna().all(), col
    # the posterior mean is centred on the ridge location: it tracks the signal
    assert flow["r"].mean() > 0.5 * ridge["r"].mean() > 0
    stats = json.loads((out / "stats.json").read_text())
    assert all(any("first 0.25 min" in n for n in notes) for notes in stats["notes"].values())
    assert stats["config"]["test_minutes"] == 0.25
    s = pd.read_csv(out / "summary.tsv", sep="\t")
    row = s[(s["method"] == "flow") & (s["subset"] == "all")].iloc[0]
    assert 0.5 < row["coverage90"] <= 1.0


def test_bipolar_reference_selection_and_ied_columns(cohort, tmp_path):
    """Rows per bipolar pair, confidence and selection in that montage, and IED columns against an events.tsv
    (a v1 cohort has none: NaN; one written by hand is read and scored)."""
    import shutil

    root = tmp_path / "c"
    shutil.copytree(cohort / "sub-01", root / "sub-01")
    cfg = EvalConfig(methods=["ridge"], calibration_minutes=[0.25], limit_minutes=None, oracle=False)
    sub = load_subject("01", sorted((root / "sub-01").glob("ses-*")), cfg)
    rows, _ = evaluate_subject(sub, root, cfg, lambda m: None)
    rec = pd.DataFrame(rows)
    assert rec[["ied_f1", "ied_f1_ieeg", "ied_f1_scalp"]].isna().all().all()  # no ground truth
    assert rec["selected_fraction"].isin([0.0, 1.0]).all()
    sel = rec["selected_fraction"] == 1
    assert (rec.loc[sel, "confidence_r"] >= rec["selection_threshold"].iloc[0]).all()
    np.testing.assert_allclose(rec.loc[sel, "selected_r"], rec.loc[sel, "r"])
    assert rec.loc[~sel, "selected_r"].isna().all()

    contacts = sub.test.contacts.ch_names
    ev = root / "sub-01" / "ses-02" / "ieeg" / "sub-01_ses-02_task-sim_run-01_events.tsv"
    ev.write_text("onset\tduration\ttrial_type\tchannels\n"
                  f"5.0\t0.3\tIED\t{contacts[0]},{contacts[1]}\n12.0\t0.3\tIED\t{contacts[1]}\n")
    cfg_b = EvalConfig(methods=["ridge"], calibration_minutes=[0.25], limit_minutes=None, oracle=False,
                       ieeg_reference="bipolar")
    sub = load_subject("01", sorted((root / "sub-01").glob("ses-*")), cfg_b)
    rows, _ = evaluate_subject(sub, root, cfg_b, lambda m: None)
    bip = pd.DataFrame(rows)
    assert len(bip) < len(rec) and bip["contact"].str.contains("-").all()
    assert bip["confidence_r"].notna().all() and not np.allclose(bip["r"].mean(), rec["r"].mean())
    listed = bip["contact"].str.split("-").map(lambda p: bool({contacts[0], contacts[1]} & set(p)))
    # pairs of the listed contacts have a sensitivity; every scored channel has an F1 unless it has
    # neither ground truth nor detections
    assert bip.loc[listed, "ied_sensitivity_ieeg"].notna().all()
    assert bip.loc[~listed, "ied_sensitivity_ieeg"].isna().all()
    assert bip["ied_f1_scalp"].notna().any()


@pytest.mark.slow
def test_subjects_in_parallel_give_the_same_rows(cohort, tmp_path):
    """`jobs=2` evaluates the two subjects in two processes: rows, tables and saved files as with 1."""
    cfg = EvalConfig(methods=["ridge0"], calibration_minutes=[0.25], limit_minutes=None, n_boot=20)
    one = run_evaluation(cohort, cfg, tmp_path / "one", report=False)
    said: list[str] = []
    two = run_evaluation(cohort, cfg, tmp_path / "two", report=False, jobs=2, progress=said.append)
    assert any("2 at once" in m for m in said) and any("sub-02: ridge0 calibrated" in m for m in said)
    pd.testing.assert_frame_equal(one.contacts.drop(columns="fit_s"), two.contacts.drop(columns="fit_s"))
    pd.testing.assert_frame_equal(one.summary, two.summary)
    assert sorted(p.name for p in (tmp_path / "two" / "per_subject").iterdir()) == [
        "sub-01.json", "sub-01.tsv", "sub-02.json", "sub-02.tsv"]
    with pytest.raises(UsageError, match="the 'jobs' parameter"):
        run_evaluation(cohort, cfg, jobs=0)
