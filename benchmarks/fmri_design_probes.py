"""Design probes of issue #20 (development seeds only): what the run's measured frames can add at a long gap.

Uses the development model of ``fmri_eval.py --seed 0 --subjects 4 --save-model MODEL`` and the
neural cache of ``fmri_eval.py``. On the held-out development subjects 4-8 (the same contiguous
50 % masks as :func:`ieegrecon.fmri.evaluate.evaluate` with ``--seed 0 --subjects 4``), prints r and
MSE on the missing frames for:

* ``refit``: the EEG decoder refitted on the run's measured frames, as a ridge correction of the
  pretrained parcel weights (penalty ``lam``), then the usual completion;
* ``lowrank``: the run's measured parcel BOLD regressed on the ``k`` leading temporal scores of the
  EEG prediction (a run-specific map in a low-rank spatial basis), then the usual completion;
* ``trend``: the completion with a per-vertex Legendre drift of order 1-3 (ridge ``lam``), and
  ``gp-only`` / ``eeg-recalibrated`` with the same drift;
* ``train``: the decoder trained on 4, 8 or 13 development subjects (0-3, 9-17), no completion;
* ``oracle``: the simulator's noise-free parcel BOLD broadcast to the vertices (a ceiling).

Command (about 6 min on a loaded 2-core machine)::

    python benchmarks/fmri_design_probes.py --model MODEL --cache /tmp/fmri_cache
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np


def main() -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from fmri_eval import cached_simulate

    from ieegrecon.fmri.completion import complete, drift_basis, gp_weights
    from ieegrecon.fmri.evaluate import PATTERNS, _mask
    from ieegrecon.fmri.mesh import load_fsaverage5
    from ieegrecon.fmri.metrics import pearson_r
    from ieegrecon.fmri.model import FmriModel, _reduced_rank_ridge, eeg_features, whittaker

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--cache", type=Path, default=Path("/tmp/fmri_cache"))
    a = p.parse_args()
    warnings.filterwarnings("ignore")
    mesh, sim, model = load_fsaverage5(), cached_simulate(a.cache), FmriModel.load(a.model)
    ctx = mesh.labels >= 0
    k = model.kernel_args()
    k.pop("trend", None)
    rng = np.random.default_rng([0, 12345])
    subs, masks = {}, {}
    for s in list(range(18)):
        sub = sim(240.0, s, tr=0.8, mesh=mesh)
        subs[s] = (eeg_features(sub.eeg, sub.sfreq, 0.8, sub.n_frames), sub.bold, sub.bold_parcels)
    for s in range(4, 9):
        for kind, frac in PATTERNS:
            m = _mask(kind, 300, frac, rng)
            if kind == "contiguous":
                masks[s] = m
    res: dict = {}

    def score(tag, o, bold, keep):
        miss = np.setdiff1d(np.arange(300), keep)
        t, q = bold[miss][:, ctx], o[miss][:, ctx]
        res.setdefault(tag, []).append((np.nanmean(pearson_r(q, t)), np.mean((q - t) ** 2)))

    def trend_fill(prior, bold, keep, order, lam, gp=True):
        miss = np.setdiff1d(np.arange(300), keep)
        mk, yk = prior[keep], bold[keep].astype(float)
        g = np.clip((mk * yk).sum(0) / np.maximum((mk * mk).sum(0), 1e-12), 0, None)
        g = (keep.size * g + k["gain_shrink"]) / (keep.size + k["gain_shrink"])
        base = g * prior
        if order:
            t = drift_basis(300, order)
            base = base + t @ np.linalg.solve(t[keep].T @ t[keep] + lam * np.eye(order), t[keep].T @ (yk - base[keep]))
        out = base.copy()
        if gp:
            out[miss] += gp_weights(keep, miss, k["length"], k["nugget"]) @ (yk - base[keep])
        out[keep] = bold[keep]
        return out

    for s in range(4, 9):
        f, bold, clean = subs[s]
        keep = masks[s]
        score("oracle: noise-free parcel BOLD", mesh.parcel_to_vertex(clean), bold, keep)
        p0 = whittaker(f @ model.weights, model.mu)
        yk = mesh.vertex_to_parcel(bold)[keep]
        score("completion", complete(mesh.parcel_to_vertex(p0), bold[keep], keep, **k), bold, keep)
        for lam in (1e3, 1e4, 1e5, 1e6):
            fs = whittaker(f, model.mu)
            d = np.linalg.solve(fs[keep].T @ fs[keep] + lam * np.eye(f.shape[1]), fs[keep].T @ (yk - p0[keep]))
            score(f"refit lam={lam:g}", complete(mesh.parcel_to_vertex(p0 + fs @ d), bold[keep], keep, **k), bold, keep)
        u, sv, _ = np.linalg.svd(p0 - p0.mean(0), full_matrices=False)
        for r in (3, 6):
            x = np.c_[u[:, :r] * sv[:r], np.ones(300)]
            b = np.linalg.solve(x[keep].T @ x[keep] + 100.0 * np.diag(np.r_[np.ones(r), 0]), x[keep].T @ yk)
            score(f"lowrank k={r}", complete(mesh.parcel_to_vertex(x @ b), bold[keep], keep, **k), bold, keep)
        pv = mesh.parcel_to_vertex(p0)
        for order, lam in ((0, 0.0), (1, 10.0), (2, 10.0), (2, 100.0), (3, 10.0)):
            score(f"trend {order} lam={lam:g} completion", trend_fill(pv, bold, keep, order, lam), bold, keep)
            score(f"trend {order} lam={lam:g} gp-only", trend_fill(0 * pv, bold, keep, order, lam), bold, keep)
            score(f"trend {order} lam={lam:g} eeg-recalibrated", trend_fill(pv, bold, keep, order, lam, False),
                  bold, keep)
    for train in ([0, 1, 2, 3], [0, 1, 2, 3, 9, 10, 11, 12], [0, 1, 2, 3] + list(range(9, 18))):
        ff = np.concatenate([subs[s][0] for s in train])
        yy = np.concatenate([mesh.vertex_to_parcel(subs[s][1]) for s in train])
        for rank in (6, 10):
            w = _reduced_rank_ridge(ff, yy, 1e4, rank)
            for s in range(4, 9):
                score(f"train {len(train)} subjects rank {rank} eeg-only",
                      mesh.parcel_to_vertex(whittaker(subs[s][0] @ w, model.mu)), subs[s][1], masks[s])
    for tag, v in res.items():
        r, e = np.mean(v, axis=0)
        print(f"| {tag} | {r:.3f} | {e:.4f} |")


if __name__ == "__main__":
    main()
