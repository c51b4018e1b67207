"""``ieegrecon evaluate``: the oracle, the statistics and a run end to end on a tiny simulated cohort."""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import ieegrecon.cli.eval_cmd  # noqa: F401  (registers `evaluate` until the lead lists it)
from ieegrecon.cli.app import app
from ieegrecon.evaluate import (
    EvalConfig,
    bootstrap_ci,
    groundtruth_oracle,
    groundtruth_path,
    load_subject,
    oracle_weights,
    run_evaluation,
)
from ieegrecon.metrics import pearson_r
from ieegrecon.models.base import ContactInfo, PairedSegment
from ieegrecon.models.ridge import RidgeModel

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _need_ds() -> Path:
    p = DATA / "ds004752"
    if not p.is_dir():
        pytest.skip(f"real layouts missing: {p}")
    return p


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    from ieegrecon.simulate import simulate_dataset

    root = tmp_path_factory.mktemp("evcohort") / "bids"
    simulate_dataset(_need_ds(), root, n_subjects=2, minutes=0.5, seed=11, n_sessions=2)
    return root


def _gaussian_pair(rng, n_t, A, B, L_s, sn, se):
    s = L_s @ rng.standard_normal((A.shape[1], n_t))
    x = A @ s + sn * rng.standard_normal((A.shape[0], n_t))
    y = B @ s + se * rng.standard_normal((B.shape[0], n_t))
    return x, y


def test_oracle_beats_ridge_on_gaussian_data():
    """White Gaussian sources: the oracle is Bayes-optimal, so no ridge fit on finite data beats it."""
    rng = np.random.default_rng(0)
    n_src, n_sc, n_c = 12, 8, 6
    A, B = rng.standard_normal((n_sc, n_src)), rng.standard_normal((n_c, n_src))
    L_s = rng.standard_normal((n_src, n_src)) / np.sqrt(n_src)
    sn, se = 1.0, 0.5
    W = oracle_weights(A, B, L_s @ L_s.T, sn**2 * np.eye(n_sc))
    x_tr, y_tr = _gaussian_pair(rng, 6000, A, B, L_s, sn, se)
    x_te, y_te = _gaussian_pair(rng, 6000, A, B, L_s, sn, se)
    contacts = ContactInfo([f"c{i}" for i in range(n_c)], np.zeros((n_c, 3)))
    seg = PairedSegment(x_tr, y_tr, 200.0, [f"e{i}" for i in range(n_sc)], contacts, "s")
    ridge = RidgeModel(sfreq=200.0, max_lag_ms=25.0)
    ridge.calibrate(seg)
    r_oracle = pearson_r(y_te, W @ x_te)
    r_ridge = pearson_r(y_te, ridge.predict(x_te))
    assert np.all(r_oracle > 0.2)
    assert r_oracle.mean() >= r_ridge.mean() - 0.005
    # the oracle equals the least-squares map fitted on a huge sample
    x_big, y_big = _gaussian_pair(rng, 200_000, A, B, L_s, sn, se)
    W_ls = np.linalg.lstsq(x_big.T, y_big.T, rcond=None)[0].T
    np.testing.assert_allclose(W, W_ls, atol=0.03)


def test_groundtruth_oracle_vs_instantaneous_ridge(cohort):
    """On simulated data the ground-truth oracle is at least as good as instantaneous ridge at equal data."""
    cfg = EvalConfig(methods=["ridge"], calibration_minutes=[0.25])
    sub = load_subject("01", sorted((cohort / "sub-01").glob("ses-*")), cfg)
    W = groundtruth_oracle(groundtruth_path(cohort, sub.test_session), sub.test.scalp_names,
                           sub.test.contacts.ch_names, cfg.prep)
    assert W.shape == (len(sub.test.contacts.ch_names), len(sub.test.scalp_names))
    ridge = RidgeModel(sfreq=sub.cal.sfreq, max_lag_ms=0.0)
    ridge.calibrate(sub.cal)
    r_oracle = np.nanmean(pearson_r(sub.test.ieeg, W @ sub.test.scalp))
    r_ridge = np.nanmean(pearson_r(sub.test.ieeg, ridge.predict(sub.test.scalp)))
    assert r_oracle > 0.1
    assert r_oracle >= r_ridge - 0.02


def test_bootstrap_ci_is_seeded_and_brackets_mean():
    v = np.array([0.1, 0.2, 0.35, 0.4, 0.5, 0.6])
    lo, hi = bootstrap_ci(v, 500, seed=3)
    assert lo < v.mean() < hi
    assert (lo, hi) == bootstrap_ci(v, 500, seed=3)
    assert np.isnan(bootstrap_ci(v[:1], 500, seed=3)[0])


def test_evaluate_end_to_end(cohort, tmp_path):
    out = tmp_path / "results"
    res = CliRunner().invoke(app, ["evaluate", str(cohort), "--methods", "ridge,source", "--calibration-minutes",
                                   "0,0.25", "--limit-minutes", "0.5", "--n-boot", "200", "--out", str(out)])
    assert res.exit_code == 0, res.output
    for name in ("contacts.tsv", "subjects.tsv", "regions.tsv", "summary.tsv", "stats.json", "report.html"):
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
    # refuses to overwrite without --overwrite, one line naming the folder
    res2 = CliRunner().invoke(app, ["evaluate", str(cohort), "--methods", "ridge", "--out", str(out)])
    assert res2.exit_code != 0
    assert "results" in res2.output and "--overwrite" in res2.output


@pytest.fixture()
def one_session(cohort, tmp_path):
    root = tmp_path / "one"
    shutil.copytree(cohort, root, ignore=shutil.ignore_patterns("ses-02", "derivatives"))
    return root


def test_single_session_protocol(one_session):
    cfg = EvalConfig(methods=["ridge"], calibration_minutes=[0.1, 0.25], limit_minutes=None, oracle=False)
    sub = load_subject("01", [one_session / "sub-01" / "ses-01"], cfg)
    assert sub.single_session and any("one session only" in n for n in sub.notes)
    # 0.5 min session, tested after the LARGEST calibration length (0.25 min); no overlap with calibration
    start = int(0.25 * 60 * sub.cal.sfreq)
    assert sub.test_offset == start == sub.cal_stop
    assert sub.test.scalp.shape[1] == sub.cal.scalp.shape[1] - start
    np.testing.assert_array_equal(sub.test.ieeg, sub.cal.ieeg[:, start:])
    with pytest.raises(Exception, match="leaves < 10 s"):
        load_subject("01", [one_session / "sub-01" / "ses-01"],
                     EvalConfig(methods=["ridge"], calibration_minutes=[0.45]))


def test_single_session_tests_after_the_ridge_limit_when_it_fits(one_session):
    path = [one_session / "sub-01" / "ses-01"]
    sub = load_subject("01", path, EvalConfig(methods=["ridge"], calibration_minutes=[0.1], limit_minutes=0.3))
    fs = sub.cal.sfreq
    assert sub.cal_stop == sub.test_offset == int(0.3 * 60 * fs)  # the limit trains on 0.3 min, all test after
    # a limit that leaves < 10 s: the split falls back to the largest calibration length
    sub = load_subject("01", path, EvalConfig(methods=["ridge"], calibration_minutes=[0.1], limit_minutes=0.45))
    assert sub.cal_stop == int(0.1 * 60 * fs)


@pytest.mark.slow
def test_single_session_run(one_session):
    cfg = EvalConfig(methods=["ridge"], calibration_minutes=[0.25], limit_minutes=None, oracle=False, n_boot=50)
    res = run_evaluation(one_session, cfg)
    assert set(res.contacts["method"]) == {"ridge"}
    # no tail left before the test part: confidence from blocked CV inside the calibration minutes
    assert res.contacts["confidence_source"].str.startswith("blocked").all()
    assert any("one session only" in n for notes in res.stats["notes"].values() for n in notes)


def test_unknown_method_is_usage_error(cohort, tmp_path):
    res = CliRunner().invoke(app, ["evaluate", str(cohort), "--methods", "nope", "--out", str(tmp_path / "o")])
    assert res.exit_code != 0
    assert "nope" in res.output


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
    import pandas as pd

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


def test_evaluate_never_writes_into_its_dataset(cohort):
    """`evaluate ROOT --out ROOT/results --overwrite` used to write tables into the input dataset."""
    from ieegrecon.recording import sha256_file

    before = {p: sha256_file(p) for p in cohort.rglob("*") if p.is_file()}
    res = CliRunner().invoke(app, ["evaluate", str(cohort), "--methods", "ridge", "--calibration-minutes", "0.25",
                                   "--out", str(cohort / "results"), "--overwrite"])
    assert res.exit_code == 5, res.output
    assert "inside the input folder" in res.stderr
    assert {p: sha256_file(p) for p in cohort.rglob("*") if p.is_file()} == before
