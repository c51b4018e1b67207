"""Batches, losses and optimizer steps of :class:`~ieegrecon.models.cast.CastModel` training.

A batch (:func:`group_windows`) holds windows of one segment (one
subject's contacts and montage). One pretraining optimizer step averages the
gradients of one or more such single-segment *micro-batches*
(:func:`step_groups`): ``groups_per_step`` of them in one process, and in a
distributed run of ``world`` ranks ``ceil(groups_per_step / world)`` on every
rank (:func:`micro_batches_per_rank`), each of
:func:`micro_batch_size` windows, so that one step still sees about
``batch_size`` windows.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

from . import training as tr
from .base import ContactInfo


def group_windows(index: list[tuple[int, int]], order: np.ndarray, batch_size: int) -> list[list[int]]:
    """Group window indices (in ``order``) into batches from a single segment each."""
    by_seg: dict[int, list[int]] = {}
    for j in order:
        by_seg.setdefault(index[j][0], []).append(int(j))
    return [v[i:i + batch_size] for k in sorted(by_seg) for v in [by_seg[k]] for i in range(0, len(v), batch_size)]


def check_groups_per_step(groups_per_step: int) -> int:
    """``groups_per_step`` as an int >= 1, else a ValueError naming the parameter."""
    if isinstance(groups_per_step, bool) or int(groups_per_step) != groups_per_step or groups_per_step < 1:
        raise ValueError("Invalid value for the 'groups_per_step' parameter: must be an integer >= 1, "
                         f"but got {groups_per_step!r} instead.")
    return int(groups_per_step)


def micro_batches_per_rank(groups_per_step: int, world: int) -> int:
    """Micro-batches one rank accumulates per optimizer step: ``ceil(groups_per_step / world)``."""
    return -(-groups_per_step // world)


def micro_batch_size(batch_size: int, groups_per_step: int, world: int) -> int:
    """Windows per micro-batch: ``batch_size`` split over the step's ``world * ceil(groups_per_step / world)``.

    1 process and ``groups_per_step`` 1: ``batch_size`` (one batch per
    step); ``world`` ranks and ``groups_per_step`` 1: ``ceil(batch_size / world)``.
    """
    return -(-batch_size // (world * micro_batches_per_rank(groups_per_step, world)))


def step_groups(batches: list[list[int]], segments: list[int], size: int) -> list[list[list[int]]]:
    """Split ``batches`` (in order) into optimizer steps of ``size`` micro-batches of distinct segments.

    Each step takes, from the batches not yet used, the first ``size`` whose
    segments differ; when fewer than ``size`` segments are left, the step is
    completed with the next batches in order (so segments repeat only at
    the end of an epoch). Every batch is used once; there are
    ``ceil(len(batches) / size)`` steps.

    Parameters
    ----------
    batches : list of list of int
        Single-segment batches (window indices), already shuffled.
    segments : list of int
        The segment (data index) of each batch.
    size : int
        Micro-batches per step.

    Returns
    -------
    steps : list of list of list of int
        The micro-batches of each step.
    """
    if size == 1:
        return [[b] for b in batches]
    left, steps = list(range(len(batches))), []
    while left:
        pick: list[int] = []
        for i in left:
            if segments[i] not in {segments[j] for j in pick}:
                pick.append(i)
                if len(pick) == size:
                    break
        pick += [i for i in left if i not in pick][:size - len(pick)]
        chosen = set(pick)
        left = [i for i in left if i not in chosen]
        steps.append([batches[i] for i in pick])
    return steps


def sync_unless(net: Any, accumulate: bool) -> Any:
    """``net.no_sync()`` (DDP: no gradient all-reduce) while ``accumulate``; a null context otherwise."""
    return net.no_sync() if net is not None and accumulate else contextlib.nullcontext()


def step_loss(model: Any, zx: np.ndarray, zy: np.ndarray, ch_pos: np.ndarray, contacts: ContactInfo,
              starts: np.ndarray, dev: Any, adapter: Any = None, net: Any = None) -> Any:
    """Waveform + spectral loss of the network on the windows at ``starts`` (a torch scalar).

    ``net`` runs the forward pass instead of ``model.net`` (its
    DistributedDataParallel wrapper in a distributed run).
    """
    import torch

    xb = torch.as_tensor(tr.cut_windows(zx, starts, model.win), device=dev)
    yb = torch.as_tensor(tr.cut_windows(zy, starts, model.win), device=dev)
    q = model._queries(contacts, dev, adapter)
    pred = (model.net if net is None else net)(xb, torch.as_tensor(ch_pos, dtype=torch.float32, device=dev), q)
    return tr.waveform_spectral_loss(pred, yb, model.spectral_weight)


def micro_batch_loss(model: Any, data: list, train_idx: list[tuple[int, int]], batch: list[int],
                     rng: np.random.Generator, dev: Any, max_contacts: int, channel_dropout: float,
                     net: Any = None) -> Any:
    """Loss of one pretraining micro-batch, on random contacts and (with ``channel_dropout``) scalp channels.

    Draws from ``rng`` in this order: whether to drop channels (and which),
    then the contacts (at most ``max_contacts``).
    """
    zx, zy, ch_pos, contacts = data[train_idx[batch[0]][0]]
    starts = np.array([train_idx[j][1] for j in batch])
    ch = np.arange(zx.shape[0])
    if channel_dropout > 0 and len(ch) > 4 and rng.random() < channel_dropout:
        ch = np.sort(rng.choice(len(ch), int(rng.integers(4, len(ch) + 1)), replace=False))
    ks = np.arange(zy.shape[0])
    if len(ks) > max_contacts:
        ks = np.sort(rng.choice(len(ks), max_contacts, replace=False))
    return step_loss(model, zx[ch], zy[ks], ch_pos[ch], contacts.subset(list(ks)), starts, dev, net=net)


def eval_loss(model: Any, data: list, index: list[tuple[int, int]], dev: Any, adapter: Any = None,
              batch_size: int = 32, reduce: bool = False) -> float:
    """Mean loss over the windows of ``index`` (eval mode, no grad).

    With ``reduce``, the mean over the windows of every rank of the process
    group (each rank passing its own ``index``).
    """
    import torch

    model.net.eval()
    tot, cnt = 0.0, 0
    with torch.no_grad():
        for b in group_windows(index, np.arange(len(index)), batch_size):
            zx, zy, ch_pos, contacts = data[index[b[0]][0]]
            starts = np.array([index[j][1] for j in b])
            tot += float(step_loss(model, zx, zy, ch_pos, contacts, starts, dev, adapter)) * len(b)
            cnt += len(b)
    model.net.train()
    if reduce:
        tot, cnt = tr.all_reduce([tot, cnt])
    return tot / max(cnt, 1)
