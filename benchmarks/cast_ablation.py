"""Ablation of CAST calibration: how much of cast's gain over ridge is the lag prior, how much the network.

::

    python benchmarks/cast_ablation.py /tmp/cohort9_12 /tmp/castmodel2/folds --out /tmp/cast_ablation.json

For every subject (held out by its LOSO fold model ``FOLDS/fold-sub-XX``) and calibration length,
calibrates on the first M minutes of the subject's first session exactly as ``CastModel.calibrate``
does (robust standardization of the calibration scalp, applied unchanged to the test session;
:func:`ieegrecon.models.ridge.fit_residual_ridge`), but with a zero network prediction, once with
the plain ridge penalty and once with the fold's lag prior, and prints the mean per-contact Pearson
r on the whole second session. Compare with ``cast`` and ``ridge`` of ``ieegrecon evaluate`` on the
same folds (docs/results.md §2).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ieegrecon.models import training as tr
from ieegrecon.workflow.pretrain import load_cohort
from ieegrecon.metrics import pearson_r
from ieegrecon.models import _cast_train as C
from ieegrecon.models.io import load_model
from ieegrecon.models.lagged import apply_lagged, fit_residual_ridge


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", help="simulated (or real) paired BIDS cohort, two sessions per subject")
    ap.add_argument("folds", help="folder of LOSO fold models (fold-sub-XX) from `ieegrecon pretrain --loso`")
    ap.add_argument("--minutes", default="0.25,0.5,1,2,5,10")
    ap.add_argument("--out", default=None, help="also write the rows as JSON here")
    args = ap.parse_args()
    cohort = load_cohort([args.root], say=print)
    rows = []
    for subject in cohort.subjects:
        model, _ = load_model(Path(args.folds) / f"fold-{subject}")
        cal, test = [s for s in cohort.segments if s.subject == subject][:2]
        # sessions may differ in channels (v2: a channel bad in one session): the ones both have
        ch = [n for n in cal.scalp_names if n in test.scalp_names]
        ci, ti = [cal.scalp_names.index(n) for n in ch], [test.scalp_names.index(n) for n in ch]
        ks = [n for n in cal.contacts.ch_names if n in test.contacts.ch_names]
        kc, kt = [cal.contacts.ch_names.index(n) for n in ks], [test.contacts.ch_names.index(n) for n in ks]
        for minutes in (float(m) for m in args.minutes.split(",")):
            seg = cal.crop_samples(0, round(minutes * 60 * cal.sfreq))
            zx, center, scale = tr.robust_standardize(seg.scalp[ci])
            zt = (test.scalp[ti] - center[:, None]) / scale[:, None]
            y = np.asarray(seg.ieeg[kc], float)
            row = {"subject": subject, "minutes": minutes}
            for name, cov in (("plain", None), ("lag_prior", model.lag_cov)):
                fit = fit_residual_ridge(zx, model.res_lags, y.T, np.zeros_like(y.T), C.RES_ALPHAS, C.RES_FOLDS,
                                         lag_cov=cov)
                pred = apply_lagged(fit["coef"], zt, model.res_lags) + fit["intercept"][:, None]
                row[name] = float(np.nanmean(pearson_r(test.ieeg[kt], pred)))
            print(json.dumps(row), flush=True)
            rows.append(row)
    for minutes in sorted({r["minutes"] for r in rows}):
        sel = [r for r in rows if r["minutes"] == minutes]
        print(f"{minutes:g} min: plain {np.mean([r['plain'] for r in sel]):.4f}, "
              f"lag prior {np.mean([r['lag_prior'] for r in sel]):.4f} ({len(sel)} subjects)")
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
