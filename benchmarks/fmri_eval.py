"""fMRI completion benchmark on simulated subjects (issue #20), with a cache of the neural simulation.

Runs :func:`ieegrecon.fmri.evaluate.evaluate` (what ``ieegrecon fmri-evaluate`` runs) and writes
the table and the JSON results. The TVB neural activity of each subject (the slow part, ~25 s per
subject) is cached under ``--cache`` as ``.npy``; everything after it is recomputed, so the numbers
are those of ``ieegrecon fmri-evaluate`` with the same arguments.

Development (design) runs::

    python benchmarks/fmri_eval.py --seed 0 --subjects 12 --test-subjects 5 --out results/fmri_dev.json \
        --save-model model12

Final report on the sealed seeds (docs/evaluation.md), once, after the design is fixed::

    python benchmarks/fmri_eval.py --seed 0 --subjects 12 --test-subjects 3 --sealed --model model12 \
        --out results/fmri_sealed.json
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np


def cached_simulate(cache: Path):
    """``simulate_subject`` with the TVB neural activity cached in ``cache``."""
    from ieegrecon.fmri.simulate import simulate_neural, simulate_subject

    def simulate(duration_s: float, seed: int, *, tr: float, mesh, warmup_s: float = 20.0):
        total = warmup_s + int(np.floor(duration_s / tr)) * tr
        path = cache / f"neural_{seed}_{total:g}.npy"
        if path.is_file():
            x = np.load(path)
        else:
            x = simulate_neural(total, np.random.default_rng(seed))
            np.save(path, x)
        return simulate_subject(duration_s, seed, tr=tr, mesh=mesh, warmup_s=warmup_s, neural=x)

    return simulate


def table(res: dict) -> str:
    """Markdown table of the aggregated rows."""
    lines = ["| gaps | missing | method | Pearson r | MSE (%²) | SSIM |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['pattern']} | {r['missing']:.0%} | {r['method']} | {r['r']:.3f} | {r['mse']:.4f} | "
              + ("- |" if r["ssim"] is None else f"{r['ssim']:.3f} |") for r in res["rows"]]
    return "\n".join(lines)


def main() -> None:
    from ieegrecon.fmri.evaluate import evaluate

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--subjects", type=int, default=4)
    p.add_argument("--test-subjects", type=int, default=6)
    p.add_argument("--duration", type=float, default=240.0)
    p.add_argument("--sealed", action="store_true")
    p.add_argument("--cache", type=Path, default=Path("/tmp/fmri_cache"))
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--model", type=Path, help="model folder saved by a development run of the same --seed and "
                   "--subjects (the fit is deterministic; saves the training)")
    p.add_argument("--no-ssim", action="store_true", help="skip SSIM (the slowest metric)")
    p.add_argument("--save-model", type=Path, help="write the trained model folder here")
    a = p.parse_args()
    a.cache.mkdir(parents=True, exist_ok=True)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    t0 = time.perf_counter()
    from ieegrecon.fmri.model import FmriModel

    model = FmriModel.load(a.model) if a.model else None
    if model is not None and model.trained_on.get("seeds") != list(range(a.seed * 1000, a.seed * 1000 + a.subjects)):
        raise SystemExit(f"{a.model} was not trained on the training subjects of --seed {a.seed}")
    res = evaluate(a.subjects, a.test_subjects, a.seed, a.duration, sealed=a.sealed,
                   simulate=cached_simulate(a.cache), model=model, save_model=a.save_model,
                   with_ssim=not a.no_ssim)
    res["elapsed_s"] = round(time.perf_counter() - t0, 1)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(res, indent=1))
    print(table(res))
    print(f"measured frames exact: {res['exact']}; seeds {res['seeds']}; {res['elapsed_s']} s")


if __name__ == "__main__":
    main()
