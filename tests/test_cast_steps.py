"""Optimizer steps of cast pretraining: single-segment micro-batches, ``groups_per_step`` gradient accumulation."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ieegrecon.models import _cast_steps as cs  # noqa: E402
from ieegrecon.models import _cast_train as stages  # noqa: E402

SFREQ = 200.0


def test_step_groups_takes_distinct_segments_and_every_batch_once():
    batches = [[0], [1], [2], [3], [4], [5], [6]]
    segments = [0, 0, 1, 0, 2, 2, 0]
    steps = cs.step_groups(batches, segments, 2)
    assert steps == [[[0], [2]], [[1], [4]], [[3], [5]], [[6]]]  # ceil(7 / 2) steps, in order
    assert all(len({segments[b[0]] for b in s}) == len(s) for s in steps)
    three = cs.step_groups(batches, segments, 3)
    assert three[0] == [[0], [2], [4]] and len(three) == 3
    assert sorted(b for s in three for b in s) == batches
    assert cs.step_groups(batches, segments, 1) == [[b] for b in batches]


@pytest.mark.parametrize(("batch", "groups", "world", "per_rank", "size"), [
    (16, 1, 1, 1, 16), (16, 1, 2, 1, 8), (16, 2, 1, 2, 8), (16, 2, 2, 1, 8), (16, 3, 2, 2, 4), (5, 4, 1, 4, 2)])
def test_micro_batches_split_the_batch_over_the_step(batch, groups, world, per_rank, size):
    assert cs.micro_batches_per_rank(groups, world) == per_rank
    assert cs.micro_batch_size(batch, groups, world) == size


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_groups_per_step_must_be_a_positive_integer(bad):
    with pytest.raises(ValueError, match="the 'groups_per_step' parameter"):
        cs.check_groups_per_step(bad)


class _RecordingOptimizer:
    """Keeps each step's gradients and leaves the weights alone (so every step is taken at the same weights)."""

    def __init__(self, params, seen):
        self.params, self.seen, self.steps, self.starts = list(params), seen, [], []

    def zero_grad(self):
        self.starts.append(len(self.seen))  # the micro-batches of a step are those recorded after this
        for p in self.params:
            p.grad = None

    def step(self):
        self.steps.append([p.grad.detach().clone() for p in self.params])


def test_a_step_averages_the_gradients_of_micro_batches_from_distinct_segments(monkeypatch):
    from test_cast import _segment, _sources

    from ieegrecon.models.cast import CastModel

    rng = np.random.default_rng(0)
    segs = [_segment(rng, _sources(rng, 4), int(6 * SFREQ), subject=f"s{i}", n_contacts=3) for i in range(3)]
    model = CastModel(d_model=8, n_heads=2, n_layers=1, dropout=0.0, n_freqs=1)
    data, train_idx, _, _ = stages.pretrain_windows(model, segs, set(), 0.0, 1.0)
    model.net = model._build(0)
    seen: list[list[int]] = []

    def record(model, data, train_idx, batch, *args):
        seen.append(list(batch))
        return cs.micro_batch_loss(model, data, train_idx, batch, *args)

    monkeypatch.setattr(stages, "micro_batch_loss", record)
    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", lambda *a, **k: None)
    opt = _RecordingOptimizer(model.net.parameters(), seen)
    sched = type("Sched", (), {"step": lambda self: None})()
    losses = stages._pretrain_epoch(model, data, train_idx, 10, 3, np.random.default_rng(1), "cpu", opt, sched,
                                    max_contacts=99, channel_dropout=0.0, micro=2)
    assert len(losses) == len(seen) >= 4 and len(opt.steps) == -(-len(seen) // 2)  # 2 micro-batches a step
    assert sum(len(b) for b in seen) == 10  # the epoch's windows, each seen once
    for k, step_grad in enumerate(opt.steps):
        group = seen[opt.starts[k]:(opt.starts + [len(seen)])[k + 1]]
        if k == 0:
            assert len(group) == 2 and len({train_idx[b[0]][0] for b in group}) == 2  # two segments in one step
        grads = []
        for b in group:
            model.net.zero_grad(set_to_none=True)
            cs.micro_batch_loss(model, data, train_idx, b, None, "cpu", 99, 0.0).backward()
            grads.append([p.grad.detach().clone() for p in model.net.parameters()])
        for g, *parts in zip(step_grad, *grads):
            torch.testing.assert_close(g, sum(parts) / len(parts), rtol=1e-4, atol=1e-7)


def _epoch_before_groups_per_step(model, data, train_idx, per_epoch, batch_size, rng, dev, opt, sched,
                                  max_contacts, channel_dropout):
    """``_pretrain_epoch`` as it was before ``groups_per_step`` (one process): the reference of the default."""
    model.net.train()
    order = rng.permutation(len(train_idx))[:per_epoch]
    batches = cs.group_windows(train_idx, order, batch_size)
    batches = [batches[i] for i in rng.permutation(len(batches))]
    losses = []
    for b in batches:
        zx, zy, ch_pos, contacts = data[train_idx[b[0]][0]]
        starts = np.array([train_idx[j][1] for j in b])
        ch = np.arange(zx.shape[0])
        if channel_dropout > 0 and len(ch) > 4 and rng.random() < channel_dropout:
            ch = np.sort(rng.choice(len(ch), int(rng.integers(4, len(ch) + 1)), replace=False))
        ks = np.arange(zy.shape[0])
        if len(ks) > max_contacts:
            ks = np.sort(rng.choice(len(ks), max_contacts, replace=False))
        loss = cs.step_loss(model, zx[ch], zy[ks], ch_pos[ch], contacts.subset(list(ks)), starts, dev)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.net.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
    return losses


def test_default_epoch_is_bit_identical_to_the_one_before_groups_per_step():
    from test_cast import _segment, _sources

    from ieegrecon.models.cast import CastModel

    rng = np.random.default_rng(3)
    segs = [_segment(rng, _sources(rng, 4), int(5 * SFREQ), subject=f"s{i}", n_contacts=3) for i in range(2)]
    model = CastModel(d_model=8, n_heads=2, n_layers=1, n_freqs=1)  # dropout 0.1: torch's generator counts too
    data, train_idx, _, _ = stages.pretrain_windows(model, segs, set(), 0.0, 1.0)
    runs = []
    for epoch in (_epoch_before_groups_per_step, stages._pretrain_epoch):
        model.net = model._build(0)
        torch.manual_seed(7)
        opt = torch.optim.AdamW(model.net.parameters(), lr=3e-3, weight_decay=1e-2)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 1.0 / (k + 1))
        losses = epoch(model, data, train_idx, 6, 2, np.random.default_rng(0), "cpu", opt, sched, 2, 0.5)
        runs.append((losses, {k: v.clone() for k, v in model.net.state_dict().items()}))
    assert runs[0][0] == runs[1][0]
    assert all(torch.equal(runs[0][1][k], runs[1][1][k]) for k in runs[0][1])
