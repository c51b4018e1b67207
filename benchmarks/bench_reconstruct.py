"""Reconstruction throughput (× real time) and calibration time per method, against MNE eLORETA.

Usage: ``python benchmarks/bench_reconstruct.py [--minutes 10] [--cal-minutes 5] [--contacts 48]
[--methods ridge,source] [--pretrained METHOD=DIR ...]``

Input: ``--minutes`` of synthetic 19-channel 10-20 scalp EEG at 200 Hz (1/f
noise, ~20 µV) and ``--contacts`` contacts at fixed MNI positions; paired
"iEEG" for calibration is a lagged mixture of the scalp plus noise (the
values do not matter for speed). For every method, in the same run:

- calibration time on ``--cal-minutes`` (cross-subject methods: loaded from
  ``--pretrained`` and calibrated; skipped without it);
- reconstruction throughput of ``model.predict`` alone and of the full
  reconstruct path (:func:`ieegrecon.workflow.chunking.predict_chunked`:
  preprocessing + model, chunked);

and the classical anchor on the same input: building an eLORETA inverse
operator (:func:`mne.minimum_norm.make_inverse_operator`, template forward of
:mod:`ieegrecon.headmodel`) and applying it with
:func:`mne.minimum_norm.apply_inverse_raw` (``method='eLORETA'``). Ratios are
method / anchor throughput. Both wall time and process CPU time are printed
(CPU time is what an idle machine would give when other jobs share the cores).
Prints figures; not a test.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from ieegrecon.channels import STANDARD_1020_19
from ieegrecon.models import available_methods, get_model_class
from ieegrecon.models.base import ContactInfo, PairedSegment

SFREQ = 200.0


def synthetic_scalp(minutes: float, seed: int = 0, names=STANDARD_1020_19) -> np.ndarray:
    """1/f-like scalp EEG (V), shape (len(names), minutes*60*200)."""
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    n = int(minutes * 60 * SFREQ)
    w = rng.standard_normal((len(names), n))
    mix = rng.standard_normal((len(names), len(names))) * 0.3 + np.eye(len(names))
    return 20e-6 * lfilter([1.0], [1.0, -0.95], mix @ w, axis=1) / 3.2


def synthetic_contacts(n: int) -> ContactInfo:
    """``n`` contacts on 6 straight "shafts" inside the brain (MNI, m)."""
    starts = np.array([[-55, -20, 5], [55, -20, 5], [-45, 20, 20], [45, 20, 20], [-30, -60, 30], [30, -60, 30]]) / 1e3
    pos = []
    for k in range(n):
        s = starts[k % 6]
        pos.append(s - np.sign(s[0]) * np.array([0.004 * (k // 6), 0, 0]))
    return ContactInfo([f"C{k + 1}" for k in range(n)], np.array(pos))


def synthetic_ieeg(scalp: np.ndarray, n_contacts: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((n_contacts, scalp.shape[0]))
    return W @ np.roll(scalp, 3, axis=1) + 5e-6 * rng.standard_normal((n_contacts, scalp.shape[1]))


def build_model(method: str, seg: PairedSegment, pretrained: dict[str, str]):
    """Calibrated model of ``method`` on ``seg`` (None if it needs a pretrained model that was not given)."""
    cls = get_model_class(method)
    if cls.supports_pretrain:
        if method not in pretrained:
            return None
        from ieegrecon.models.io import load_model

        model = load_model(pretrained[method])[0]
        model.calibrate(seg, seed=0)
        return model
    model = cls(sfreq=SFREQ)
    model.calibrate(seg)
    return model


def _timed(fn):
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w0, time.process_time() - c0


def eloreta_anchor(scalp: np.ndarray, names=STANDARD_1020_19, snr: float = 3.0) -> dict:
    """Time MNE's eLORETA on ``scalp``: operator construction and ``apply_inverse_raw``."""
    import mne
    from mne.minimum_norm import apply_inverse_raw, make_inverse_operator

    from ieegrecon.headmodel import template_forward

    with mne.utils.use_log_level("error"):
        fwd, info = template_forward(list(names), 10.0)
        raw = mne.io.RawArray(scalp, info.copy(), verbose=False)
        raw.set_eeg_reference("average", projection=True, verbose=False)
        cov = mne.make_ad_hoc_cov(raw.info, std=dict(eeg=1e-6), verbose=False)
        inv, w_b, c_b = _timed(lambda: make_inverse_operator(raw.info, fwd, cov, loose=1.0, depth=None,
                                                             verbose=False))
        stc, w_a, c_a = _timed(lambda: apply_inverse_raw(raw, inv, 1.0 / snr**2, method="eLORETA",
                                                         verbose=False, method_params=dict(max_iter=50)))
    return {"build_wall_s": w_b, "build_cpu_s": c_b, "apply_wall_s": w_a, "apply_cpu_s": c_a,
            "n_sources": int(stc.data.shape[0])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0, help="reconstructed duration")
    ap.add_argument("--cal-minutes", type=float, default=5.0)
    ap.add_argument("--contacts", type=int, default=48)
    ap.add_argument("--methods", default=",".join(m for m in available_methods()))
    ap.add_argument("--pretrained", action="append", default=[], help="METHOD=DIR (cross-subject methods)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    from ieegrecon.workflow.chunking import predict_chunked
    from ieegrecon.preprocessing import Preprocessing

    pre = dict(p.split("=", 1) for p in args.pretrained)
    cal_x = synthetic_scalp(args.cal_minutes, seed=0)
    contacts = synthetic_contacts(args.contacts)
    seg = PairedSegment(cal_x, synthetic_ieeg(cal_x, args.contacts), SFREQ, list(STANDARD_1020_19), contacts, "bench")
    x = synthetic_scalp(args.minutes, seed=2)
    dur = x.shape[1] / SFREQ
    anchor = eloreta_anchor(x)
    anchor_xrt = dur / anchor["apply_wall_s"]
    anchor_xrt_cpu = dur / anchor["apply_cpu_s"]
    rows = []
    for m in [s.strip() for s in args.methods.split(",") if s.strip()]:
        model, w_cal, c_cal = _timed(lambda m=m: build_model(m, seg, pre))
        if model is None:
            print(f"{m:>8}: skipped (needs --pretrained {m}=DIR)")
            continue
        _, w_p, c_p = _timed(lambda model=model: model.predict(x))
        prep = Preprocessing(sfreq=SFREQ)
        _, w_f, c_f = _timed(lambda model=model, prep=prep: [p for p in predict_chunked(lambda a, b: x[:, a:b], x.shape[1], SFREQ,
                                                                   model, prep)])
        rows.append({"method": m, "calibration_wall_s": w_cal, "calibration_cpu_s": c_cal,
                     "predict_x_realtime": dur / w_p, "predict_x_realtime_cpu": dur / max(c_p, 1e-9),
                     "full_x_realtime": dur / w_f, "full_x_realtime_cpu": dur / max(c_f, 1e-9),
                     "ratio_full_vs_eloreta": (dur / w_f) / anchor_xrt,
                     "ratio_full_vs_eloreta_cpu": (dur / max(c_f, 1e-9)) / anchor_xrt_cpu})
    if args.json:
        print(json.dumps({"minutes": args.minutes, "cal_minutes": args.cal_minutes, "contacts": args.contacts,
                          "eloreta": anchor, "methods": rows}, indent=2))
        return
    print(f"input: {args.minutes:g} min, 19 channels, {SFREQ:g} Hz; {args.contacts} contacts; "
          f"calibration {args.cal_minutes:g} min")
    print(f"anchor MNE eLORETA ({anchor['n_sources']} sources): operator {anchor['build_wall_s']:.1f} s wall; "
          f"apply_inverse_raw {anchor_xrt:.0f}x real time wall ({anchor_xrt_cpu:.0f}x CPU)")
    for r in rows:
        print(f"{r['method']:>8}: calibration {r['calibration_wall_s']:.1f} s wall ({r['calibration_cpu_s']:.1f} s CPU); "
              f"predict {r['predict_x_realtime']:.0f}x real time; with preprocessing {r['full_x_realtime']:.0f}x "
              f"({r['full_x_realtime_cpu']:.0f}x CPU); ratio to eLORETA {r['ratio_full_vs_eloreta']:.2f} wall, "
              f"{r['ratio_full_vs_eloreta_cpu']:.2f} CPU")


if __name__ == "__main__":
    main()
