"""Benchmark and held-out evaluation of the conditional flow (``method='flow'``).

Two modes::

    # sampling speed on 2 threads: prints the real-time factor of 32 draws
    python benchmarks/bench_flow.py speed --contacts 48 --scalp 8 --seconds 60

    # held-out subjects of a simulated BIDS cohort (``ieegrecon simulate``):
    # pretrain on the other subjects' ses-01, calibrate on the test subject's
    # ses-01, evaluate on its ses-02; ridge calibrated on the same minutes
    python benchmarks/bench_flow.py evaluate /tmp/flowsim --test-subjects 03 --out /tmp/flow_eval.json

Metrics (evaluation mode):

* coverage of the 90 % bands (q = 0.05, 0.95; 32 draws) overall, per depth
  class and per region (:func:`ieegrecon.uncertainty.coverage_summary`);
* band power: Welch PSD (scipy, 2 s Hann segments), power summed in delta
  1-4, theta 4-8, alpha 8-12, beta 13-30, gamma 30-70 Hz; error =
  ``|log10 P_pred - log10 P_true|`` per contact and band (decades), averaged;
* alpha connectivity: C = Pearson correlation matrix of alpha-band (8-12 Hz,
  4th-order Butterworth, zero-phase) Hilbert envelopes among contacts;
  error = ``||C_pred - C_true||_F / ||C_true||_F`` over off-diagonal entries.

For the flow, each of the 32 draws is scored as a surrogate and the errors
averaged over draws; the posterior mean is scored too. Hippocampus/amygdala
contacts (region key containing ``hippocampus`` or ``amygdala``) are also
reported alone.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

BANDS = {"delta": (1, 4), "theta": (4, 8), "alpha": (8, 12), "beta": (13, 30), "gamma": (30, 70)}


def band_powers(x: np.ndarray, sfreq: float) -> np.ndarray:
    """Welch band power, shape (n_contacts, 5), for :data:`BANDS`."""
    from scipy.signal import welch

    f, p = welch(x, fs=sfreq, nperseg=int(2 * sfreq), axis=-1)
    return np.stack([p[:, (f >= lo) & (f < hi)].sum(axis=1) for lo, hi in BANDS.values()], axis=1)


def band_power_error(pred: np.ndarray, true: np.ndarray, sfreq: float) -> np.ndarray:
    """|log10 power ratio| per contact and band, shape (n_contacts, 5)."""
    return np.abs(np.log10(band_powers(pred, sfreq) + 1e-40) - np.log10(band_powers(true, sfreq) + 1e-40))


def alpha_envelope_corr(x: np.ndarray, sfreq: float) -> np.ndarray:
    """Correlation matrix of alpha-band (8-12 Hz) Hilbert envelopes, shape (n, n)."""
    from scipy.signal import butter, hilbert, sosfiltfilt

    sos = butter(4, [8, 12], btype="band", fs=sfreq, output="sos")
    env = np.abs(hilbert(sosfiltfilt(sos, x, axis=-1), axis=-1))
    return np.corrcoef(env)


def conn_error(pred: np.ndarray, true: np.ndarray, sfreq: float) -> float:
    """Relative Frobenius error of alpha envelope correlation (off-diagonal)."""
    if pred.shape[0] < 2:
        return float("nan")
    cp, ct = alpha_envelope_corr(pred, sfreq), alpha_envelope_corr(true, sfreq)
    off = ~np.eye(len(ct), dtype=bool)
    return float(np.linalg.norm(np.nan_to_num(cp[off] - ct[off])) / np.linalg.norm(ct[off]))


def load_segments(root: str):
    """PairedSegment per (subject, session) of a simulated BIDS cohort, keyed by (sub, ses)."""
    from ieegrecon.io.bids import find_sessions, read_bids_session
    from ieegrecon.pipeline import contact_info, make_segment, map_regions
    from ieegrecon.preprocessing import Preprocessing

    out = {}
    for ses_dir in find_sessions(root):
        ses = read_bids_session(ses_dir)
        scalp, intra = ses.scalp.pick_types(("eeg",)), ses.ieeg
        from ieegrecon.recording import INTRACRANIAL_TYPES

        intra = intra.pick_types(INTRACRANIAL_TYPES)
        seg = make_segment(scalp, intra, contact_info(intra, map_regions(intra)), Preprocessing(),
                           subject=ses_dir.parent.name.removeprefix("sub-"))
        out[(ses_dir.parent.name.removeprefix("sub-"), ses_dir.name.removeprefix("ses-"))] = seg
    return out


def _metrics(name: str, preds: list[np.ndarray], true: np.ndarray, sfreq: float, sel: np.ndarray) -> dict:
    bp = np.mean([band_power_error(p, true, sfreq) for p in preds], axis=0)  # (K, 5)
    res = {"method": name, "bandpower_err_all": dict(zip(BANDS, bp.mean(0).round(4).tolist())),
           "bandpower_err_mean": float(bp.mean()),
           "conn_err_all": float(np.mean([conn_error(p, true, sfreq) for p in preds]))}
    if sel.any():
        res["bandpower_err_hipp_amyg"] = dict(zip(BANDS, bp[sel].mean(0).round(4).tolist()))
        res["bandpower_err_hipp_amyg_mean"] = float(bp[sel].mean())
        res["conn_err_hipp_amyg"] = float(np.mean([conn_error(p[sel], true[sel], sfreq) for p in preds]))
        res["n_hipp_amyg"] = int(sel.sum())
    return res


def evaluate(args: argparse.Namespace) -> dict:
    import torch

    from ieegrecon.models.flow import FlowModel
    from ieegrecon.models.ridge import RidgeModel
    from ieegrecon.training import pearson_r
    from ieegrecon.uncertainty import coverage_summary

    torch.set_num_threads(args.threads)
    segs = load_segments(args.root)
    subjects = sorted({s for s, _ in segs})
    tests = args.test_subjects or subjects[-1:]
    report = {"root": args.root, "test_subjects": tests, "subjects": subjects, "results": []}
    for test in tests:
        t0 = time.time()
        model = FlowModel(**json.loads(args.params))
        pre = [seg for (s, ses), seg in segs.items() if s != test and ses == "01"]
        pinfo = {}
        if pre and args.pretrain_epochs > 0:
            pinfo = model.pretrain(pre, epochs=args.pretrain_epochs, seed=args.seed,
                                   max_steps_per_epoch=args.max_steps)
        cal, te = segs[(test, "01")], segs[(test, "02")]
        if model.scalp_names:
            idx = [cal.scalp_names.index(n) for n in model.scalp_names]
            names = list(model.scalp_names)
        else:
            idx, names = list(range(len(cal.scalp_names))), list(cal.scalp_names)
        cal_s = type(cal)(cal.scalp[idx], cal.ieeg, cal.sfreq, names, cal.contacts, cal.subject)
        te_x = te.scalp[[te.scalp_names.index(n) for n in names]]
        cinfo = model.calibrate(cal_s, seed=args.seed, epochs=args.epochs)
        t_fit = time.time() - t0
        samples = model.sample(te_x, n_samples=32, seed=args.seed)
        lo, hi = np.quantile(samples, [0.05, 0.95], axis=0)
        mean = samples.mean(axis=0)
        cov = coverage_summary(te.ieeg, lo, hi, te.contacts)
        ridge = RidgeModel()
        ridge.calibrate(cal)
        rp = ridge.predict(te.scalp)
        sel = np.array([("hippocampus" in r.lower()) or ("amygdala" in r.lower()) for r in te.contacts.regions])
        res = {"subject": test, "n_contacts": len(te.contacts.ch_names), "fit_seconds": round(t_fit, 1),
               "pretrain_subjects": [p.subject for p in pre] if pinfo else [],
               "calibration": {k: v for k, v in cinfo.items() if k != "history"},
               "coverage": {k: v for k, v in cov.items() if k != "per_contact"},
               "pearson_r_median": {"flow_mean": float(np.nanmedian(pearson_r(mean, te.ieeg))),
                                    "ridge": float(np.nanmedian(pearson_r(rp, te.ieeg)))},
               "flow_samples": _metrics("flow_samples", list(samples), te.ieeg, te.sfreq, sel),
               "flow_mean": _metrics("flow_mean", [mean], te.ieeg, te.sfreq, sel),
               "ridge": _metrics("ridge", [rp], te.ieeg, te.sfreq, sel)}
        report["results"].append(res)
        print(json.dumps(res, indent=1), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1))
    return report


def speed(args: argparse.Namespace) -> float:
    import torch

    from ieegrecon.models.base import ContactInfo
    from ieegrecon.models.flow import FlowModel

    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    model = FlowModel(**json.loads(args.params))
    K, C = args.contacts, args.scalp
    model.scalp_names = [f"S{i}" for i in range(C)]
    model.contacts = ContactInfo([f"c{i}" for i in range(K)], rng.uniform(-0.06, 0.06, (K, 3)),
                                 ["hippocampus_L"] * K, ["deep"] * K)
    model.net = model._build(C).eval()
    model.adapter_ = np.zeros((K, model.d_contact), np.float32)
    model.x_center_, model.x_scale_ = np.zeros(C), np.ones(C) * 1e-5
    model.y_center_, model.y_scale_ = np.zeros(K), np.ones(K) * 1e-5
    model.copula_chol_ = np.eye(K, dtype=np.float32)
    n_t = int(args.seconds * model.sfreq)
    scalp = rng.standard_normal((C, n_t)) * 1e-5
    model.sample(scalp[:, :400], n_samples=2)  # warm-up
    t0, c0 = time.perf_counter(), time.process_time()
    out = model.sample(scalp, n_samples=32, seed=0)
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    factor = args.seconds / dt
    print(f"32 draws of {K} contacts x {args.seconds:.0f} s ({C} scalp channels, {args.threads} threads): "
          f"wall {dt:.2f} s -> {factor:.1f}x real time; CPU {dc:.2f} s -> "
          f"{args.seconds / (dc / args.threads):.1f}x real time per {args.threads} busy cores; "
          f"load average {os.getloadavg()[0]:.1f}; output {out.shape}")
    return factor


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="mode", required=True)
    sp = sub.add_parser("speed")
    sp.add_argument("--contacts", type=int, default=48)
    sp.add_argument("--scalp", type=int, default=8)
    sp.add_argument("--seconds", type=float, default=60.0)
    ev = sub.add_parser("evaluate")
    ev.add_argument("root")
    ev.add_argument("--test-subjects", nargs="*")
    ev.add_argument("--pretrain-epochs", type=int, default=3)
    ev.add_argument("--max-steps", type=int, default=150)
    ev.add_argument("--epochs", type=int, default=15)
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--out")
    for p in (sp, ev):
        p.add_argument("--threads", type=int, default=2)
        p.add_argument("--params", default="{}", help="FlowModel constructor parameters as JSON")
    args = ap.parse_args()
    speed(args) if args.mode == "speed" else evaluate(args)


if __name__ == "__main__":
    main()
