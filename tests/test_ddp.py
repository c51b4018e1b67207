"""Distributed data-parallel pretraining (torchrun / 2 gloo processes on the CPU): sharding, one synchronized model."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ieegrecon.models import training as tr  # noqa: E402

SFREQ = 200.0
PRETRAIN = dict(epochs=2, seed=0, max_windows_per_epoch=32, batch_size=8, lag_prior_minutes=0.0)


def _cohort() -> list:
    from test_cast import _segment, _sources

    rng = np.random.default_rng(5)
    return [_segment(rng, _sources(rng), int(12 * SFREQ), subject=f"s{i}", n_contacts=6) for i in range(4)]


def _small():
    from test_cast import _small as small

    return small()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(rank: int, world: int, port: int, out: str) -> None:
    """One process of a torchrun-like group: pretrain, then write this rank's weights and figures."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    with tr.distributed(None) as (r, w, _):
        assert (r, w) == (rank, world) and tr.dist_context() == (rank, world)
        model = _small()
        info = model.pretrain(_cohort(), **PRETRAIN)
    assert tr.dist_context() == (0, 1)  # the group is gone after the block
    np.savez(Path(out) / f"rank{rank}.npz", **model.state_dict())
    (Path(out) / f"rank{rank}.json").write_text(json.dumps({k: info[k] for k in (
        "train_loss", "val_loss", "n_train_windows", "n_val_windows", "zero_shot_scale", "epochs_run")}))


def test_shard_groups_balances_and_is_deterministic():
    assert tr.shard_groups([10, 1, 9, 2], 2) == [0, 0, 1, 1]  # loads 11 and 11
    assert tr.shard_groups([5, 5, 5], 2) == [0, 1, 0]
    assert tr.shard_groups([3], 1) == [0]


def test_shard_subjects_keeps_own_windows_and_refuses_empty_ranks():
    subjects = ["a", "a", "b", "c"]
    train = [(0, 0), (0, 10), (1, 0), (2, 0), (3, 0), (3, 10)]
    val = [(1, 50), (2, 50)]
    mine = [tr.shard_subjects(subjects, train, val, r, 2) for r in range(2)]
    assert sorted(mine[0][0] + mine[1][0]) == sorted(train)  # every window on exactly one rank
    assert sorted(mine[0][1] + mine[1][1]) == sorted(val)
    owned = [{subjects[d] for d, _ in tr_r + va_r} for tr_r, va_r in mine]
    assert not owned[0] & owned[1] and all(tr_r for tr_r, _ in mine)  # a subject's windows never split
    with pytest.raises(ValueError, match="3 processes but only 2 subjects"):
        tr.shard_subjects(["a", "b"], [(0, 0), (1, 0)], [], 0, 3)


def test_two_gloo_processes_train_one_synchronized_model(tmp_path):
    import torch.multiprocessing as mp

    mp.spawn(_rank_main, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    w = [np.load(tmp_path / f"rank{r}.npz") for r in range(2)]
    assert all(np.array_equal(w[0][k], w[1][k]) for k in w[0].files)  # DDP kept the ranks in step
    info = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert info[0]["val_loss"] == info[1]["val_loss"] and info[0]["train_loss"] == info[1]["train_loss"]
    assert info[0]["zero_shot_scale"] == info[1]["zero_shot_scale"]  # standardized on the whole cohort
    # subjects sharded: each rank trained on its own half of the 4 subjects' windows
    single = _small()
    ref = single.pretrain(_cohort(), **PRETRAIN)
    assert info[0]["n_train_windows"] + info[1]["n_train_windows"] == ref["n_train_windows"]
    assert 0 < info[0]["n_train_windows"] < ref["n_train_windows"]
    assert info[0]["zero_shot_scale"] == ref["zero_shot_scale"]
    # same samples seen, same schedule: validation loss close to one process's
    assert abs(info[0]["val_loss"][-1] / ref["val_loss"][-1] - 1) < 0.1
    assert not all(np.array_equal(w[0][k], single.state_dict()[k]) for k in w[0].files)
