"""Reproducible evaluation on held-out simulated subjects (development or sealed seeds).

``ieegrecon fmri-evaluate --subjects 4 --test-subjects 5 --seed 0`` runs
:func:`evaluate` (:mod:`ieegrecon.cli.fmri_cmd`).

Trains :class:`~ieegrecon.fmri.model.FmriModel` on ``n_train`` simulated
subjects, then for each held-out subject and gap pattern (frames missing at
random, or one contiguous block at a random position) compares on the
missing frames:

* ``eeg-only``: the model's prediction from the EEG alone (the same decoder
  as the completion, without the run's measured frames);
* ``gp-only``: the completion with no EEG (constant-mean Gaussian process,
  its own kernel fitted on the training subjects);
* ``linear interpolation`` in time;
* ``eeg-recalibrated``: the EEG prediction with its per-vertex gain, offset
  and drift (when the kernel uses them) fitted on the run's measured frames,
  no Gaussian-process residual (a baseline: the EEG model refitted on the run);
* ``completion``: recalibrated EEG prior + Gaussian-process residual;
* ``completion, other run's EEG``: the same with the EEG of another held-out
  subject (a control: the EEG must matter; a prior of zeros when only one
  subject is held out).

Seeds (docs/evaluation.md): development master seeds are 0-999 (subjects
``seed * 1000 + i``); the sealed master seeds 50021 and 50023 are used only
with ``sealed=True``, for a final report: the model is then trained on the
development subjects of ``seed`` and tested on subjects ``50021000 + i`` and
``50023000 + i``, ``i < n_test``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from .completion import complete, contiguous_mask, linear_interpolation, random_mask
from .mesh import load_fsaverage5
from .metrics import mse, pearson_r, ssim
from .model import FmriModel

#: Master seeds of the sealed fMRI test cohort (the same as the iEEG sealed cohort).
SEALED_SEEDS = (50021, 50023)
#: Gap patterns scored: (kind, fraction missing).
PATTERNS = (("interleaved", 0.25), ("interleaved", 0.5), ("interleaved", 0.75), ("contiguous", 0.5))
#: Ablation and control rows: scored by r and MSE only (no SSIM, to save time).
CONTROLS = ("eeg-recalibrated", "completion, other run's EEG")


def subject_seeds(n_train: int, n_test: int, seed: int, sealed: bool = False) -> tuple[list[int], list[int]]:
    """Seeds of the training and test subjects.

    Raises
    ------
    ValueError
        If ``seed`` is not a development master seed (0-999).
    """
    if not 0 <= seed <= 999:
        raise ValueError(f"Invalid value for the 'seed' parameter: development master seeds are 0-999 "
                         f"(sealed seeds {SEALED_SEEDS} are reached only through the 'sealed' parameter), "
                         f"but got {seed} instead.")
    train = [seed * 1000 + i for i in range(n_train)]
    if sealed:
        return train, [s * 1000 + i for s in SEALED_SEEDS for i in range(n_test)]
    return train, [seed * 1000 + n_train + i for i in range(n_test)]


def _mask(kind: str, n_frames: int, frac: float, rng: np.random.Generator) -> np.ndarray:
    return random_mask(n_frames, frac, rng) if kind == "interleaved" else contiguous_mask(n_frames, frac, rng)


def _outputs(model: FmriModel, prior: np.ndarray, other: np.ndarray, bold: np.ndarray,
             keep: np.ndarray) -> dict:
    k, kg = model.kernel_args(), model.kernel_args(gp_only=True)
    known = bold[keep]
    n = bold.shape[0]
    return {"eeg-only": prior,
            "gp-only": complete(np.zeros_like(prior), known, keep, **kg),
            "linear interpolation": linear_interpolation(known, keep, n),
            "eeg-recalibrated": complete(prior, known, keep, **{**k, "nugget": 1.0}),
            "completion": complete(prior, known, keep, **k),
            "completion, other run's EEG": complete(other, known, keep, **k)}


def aggregate(runs: list[dict], patterns: tuple[tuple[str, float], ...]) -> list[dict]:
    """Mean r, MSE and SSIM over runs, per gap pattern and method (SSIM None where not computed)."""
    rows = []
    for kind, frac in patterns:
        for name in dict.fromkeys(r["method"] for r in runs):
            sel = [r for r in runs if r["pattern"] == kind and r["missing"] == frac and r["method"] == name]
            rows.append({"pattern": kind, "missing": frac, "method": name, "n_runs": len(sel),
                         **{m: None if sel[0][m] is None else float(np.mean([r[m] for r in sel]))
                            for m in ("r", "mse", "ssim")}})
    return rows


def evaluate(n_train: int = 4, n_test: int = 5, seed: int = 0, duration_s: float = 240.0, tr: float = 0.8,
             patterns: tuple[tuple[str, float], ...] = PATTERNS, sealed: bool = False,
             simulate: Callable | None = None, model: FmriModel | None = None,
             save_model: str | Path | None = None, with_ssim: bool = True) -> dict:
    """Train, then score every method on held-out subjects and gap patterns.

    Parameters
    ----------
    n_train, n_test : int
        Training subjects and held-out subjects (per sealed seed when ``sealed``).
    seed : int
        Development master seed, 0-999 (subjects, the model's fit, the masks).
    duration_s : float
        Seconds per subject.
    tr : float
        Repetition time in seconds.
    patterns : tuple of (str, float)
        ``('interleaved' | 'contiguous', fraction missing)``.
    sealed : bool
        Test on the sealed seeds (final reports only, docs/evaluation.md).
    simulate : callable | None
        ``simulate(duration_s, seed, tr=, mesh=)`` -> FmriSubject; defaults to
        :func:`ieegrecon.fmri.simulate.simulate_subject` (benchmarks pass a cache).
    model : FmriModel | None
        A model already trained on the training subjects of ``seed`` with these
        settings (the fit is deterministic, so this only saves time); trained when None.
    save_model : path-like | None
        Write the trained model folder there (:meth:`FmriModel.save`).
    with_ssim : bool
        Compute SSIM (the slowest metric); None in the rows otherwise.

    Returns
    -------
    dict
        ``{'rows': [{'pattern', 'missing', 'method', 'r', 'mse', 'ssim', 'n_runs'}],
        'runs': [per run and method], 'exact': bool, 'seeds': {...}, 'model': config}``.
    """
    if simulate is None:
        from .simulate import simulate_subject as simulate
    train_seeds, test_seeds = subject_seeds(n_train, n_test, seed, sealed)
    mesh = load_fsaverage5()
    if model is None:
        train = [simulate(duration_s, s, tr=tr, mesh=mesh) for s in train_seeds]
        model = FmriModel(train[0].ch_names, tr).fit(
            [s.eeg for s in train], train[0].sfreq, [mesh.vertex_to_parcel(s.bold) for s in train],
            vertex_bolds=[s.bold for s in train], mesh=mesh, seed=seed)
        model.trained_on["seeds"] = train_seeds
        del train
    if save_model is not None:
        model.save(save_model, overwrite=True)
    ctx = mesh.labels >= 0
    rng = np.random.default_rng([seed, 12345])
    tests = [simulate(duration_s, s, tr=tr, mesh=mesh) for s in test_seeds]
    priors = [model.predict_vertices(s.eeg, s.sfreq, s.n_frames, mesh) for s in tests]
    runs, exact = [], True
    for i, s in enumerate(tests):
        other = priors[(i + 1) % len(tests)] if len(tests) > 1 else np.zeros_like(priors[i])
        for kind, frac in patterns:
            keep = _mask(kind, s.n_frames, frac, rng)
            miss = np.setdiff1d(np.arange(s.n_frames), keep)
            for name, o in _outputs(model, priors[i], other, s.bold, keep).items():
                if name != "eeg-only" and name != "linear interpolation":
                    exact &= bool(np.max(np.abs(o[keep] - s.bold[keep])) == 0)
                t, p = s.bold[miss][:, ctx], o[miss][:, ctx]
                score = with_ssim and name not in CONTROLS
                runs.append({"subject_seed": s.seed, "pattern": kind, "missing": frac, "method": name,
                             "r": float(np.nanmean(pearson_r(p, t))), "mse": mse(p, t),
                             "ssim": ssim(o[:, ctx], s.bold[:, ctx]) if score else None})
    rows = aggregate(runs, patterns)
    return {"rows": rows, "runs": runs, "exact": exact, "model": model.config(),
            "seeds": {"train": train_seeds, "test": test_seeds, "sealed": sealed}}
