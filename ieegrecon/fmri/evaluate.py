"""Reproducible evaluation on held-out simulated subjects.

``python -m ieegrecon.fmri.evaluate --subjects 4 --test-subjects 2 --seed 0``

Trains :class:`~ieegrecon.fmri.model.FmriModel` on ``--subjects`` simulated
subjects, then for each held-out subject and missing fraction (25/50/75 %,
frames dropped at random) compares on the missing frames: EEG-only
prediction, linear temporal interpolation and completion. Pearson r is per
vertex over the missing frames (mean over cortical vertices); MSE over the
missing frames; SSIM over the whole time x vertex map (cortical vertices).
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from .completion import complete, linear_interpolation, random_mask
from .mesh import load_fsaverage5
from .metrics import mse, pearson_r, ssim
from .model import FmriModel
from .simulate import simulate_subject


def evaluate(n_train: int = 4, n_test: int = 2, seed: int = 0, duration_s: float = 240.0, tr: float = 0.8,
             fractions: tuple[float, ...] = (0.25, 0.5, 0.75)) -> dict:
    """Train, then score EEG-only / interpolation / completion on held-out subjects.

    Returns
    -------
    dict
        ``{'rows': [{'missing', 'method', 'r', 'mse', 'ssim'}], 'model': config}``.
    """
    mesh = load_fsaverage5()
    subs = [simulate_subject(duration_s, seed * 1000 + i, tr=tr, mesh=mesh) for i in range(n_train + n_test)]
    train, test = subs[:n_train], subs[n_train:]
    model = FmriModel(train[0].ch_names, tr).fit(
        [s.eeg for s in train], train[0].sfreq, [mesh.vertex_to_parcel(s.bold) for s in train],
        vertex_bolds=[s.bold for s in train], mesh=mesh, seed=seed)
    ctx = mesh.labels >= 0
    rng = np.random.default_rng(seed + 12345)
    acc: dict = {}
    for s in test:
        prior = mesh.parcel_to_vertex(model.predict(s.eeg, s.sfreq, s.n_frames))
        for frac in fractions:
            keep = random_mask(s.n_frames, frac, rng)
            miss = np.setdiff1d(np.arange(s.n_frames), keep)
            outs = {"EEG-only": prior,
                    "linear interpolation": linear_interpolation(s.bold[keep], keep, s.n_frames),
                    "completion": complete(prior, s.bold[keep], keep, **{k: model.kernel[k]
                                                                       for k in ("length", "nugget")})}
            assert np.array_equal(outs["completion"][keep], s.bold[keep])
            for name, o in outs.items():
                t, p = s.bold[miss][:, ctx], o[miss][:, ctx]
                acc.setdefault((frac, name), []).append(
                    (float(np.nanmean(pearson_r(p, t))), mse(p, t), ssim(o[:, ctx], s.bold[:, ctx])))
    rows = [{"missing": f, "method": m, "r": float(np.mean([v[0] for v in vals])),
             "mse": float(np.mean([v[1] for v in vals])), "ssim": float(np.mean([v[2] for v in vals]))}
            for (f, m), vals in acc.items()]
    return {"rows": rows, "model": model.config()}


def main(argv: list[str] | None = None) -> None:
    """Command-line entry: print a Markdown table and the JSON results."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--subjects", type=int, default=4, help="training subjects")
    p.add_argument("--test-subjects", type=int, default=2, help="held-out subjects")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--duration", type=float, default=240.0, help="seconds per subject")
    a = p.parse_args(argv)
    res = evaluate(a.subjects, a.test_subjects, a.seed, a.duration)
    print("| missing | method | Pearson r | MSE (%²) | SSIM |\n|---|---|---|---|---|")
    for r in res["rows"]:
        print(f"| {r['missing']:.0%} | {r['method']} | {r['r']:.3f} | {r['mse']:.4f} | {r['ssim']:.3f} |")
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
