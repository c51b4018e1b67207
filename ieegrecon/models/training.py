"""Generic torch training utilities shared by the deep-learning methods.

Seeding and determinism, device choice, early stopping, the waveform +
spectral loss, robust per-channel standardization, cutting
:class:`~ieegrecon.models.base.PairedSegment` signals into fixed-length
windows (:mod:`ieegrecon.models.overlap` adds them back into a continuous
signal). Nothing here knows about a particular architecture.
"""

from __future__ import annotations

import contextlib
import random
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Scale from the inter-quartile range to the standard deviation of a Gaussian.
IQR_TO_STD = 1.0 / 1.3489795


def set_seed(seed: int) -> np.random.Generator:
    """Seed Python, NumPy and torch; return a NumPy generator for data order.

    Parameters
    ----------
    seed : int
        The seed.

    Returns
    -------
    rng : numpy.random.Generator
        Generator seeded with ``seed`` (use it for every shuffling decision).
    """
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


@contextlib.contextmanager
def deterministic() -> Iterator[None]:
    """Context manager: ``torch.use_deterministic_algorithms(True)`` inside, restored after.

    On CPU every op used by ieegrecon's models has a deterministic
    implementation; on CUDA ``warn_only`` is used so that an op without one
    warns instead of failing.
    """
    import torch

    prev = torch.are_deterministic_algorithms_enabled()
    prev_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(prev, warn_only=prev_warn)


def choose_device(device: str | None) -> Any:
    """Resolve a device request; never requires a GPU.

    Parameters
    ----------
    device : str | None
        ``'cpu'``, ``'cuda'``, ``'cuda:1'``, ``'auto'`` (CUDA if available) or None (CPU).

    Returns
    -------
    torch.device
        CUDA only when requested and available; otherwise CPU (with a
        ``RuntimeWarning`` when CUDA was asked for explicitly but is absent).
    """
    import torch

    if device is None or device == "cpu":
        return torch.device("cpu")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if str(device).startswith("cuda"):
        if torch.cuda.is_available():
            return torch.device(device)
        warnings.warn(f"device {device!r} requested but CUDA is not available; using CPU", RuntimeWarning,
                      stacklevel=2)
        return torch.device("cpu")
    raise ValueError(f"unknown device {device!r}: use 'cpu', 'cuda' or 'auto'")


@dataclass
class EarlyStopping:
    """Stop when the validation loss has not improved for ``patience`` checks.

    Keeps a copy of the best state (a dict of tensors, copied with
    ``.detach().clone()``).

    Parameters
    ----------
    patience : int
        Checks without improvement before :attr:`stop` becomes True.
    min_delta : float
        Relative improvement that counts (``loss < best - min_delta * |best|``; losses may be negative).
    """

    patience: int = 5
    min_delta: float = 1e-4
    best: float = float("inf")
    best_epoch: int = -1
    bad: int = 0
    best_state: dict[str, Any] | None = field(default=None, repr=False)

    def step(self, loss: float, epoch: int, state: dict[str, Any] | None = None) -> bool:
        """Record one validation loss; return True if it is a new best."""
        if self.best == float("inf") or loss < self.best - self.min_delta * abs(self.best):
            self.best, self.best_epoch, self.bad = float(loss), int(epoch), 0
            if state is not None:
                self.best_state = {k: v.detach().clone() for k, v in state.items()}
            return True
        self.bad += 1
        return False

    @property
    def stop(self) -> bool:
        """Whether patience is exhausted."""
        return self.bad >= self.patience


def robust_standardize(x: np.ndarray, axis: int = -1, eps: float = 1e-12) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre on the median and scale by the robust standard deviation.

    The scale is the inter-quartile range / 1.349 (the Gaussian-consistent
    estimate), falling back to the plain standard deviation where the IQR is
    zero, and to 1 for flat channels.

    Parameters
    ----------
    x : ndarray, shape (n_channels, n_times)
        Signals (any unit).
    axis : int
        Time axis.
    eps : float
        Scales below this are treated as flat.

    Returns
    -------
    z : ndarray, shape like ``x``
        Standardized signals (float32).
    center : ndarray, shape (n_channels,)
        Medians, in the unit of ``x``.
    scale : ndarray, shape (n_channels,)
        Robust standard deviations, in the unit of ``x``.
    """
    x = np.asarray(x, dtype=np.float64)
    center = np.median(x, axis=axis)
    q75, q25 = np.percentile(x, [75, 25], axis=axis)
    scale = (q75 - q25) * IQR_TO_STD
    sd = np.std(x, axis=axis)
    scale = np.where(scale > eps, scale, sd)
    scale = np.where(scale > eps, scale, 1.0)
    z = (x - np.expand_dims(center, axis)) / np.expand_dims(scale, axis)
    return z.astype(np.float32), center, scale


def standardize(x: np.ndarray, center: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Apply per-channel statistics from :func:`robust_standardize` to other data.

    Parameters
    ----------
    x : ndarray, shape (n_channels, n_times)
    center, scale : ndarray, shape (n_channels,)
        In the unit of ``x`` (e.g. those of a calibration recording).

    Returns
    -------
    ndarray, shape (n_channels, n_times), float32
    """
    return ((x - center[:, None]) / scale[:, None]).astype(np.float32)


def window_starts(n_times: int, win: int, stride: int) -> np.ndarray:
    """Start samples of windows of ``win`` samples every ``stride`` samples.

    The last window always ends at (or, if ``n_times < win``, beyond)
    ``n_times``, so that every sample is covered.

    Returns
    -------
    starts : ndarray of int, shape (n_windows,)
    """
    if n_times <= win:
        return np.array([0], dtype=int)
    starts = list(range(0, n_times - win + 1, stride))
    if starts[-1] + win < n_times:
        starts.append(n_times - win)
    return np.asarray(starts, dtype=int)


def cut_windows(x: np.ndarray, starts: np.ndarray, win: int) -> np.ndarray:
    """Cut ``x`` into windows, zero-padding past the end.

    Parameters
    ----------
    x : ndarray, shape (n_channels, n_times)
    starts : ndarray of int, shape (n_windows,)
    win : int
        Window length in samples.

    Returns
    -------
    windows : ndarray, shape (n_windows, n_channels, win)
    """
    n_ch, n_times = x.shape
    need = int(starts.max()) + win if len(starts) else win
    if need > n_times:
        x = np.concatenate([x, np.zeros((n_ch, need - n_times), dtype=x.dtype)], axis=1)
    idx = starts[:, None] + np.arange(win)[None, :]
    return np.ascontiguousarray(x[:, idx].transpose(1, 0, 2))


def waveform_spectral_loss(pred: Any, target: Any, spectral_weight: float = 0.1,
                           eps: float = 1e-3) -> Any:
    """MSE on the waveform plus L1 on log-magnitude spectra.

    Parameters
    ----------
    pred, target : torch.Tensor, shape (..., n_times)
        Standardized waveforms.
    spectral_weight : float
        Weight of the spectral term (0 disables it).
    eps : float
        Added to magnitudes before the log.

    Returns
    -------
    loss : torch.Tensor (scalar)
    """
    import torch

    loss = torch.mean((pred - target) ** 2)
    if spectral_weight > 0:
        n = pred.shape[-1]
        scale = 1.0 / np.sqrt(n)
        mp = torch.abs(torch.fft.rfft(pred, dim=-1)) * scale
        mt = torch.abs(torch.fft.rfft(target, dim=-1)) * scale
        loss = loss + spectral_weight * torch.mean(torch.abs(torch.log(mp + eps) - torch.log(mt + eps)))
    return loss


# ------------------------------------------------------------------ distributed data parallel (torchrun)
def dist_context() -> tuple[int, int]:
    """``(rank, world_size)`` of the running ``torch.distributed`` process group; ``(0, 1)`` without one."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


@contextlib.contextmanager
def distributed(device: str | None) -> Iterator[tuple[int, int, str | None]]:
    """Join the process group that ``torchrun`` describes in the environment, for the block.

    Without ``WORLD_SIZE`` > 1 in the environment (a plain process) nothing
    happens. Otherwise the group is initialized from ``RANK``, ``WORLD_SIZE``,
    ``MASTER_ADDR`` and ``MASTER_PORT`` with the ``nccl`` backend when
    ``device`` asks for CUDA and CUDA is present (each rank on
    ``cuda:LOCAL_RANK``), else ``gloo`` (CPU), and destroyed after the block
    (a group that was already initialized is kept).

    Parameters
    ----------
    device : str | None
        The device request (see :func:`choose_device`).

    Yields
    ------
    rank, world_size : int
    device : str | None
        ``device``, made ``cuda:LOCAL_RANK`` for a CUDA run with several ranks.
    """
    import os

    import torch
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1 or dist.is_initialized():
        rank, world = dist_context()
        yield rank, world, device
        return
    cuda = device is not None and str(device).startswith("cuda") and torch.cuda.is_available()
    if cuda:
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if cuda else "gloo")
    try:
        yield dist.get_rank(), dist.get_world_size(), device
    finally:
        dist.destroy_process_group()


def shard_groups(sizes: list[int], world: int) -> list[int]:
    """Assign groups (subjects) to ranks, largest first, each to the least-loaded rank.

    Parameters
    ----------
    sizes : list of int
        Work per group (e.g. training windows per subject).
    world : int
        Number of ranks.

    Returns
    -------
    rank_of : list of int
        The rank of each group (deterministic: ties go to the lower rank, then the earlier group).
    """
    load = [0] * world
    rank_of = [0] * len(sizes)
    for g in sorted(range(len(sizes)), key=lambda g: (-sizes[g], g)):
        r = min(range(world), key=lambda r: (load[r], r))
        rank_of[g] = r
        load[r] += sizes[g]
    return rank_of


def all_reduce(values: list[float], op: str = "sum") -> list[float]:
    """Sum (or ``op='max'``) ``values`` over every rank of the process group; unchanged without one."""
    import torch
    import torch.distributed as dist

    if dist_context()[1] == 1:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64)
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.all_reduce(t, op=dist.ReduceOp.MAX if op == "max" else dist.ReduceOp.SUM)
    return [float(v) for v in t.cpu()]


def shard_subjects(subjects: list[str], train_idx: list[tuple[int, int]], val_idx: list[tuple[int, int]], rank: int,
                   world: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The windows of the subjects of ``rank`` (subjects balanced over ranks by window count).

    Parameters
    ----------
    subjects : list of str
        The subject of each data index.
    train_idx, val_idx : list of (data index, window start)
        Every window of the cohort.
    rank, world : int
        This process's rank and the number of ranks.

    Returns
    -------
    train_idx, val_idx : list of (data index, window start)
        This rank's windows.

    Raises
    ------
    ValueError
        A rank would get no training window (fewer subjects than ranks).
    """
    names = list(dict.fromkeys(subjects))
    count = {n: 0 for n in names}
    n_train = {n: 0 for n in names}
    for di, _ in train_idx:
        count[subjects[di]] += 1
        n_train[subjects[di]] += 1
    for di, _ in val_idx:
        count[subjects[di]] += 1
    owner = dict(zip(names, shard_groups([count[n] for n in names], world)))
    if any(sum(n_train[n] for n in names if owner[n] == r) == 0 for r in range(world)):
        raise ValueError(f"{world} processes but only {sum(v > 0 for v in n_train.values())} subjects with "
                         "training windows: every process needs at least one subject")
    mine = {di for di, s in enumerate(subjects) if owner[s] == rank}
    return [w for w in train_idx if w[0] in mine], [w for w in val_idx if w[0] in mine]


def ddp_wrap(net: Any, dev: Any, seed: int, rank: int) -> tuple[np.random.Generator, Any]:
    """``net`` in ``DistributedDataParallel``, and this rank's generators (NumPy returned, torch seeded).

    Each rank draws its own windows, contacts and dropout masks: the NumPy
    generator is seeded with ``[seed, rank]``, torch with a value derived from it.
    """
    import torch
    from torch.nn.parallel import DistributedDataParallel

    torch.manual_seed(int(np.random.SeedSequence([seed, rank]).generate_state(1)[0]))
    wrapped = DistributedDataParallel(net, device_ids=[dev.index] if dev.type == "cuda" else None)
    return np.random.default_rng([seed, rank]), wrapped
