"""Reproducible evaluation on held-out simulated subjects.

``ieegrecon fmri-evaluate --subjects 4 --test-subjects 2 --seed 0`` runs
:func:`evaluate` (:mod:`ieegrecon.cli.fmri_cmd`).

Trains :class:`~ieegrecon.fmri.model.FmriModel` on ``n_train`` simulated
subjects, then for each held-out subject and missing fraction (25/50/75 %,
frames dropped at random) compares on the missing frames: EEG-only
prediction, linear temporal interpolation and completion. Pearson r is per
vertex over the missing frames (mean over cortical vertices); MSE over the
missing frames; SSIM over the whole time x vertex map (cortical vertices).
"""

from __future__ import annotations

import numpy as np

from .completion import complete, linear_interpolation, random_mask
from .mesh import load_fsaverage5
from .metrics import mse, pearson_r, ssim
from .model import FmriModel
from .simulate import simulate_subject


def evaluate(n_train: int = 4, n_test: int = 2, seed: int = 0, duration_s: float = 240.0, tr: float = 0.8,
             fractions: tuple[float, ...] = (0.25, 0.5, 0.75)) -> dict:
    """Train, then score EEG-only / interpolation / completion on held-out subjects.

    Parameters
    ----------
    n_train, n_test : int
        Training and held-out simulated subjects (seeds ``seed * 1000 + i``).
    seed : int
        Master seed (subjects, the model's fit, the random masks).
    duration_s : float
        Seconds per subject.
    tr : float
        Repetition time in seconds.
    fractions : tuple of float
        Fractions of frames missing at random, each scored.

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
