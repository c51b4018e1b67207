"""DDP pretraining (cast): N gloo processes vs one process, same windows seen, validation loss and wall time.

Usage: ``python benchmarks/bench_ddp.py [--nproc 2] [--subjects 8] [--seconds 120] [--epochs 4]
[--windows 256] [--d-model 32] [--seed 0] [--train-seed S]``

A synthetic cohort (``--subjects`` subjects, ``--seconds`` each: resonant
sources mixed by inverse-square gains into 19 scalp channels and 12 contacts,
half of the subjects on the 8-channel ds004752 montage) is pretrained with
:meth:`ieegrecon.models.cast.CastModel.pretrain` (no lag prior) twice with the
same seed, epochs and windows per epoch, three times:

- in this process, with ``--nproc`` torch threads: one segment per optimizer
  step (the default);
- in this process again with ``groups_per_step = --nproc``
  (:func:`ieegrecon.models._cast_train.train_network`): every step averages
  the gradients of ``--nproc`` micro-batches of ``ceil(batch / nproc)``
  windows from distinct segments, as a DDP step does (the fair twin of DDP);
- in ``--nproc`` processes of one gloo group (``torch.multiprocessing``, one
  thread each), the subjects sharded across ranks, the batch split across
  them, one segment per rank and step.

All score the same validation windows (the last 10 % of every subject).
Prints the validation loss after each epoch, the relative differences of
the last one (DDP vs each one-process run; target: within 2 %), the wall
times and the load average before and after each run. Not a test.
"""

from __future__ import annotations

import argparse
import functools
import inspect
import json
import os
import socket
import tempfile
import time
from pathlib import Path

import numpy as np

SFREQ = 200.0
EIGHT = ["F3", "F4", "C3", "C4", "O1", "O2", "A1", "A2"]


def cohort(n_subjects: int, seconds: float, seed: int = 0) -> list:
    """Synthetic paired segments (V), one per subject (``s0``, ``s1``...)."""
    from scipy.signal import lfilter

    from ieegrecon.channels import STANDARD_1020_19
    from ieegrecon.headmodel import scalp_positions
    from ieegrecon.models.base import ContactInfo, PairedSegment

    rng = np.random.default_rng(seed)
    segs = []
    n = int(seconds * SFREQ)
    for i in range(n_subjects):
        src = rng.normal(size=(10, 3))
        src = src / np.linalg.norm(src, axis=1, keepdims=True) * rng.uniform(0.02, 0.06, size=(10, 1))
        s = np.stack([lfilter([1], [1, -2 * 0.97 * np.cos(2 * np.pi * rng.uniform(3, 30) / SFREQ), 0.97 ** 2],
                              rng.normal(size=n)) for _ in range(10)])
        s /= s.std(1, keepdims=True)
        pos = src[rng.integers(0, 10, 12)] + rng.normal(scale=0.01, size=(12, 3))
        names = list(STANDARD_1020_19) if i % 2 else EIGHT

        def gains(p):
            return 1.0 / (np.linalg.norm(p[:, None] - src[None], axis=2) / 0.02) ** 2

        scalp = gains(scalp_positions(names)) @ s * 5e-6
        scalp += rng.normal(scale=0.3 * scalp.std(), size=scalp.shape)
        ieeg = gains(pos) @ s * 1e-5
        ieeg += rng.normal(scale=0.2 * ieeg.std(), size=ieeg.shape)
        ci = ContactInfo([f"c{k}" for k in range(12)], pos, ["precentral_L"] * 12, ["deep"] * 12)
        segs.append(PairedSegment(scalp, ieeg, SFREQ, names, ci, f"s{i}"))
    return segs


def _train(args: argparse.Namespace, groups_per_step: int = 1) -> dict:
    from ieegrecon.models import _cast_train as stages
    from ieegrecon.models.cast import CastModel

    model = CastModel(d_model=args.d_model, n_heads=4 if args.d_model >= 32 else 2)
    seed = args.seed if args.train_seed is None else args.train_seed
    kw = dict(epochs=args.epochs, seed=seed, max_windows_per_epoch=args.windows, batch_size=args.batch,
              lag_prior_minutes=0.0, patience=args.epochs)
    train_network = stages.train_network
    if groups_per_step != 1:
        if "groups_per_step" in inspect.signature(CastModel.pretrain).parameters:
            kw["groups_per_step"] = groups_per_step
        else:  # CastModel.pretrain does not take it: hand it to its training stage
            stages.train_network = functools.partial(train_network, groups_per_step=groups_per_step)
    t0 = time.perf_counter()
    try:
        info = model.pretrain(cohort(args.subjects, args.seconds, args.seed), **kw)
    finally:
        stages.train_network = train_network
    return {"val_loss": info["val_loss"], "train_loss": info["train_loss"], "seconds": time.perf_counter() - t0,
            "n_train_windows": info["n_train_windows"], "n_val_windows": info["n_val_windows"]}


def _load() -> str:
    return "/".join(f"{v:.2f}" for v in os.getloadavg())


def _rank(rank: int, world: int, port: int, args: argparse.Namespace, out: str) -> None:
    import torch

    from ieegrecon.models import training as tr

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    with tr.distributed(None):
        res = _train(args)
    Path(out, f"rank{rank}.json").write_text(json.dumps(res))


def main() -> None:
    import torch
    import torch.multiprocessing as mp

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nproc", type=int, default=2)
    ap.add_argument("--subjects", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--windows", type=int, default=256, help="training windows per epoch")
    ap.add_argument("--batch", type=int, default=16, help="windows per optimizer step (split across processes)")
    ap.add_argument("--d-model", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0, help="seed of the cohort (and of the training)")
    ap.add_argument("--train-seed", type=int, default=None,
                    help="seed of the training only (default: --seed), to see its spread on one cohort")
    args = ap.parse_args()
    print(f"cohort: {args.subjects} subjects x {args.seconds:g} s; {args.epochs} epochs x {args.windows} windows, "
          f"batch {args.batch}, d_model {args.d_model}; seed {args.seed}, training seed "
          f"{args.seed if args.train_seed is None else args.train_seed}; cores {os.cpu_count()}, "
          f"load {os.getloadavg()[0]:.2f}")
    torch.set_num_threads(args.nproc)
    loads = [_load()]
    one = _train(args)
    loads.append(_load())
    twin = _train(args, groups_per_step=args.nproc)
    loads.append(_load())
    with tempfile.TemporaryDirectory() as tmp:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        t0 = time.perf_counter()
        mp.spawn(_rank, args=(args.nproc, port, args, tmp), nprocs=args.nproc, join=True)
        wall = time.perf_counter() - t0
        many = json.loads(Path(tmp, "rank0.json").read_text())
        n_train = sum(json.loads(Path(tmp, f"rank{r}.json").read_text())["n_train_windows"]
                      for r in range(args.nproc))
    loads.append(_load())
    _report(args, one, twin, many, n_train, wall, loads)


def _report(args: argparse.Namespace, one: dict, twin: dict, many: dict, n_train: int, wall: float,
            loads: list[str]) -> None:
    def per_epoch(res: dict) -> str:
        return ", ".join(f"{v:.4f}" for v in res["val_loss"])

    print(f"1 process ({args.nproc} threads), 1 segment per step: validation loss per epoch {per_epoch(one)}; "
          f"{one['seconds']:.1f} s training")
    print(f"1 process ({args.nproc} threads), groups_per_step {args.nproc}: validation loss per epoch "
          f"{per_epoch(twin)}; {twin['seconds']:.1f} s training")
    print(f"{args.nproc} processes (gloo, 1 thread each): validation loss per epoch {per_epoch(many)}; "
          f"{many['seconds']:.1f} s training ({wall:.1f} s with process start-up)")
    print(f"training windows: {one['n_train_windows']} in one process, {n_train} over the ranks "
          f"({many['n_train_windows']} on rank 0); validation windows {one['n_val_windows']}")
    print(f"load average (1/5/15 min) before and after each run: {' -> '.join(loads)}")
    last = [res["val_loss"][-1] for res in (one, twin, many)]
    for name, ref in (("1 process default", last[0]), (f"1 process groups_per_step {args.nproc}", last[1])):
        print(f"last validation loss, {args.nproc} processes vs {name}: {last[2]:.4f} vs {ref:.4f} "
              f"({100 * (last[2] / ref - 1):+.2f} %; target within 2 %)")
    print(f"last validation loss, 1 process groups_per_step {args.nproc} vs default: {last[1]:.4f} vs {last[0]:.4f} "
          f"({100 * (last[1] / last[0] - 1):+.2f} %)")
    print(f"speed x{one['seconds'] / many['seconds']:.2f} (training only, {args.nproc} processes vs 1 process "
          "default)")


if __name__ == "__main__":
    main()
