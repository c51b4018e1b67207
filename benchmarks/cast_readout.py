"""Does CAST's network carry what no linear filter can? A readout of its frozen encoder (issue #18).

On a simulated development cohort (``ieegrecon simulate --world v2``, two sessions per
subject), subjects are split into ``--groups`` groups; for each group a CAST model is
pretrained on every other subject (``CastModel.pretrain``: the shipped model's settings,
``--epochs`` 6 and ``--windows-per-epoch`` 1500, seed 0, lag prior from the first 5 min of
each training session), so that every subject is scored by a model that never saw it. For each
held-out subject and calibration length M (``--cal-minutes``), everything is calibrated on the
first M minutes of session 1 and scored on the whole of session 2 (Pearson r per contact,
mean over contacts; channels and contacts both sessions have):

- **(a) lag_prior**: the ablation of ``benchmarks/cast_ablation.py``: robust standardization
  of the calibration scalp (applied unchanged to the test session),
  ``fit_residual_ridge`` with a zero network prediction and the fold model's ``lag_cov``.
- **(b) cast**: ``CastModel.calibrate`` of the fold model (its defaults) and ``predict``.
- **(c) encoder**: (a) plus a second ridge stage fitted to (a)'s out-of-fold residual on the
  frozen pretrained encoder's multi-scale features: ``CastNet.encode`` of every window
  (hop ``win - infer overlap``), shape (windows, channels, 40-ms patches, d), flattened to
  channels x d per patch, reduced to its ``--n-pc`` (16) leading principal components on
  the calibration windows, held over each patch's 8 samples and cross-faded between
  windows as ``predict`` does: 16 feature channels at 200 Hz.
- **(d) nonlinear_pc**: the hand-made control of ``benchmarks/headroom.py``: the same second
  stage on squares, |z| and theta/alpha/beta envelopes of the 3 leading principal components
  of the standardized calibration scalp (15 feature channels).

The second stage is headroom.py's: ``RidgeModel`` with lags -100..+100 ms every 25 ms on the
feature channels, alpha per contact by blocked 5-fold CV, its out-of-fold prediction's
least-squares gain on the residual clipped to [0, 1] (``shrink_gain``). (a)'s out-of-fold
residual: the calibration is cut in 5 contiguous blocks and each is predicted by (a) fitted
on the other four. (c) over (a) is what the network carries beyond a linear filter; if
(d) >= (c), a hand-made nonlinearity does as well and the network has not earned its place.
Gaps are paired per subject; 95 % CIs are percentile bootstraps over subjects (2000, seed 0).

Development seeds only (the cohort's seed, read from its participants.tsv or given with
``--cohort-seed``, must be below 1000). The run of session 10 (docs: the lead's report), on 6
subjects in 3 groups (each model pretrained on 4 subjects, 8 sessions), 1000 windows per epoch
and the first 2 min of session 2 as test, to fit a loaded 2-core machine::

    ieegrecon simulate --layout ../shared/data/ds004752 --subjects 6 --sessions 2 --minutes 6 \\
        --world v2 --seed 102 --out /tmp/castro/cohort_s102
    IEEGRECON_THREADS=1 PYTHONPATH=$PWD nice -n 10 python -W ignore benchmarks/cast_readout.py \\
        /tmp/castro/cohort_s102 --models /tmp/castro/folds102 --cohort-seed 102 --groups 3 --epochs 6 \\
        --windows-per-epoch 1000 --test-minutes 2 --only-groups G --json /tmp/castro/readout102_gG.json

(run once per group G = 0, 1, 2; ``--cohort-seed`` because that cohort was the first 6 subjects
of a stopped ``--subjects 9`` run, which wrote no participants.tsv; ``--subjects 6`` writes the
same sessions, each seeded by (seed, subject, session)). Result (session 10, 6 held-out
subjects, paired mean gap [95 % CI over subjects]): encoder - lag_prior +0.0006 [-0.0002,
+0.0015], +0.0008 [+0.0001, +0.0015], +0.0011 [+0.0003, +0.0021] at 0.25/0.5/1 min (0/6
subjects >= +0.02); nonlinear_pc - lag_prior +0.0128 [+0.0032, +0.0245], +0.0219 [+0.0068,
+0.0397], +0.0225 [+0.0095, +0.0345] (6/6 > 0 at every length): the network carries nothing
that a hand-made nonlinearity does not carry better.

(Seed 301 is not usable: ``ieegrecon simulate --world v2 --seed 301`` stops at sub-02 ses-01 with
a ZeroDivisionError in MNE's sphere forward, ``_eeg_spherepot_coil``.)
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import headroom as hr  # noqa: E402

METHODS = ("lag_prior", "cast", "encoder", "nonlinear_pc")


def common_indices(cal, test) -> tuple[list[int], list[int], list[int], list[int]]:
    """Rows of the scalp channels and contacts both sessions have: (cal ch, test ch, cal contacts, test contacts)."""
    ch = [n for n in cal.scalp_names if n in test.scalp_names]
    ks = [n for n in cal.contacts.ch_names if n in test.contacts.ch_names]
    return ([cal.scalp_names.index(n) for n in ch], [test.scalp_names.index(n) for n in ch],
            [cal.contacts.ch_names.index(n) for n in ks], [test.contacts.ch_names.index(n) for n in ks])


def fold_model(cohort, held: list[str], folder: Path, a: argparse.Namespace, say=print):
    """The CAST model pretrained on every subject but ``held`` (loaded from ``folder`` if there)."""
    from ieegrecon.models.cast import CastModel
    from ieegrecon.models.io import load_model, save_model

    if (folder / "config.json").exists():
        return load_model(folder)[0], None
    t0, c0 = time.perf_counter(), time.process_time()
    model = CastModel()
    info = model.pretrain([s for s in cohort.segments if s.subject not in held], epochs=a.epochs, seed=a.seed,
                          max_windows_per_epoch=a.windows_per_epoch)
    save_model(model, folder, overwrite=True, extra={"held_out": held, "epochs_run": info["epochs_run"]})
    cost = {"wall_s": round(time.perf_counter() - t0, 1), "cpu_s": round(time.process_time() - c0, 1),
            "epochs_run": info["epochs_run"], "best_epoch": info["best_epoch"]}
    say(f"  pretrained without {held}: {cost}")
    return model, cost


def lag_prior_fit(zx: np.ndarray, y: np.ndarray, model) -> dict:
    """(a): ``fit_residual_ridge`` with a zero network prediction and the model's lag prior."""
    from ieegrecon.models import _cast_train as C
    from ieegrecon.models.lagged import fit_residual_ridge

    return fit_residual_ridge(zx, model.res_lags, y.T, np.zeros_like(y.T), C.RES_ALPHAS, C.RES_FOLDS,
                              lag_cov=model.lag_cov)


def lag_prior_predict(fit: dict, z: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """Prediction (n_contacts, n_times) of a :func:`lag_prior_fit` on standardized scalp ``z``."""
    from ieegrecon.models.lagged import apply_lagged

    return apply_lagged(fit["coef"], z, lags) + fit["intercept"][:, None]


def lag_prior_oof(zx: np.ndarray, y: np.ndarray, model, fit: dict, n_folds: int = 5) -> np.ndarray:
    """Out-of-fold (a) on the calibration, shape (n_contacts, n_times).

    Each of ``n_folds`` contiguous blocks is predicted by the lag-prior ridge fitted on the other
    blocks with the alpha per contact that ``fit`` (:func:`lag_prior_fit` on all of it) chose, as
    ``RidgeModel.calibrate(out_of_fold=True)`` does for plain ridge.
    """
    from ieegrecon.models import lagged as L

    lags, n = model.res_lags, zx.shape[1]
    T = L._psd_sqrt(np.asarray(model.lag_cov, float))
    bounds = [(f[0], f[-1] + 1) for f in np.array_split(np.arange(n), n_folds)]
    stats = [L._stats_in_basis(L._fold_stats(zx, y.T, lags, a, b), T) for a, b in bounds]
    total = {k: sum(st[k] for st in stats) for k in stats[0]}
    alphas = np.unique(fit["alpha"])
    choice = np.searchsorted(alphas, fit["alpha"])
    oof = np.empty_like(y)
    for (a, b), st in zip(bounds, stats):
        G, XtY, xm, ym = L._centred(L._minus(total, st))
        W = L._solve(G, XtY, alphas, choice)
        coef = L._in_basis(W, T)
        oof[:, a:b] = (L.lag_rows(zx, lags, a, b) @ coef + (ym - xm @ W)).T
    return oof


def encoder_maps(model, z: np.ndarray, ch_pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frozen encoder features of every window: starts and (n_windows, n_out, n_channels * d) float64."""
    from ieegrecon.models._cast_infer import encode_all

    starts, feats, _ = encode_all(model, z.astype(np.float32), ch_pos, "cpu")
    f = feats.numpy().transpose(0, 2, 1, 3)  # (n_win, n_out, C, d)
    return starts, f.reshape(f.shape[0], f.shape[1], -1).astype(np.float64)


def encoder_features(model, z: np.ndarray, ch_pos: np.ndarray, basis: tuple | None, n_pc: int,
                     mode: str = "encoder") -> tuple[np.ndarray, tuple]:
    """(c)'s feature channels (n_pc, n_times) at the scalp rate, and the PCA basis used.

    ``basis`` None: fitted here (mean, components) on these windows. ``mode`` ``'noise'`` replaces
    the encoder maps by Gaussian noise of the same shape (a control the readout must lose).
    """
    from ieegrecon.models._cast_infer import infer_overlap
    from ieegrecon.models.overlap import overlap_add, taper

    starts, f = encoder_maps(model, z, ch_pos)
    if mode == "noise":
        f = np.random.default_rng(0 if basis is None else 1).standard_normal(f.shape)
    flat = f.reshape(-1, f.shape[-1])
    if basis is None:
        mean = flat.mean(0)
        _, _, vt = np.linalg.svd(flat - mean, full_matrices=False)
        basis = (mean, vt[:n_pc])
    proj = ((flat - basis[0]) @ basis[1].T).reshape(f.shape[0], f.shape[1], -1)  # (n_win, n_out, n_pc)
    wins = np.repeat(proj.transpose(0, 2, 1), model.net.out_patch, axis=2)  # (n_win, n_pc, win)
    return overlap_add(wins, starts, z.shape[1], taper(model.win, infer_overlap(model))), basis


def second_stage(fc: np.ndarray, ft: np.ndarray, resid: np.ndarray, sfreq: float) -> np.ndarray:
    """headroom.py's stage two: fit on (features, residual) of the calibration, predict the test features."""
    from ieegrecon.models.base import ContactInfo, PairedSegment
    from ieegrecon.models.ridge import RidgeModel

    contacts = ContactInfo([f"c{i}" for i in range(len(resid))], np.full((len(resid), 3), np.nan))
    stage2 = RidgeModel(sfreq=sfreq, max_lag_ms=100.0, lag_step_ms=25.0)
    seg = PairedSegment(fc, resid, sfreq, [f"f{i}" for i in range(len(fc))], contacts)
    oof2 = stage2.calibrate(seg, out_of_fold=True)["out_of_fold"]
    return hr.shrink_gain(oof2, resid)[:, None] * stage2.predict(ft)


def score_subject(model, cal, test, minutes: float, a: argparse.Namespace) -> dict:
    """Calibrate every method on the first ``minutes`` of ``cal``, return mean r per method on ``test``."""
    from ieegrecon.headmodel import scalp_positions
    from ieegrecon.metrics import pearson_r
    from ieegrecon.models import training as tr
    from ieegrecon.models.base import PairedSegment

    ci, ti, kc, kt = common_indices(cal, test)
    names = [cal.scalp_names[i] for i in ci]
    seg = PairedSegment(cal.scalp[ci], cal.ieeg[kc], cal.sfreq, names, cal.contacts.subset(kc), cal.subject)
    seg = seg.crop_samples(0, round(minutes * 60 * cal.sfreq))
    n_test = test.scalp.shape[1] if a.test_minutes is None else round(a.test_minutes * 60 * test.sfreq)
    xt, yt = test.scalp[ti, :n_test], test.ieeg[kt, :n_test]
    zx, center, scale = tr.robust_standardize(seg.scalp)
    zt = (xt - center[:, None]) / scale[:, None]
    y = np.asarray(seg.ieeg, float)
    t0 = time.perf_counter()
    fit = lag_prior_fit(zx, y, model)
    pred = {"lag_prior": lag_prior_predict(fit, zt, model.res_lags)}
    tick = {"lag_prior": time.perf_counter() - t0}
    cast = copy.deepcopy(model)
    cast.calibrate(seg)
    pred["cast"] = cast.predict(xt)
    tick["cast"] = time.perf_counter() - t0 - sum(tick.values())
    resid = y - lag_prior_oof(zx, y, model, fit)
    tick["oof"] = time.perf_counter() - t0 - sum(tick.values())
    ch_pos = scalp_positions(names)
    modes = ["encoder"] + (["noise"] if a.noise_control else [])
    for mode in modes:
        fc, basis = encoder_features(model, zx, ch_pos, None, a.n_pc, mode)
        ft, _ = encoder_features(model, zt, ch_pos, basis, a.n_pc, mode)
        pred[mode] = pred["lag_prior"] + second_stage(fc, ft, resid, cal.sfreq)
        tick[mode] = time.perf_counter() - t0 - sum(tick.values())
    mean, sd = zx.mean(axis=1), zx.std(axis=1) + 1e-30
    w = hr.leading_components(zx, mean, sd)
    pred["nonlinear_pc"] = pred["lag_prior"] + second_stage(hr.pc_features(zx, mean, sd, w, cal.sfreq),
                                                            hr.pc_features(zt, mean, sd, w, cal.sfreq),
                                                            resid, cal.sfreq)
    row = {k: float(np.nanmean(pearson_r(yt, p))) for k, p in pred.items()}
    tick["nonlinear_pc"] = time.perf_counter() - t0 - sum(tick.values())
    row["seconds"] = {k: round(v, 1) for k, v in tick.items()}
    return row


def cohort_seed(root: Path) -> int | None:
    """The master seed ``ieegrecon simulate`` recorded in the cohort's participants.tsv (None if none).

    Raises
    ------
    ValueError
        If the participants were simulated with different seeds.
    """
    p = root / "participants.tsv"
    if not p.exists():
        return None
    lines = [ln.split("\t") for ln in p.read_text().splitlines() if ln.strip()]
    if "seed" not in lines[0]:
        return None
    seeds = {int(row[lines[0].index("seed")]) for row in lines[1:]}
    if len(seeds) != 1:
        raise ValueError(f"participants of {root} come from several seeds: {sorted(seeds)}")
    return seeds.pop()


def summary(rows: list[dict], minutes: float, methods: list[str]) -> list[str]:
    """Markdown lines: paired mean gaps over subjects at one calibration length."""
    sel = [r for r in rows if r["minutes"] == minutes]
    out = []
    for x, base in (("cast", "lag_prior"), ("encoder", "lag_prior"), ("nonlinear_pc", "lag_prior"),
                    ("encoder", "nonlinear_pc"), ("noise", "lag_prior")):
        if x not in methods:
            continue
        g = np.array([r[x] - r[base] for r in sel])
        lo, hi = hr.bootstrap_ci(g)
        out.append(f"| {minutes:g} | {x} − {base} | {g.mean():+.4f} [{lo:+.4f}, {hi:+.4f}] | "
                   f"{int((g > 0).sum())}/{len(g)} | {int((g >= 0.02).sum())}/{len(g)} |")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("root", type=Path, help="simulated paired BIDS cohort (two sessions per subject)")
    ap.add_argument("--models", type=Path, required=True, help="folder for the group models (reused if there)")
    ap.add_argument("--groups", type=int, default=3, help="subject groups (one pretraining per group)")
    ap.add_argument("--only-groups", default=None, help="comma-separated group indices to run (default: all)")
    ap.add_argument("--cal-minutes", default="0.25,0.5,1")
    ap.add_argument("--test-minutes", type=float, default=None, help="score on the first minutes of session 2 "
                    "(default: all of it)")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--windows-per-epoch", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=0, help="pretraining seed")
    ap.add_argument("--n-pc", type=int, default=16, help="principal components of the encoder features")
    ap.add_argument("--noise-control", action="store_true", help="also (c) with the encoder maps replaced by noise")
    ap.add_argument("--cohort-seed", type=int, default=None, help="the cohort's simulate seed if not recorded")
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args(argv)
    seed = cohort_seed(a.root) if a.cohort_seed is None else a.cohort_seed
    if seed is None or not 0 <= seed < 1000:
        ap.error(f"the cohort must come from a development seed (0-999), got {seed}: the sealed cohort "
                 "(docs/evaluation.md) is never used here")
    from ieegrecon.workflow.pretrain import load_cohort

    cohort = load_cohort([a.root], say=print)
    subjects = cohort.subjects
    groups = [subjects[g::a.groups] for g in range(a.groups)]
    rows, costs = [], []
    run = range(a.groups) if a.only_groups is None else [int(g) for g in a.only_groups.split(",")]
    for g, held in ((g, groups[g]) for g in run):
        model, cost = fold_model(cohort, held, a.models / f"group-{g}", a)
        costs.append({"held_out": held, **(cost or {"loaded": True})})
        for subj in held:
            cal, test = [s for s in cohort.segments if s.subject == subj][:2]
            for m in (float(v) for v in a.cal_minutes.split(",")):
                row = {"subject": subj, "minutes": m, "contacts": len(common_indices(cal, test)[3]),
                       **score_subject(model, cal, test, m, a)}
                print(json.dumps(row), flush=True)
                rows.append(row)
                if a.json is not None:
                    a.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(a).items()},
                                                  "pretraining": costs, "rows": rows}, indent=1))
    methods = [k for k in rows[0] if k in METHODS or k == "noise"]
    print("\n| subject | minutes | contacts | " + " | ".join(methods) + " |\n|---|---|---|"
          + "---|" * len(methods))
    for r in rows:
        print(f"| {r['subject']} | {r['minutes']:g} | {r['contacts']} | "
              + " | ".join(f"{r[k]:.4f}" for k in methods) + " |")
    print("\n| minutes | paired gap | mean [95 % CI over subjects] | subjects > 0 | subjects >= +0.02 |\n"
          "|---|---|---|---|---|")
    for m in sorted({r["minutes"] for r in rows}):
        print("\n".join(summary(rows, m, methods)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
