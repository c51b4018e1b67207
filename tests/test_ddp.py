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
PRETRAIN = dict(epochs=2, seed=0, max_windows_per_epoch=16, batch_size=8, lag_prior_minutes=0.0, val_fraction=0.15)


def _cohort() -> list:
    from test_cast import _segment, _sources

    rng = np.random.default_rng(5)
    return [_segment(rng, _sources(rng), int(16 * SFREQ), subject=f"s{i}", n_contacts=6) for i in range(4)]


def _small():
    from test_cast import _small as small

    return small()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _join(rank: int, world: int, port: int) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)


def _rank_main(rank: int, world: int, port: int, out: str) -> None:
    """One process of a torchrun-like group: pretrain, then write this rank's weights and figures."""
    _join(rank, world, port)
    with tr.distributed(None) as (r, w, _):
        assert (r, w) == (rank, world) and tr.dist_context() == (rank, world)
        model = _small()
        info = model.pretrain(_cohort(), **PRETRAIN)
    assert tr.dist_context() == (0, 1)  # the group is gone after the block
    np.savez(Path(out) / f"rank{rank}.npz", **model.state_dict())
    (Path(out) / f"rank{rank}.json").write_text(json.dumps({k: info[k] for k in (
        "train_loss", "val_loss", "n_train_windows", "n_val_windows", "zero_shot_scale", "epochs_run")}))


def _rank_workflow(rank: int, world: int, port: int, out: str, bids: str) -> None:
    """``pretrain_cohort`` as one rank of a torchrun group (what ``torchrun -m ieegrecon.cli pretrain`` runs)."""
    from ieegrecon.workflow.pretrain import pretrain_cohort

    _join(rank, world, port)
    said: list[str] = []
    pretrain_cohort([bids], Path(out) / "model", epochs=1, windows_per_epoch=8, max_minutes=0.25,
                    params={"d_model": 16, "n_heads": 2}, say=said.append)
    (Path(out) / f"said{rank}.json").write_text(json.dumps(said))


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


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("IEEGRECON_DDP_WORKFLOW"),
                    reason="~1 min of CPU on 2 cores: run with IEEGRECON_DDP_WORKFLOW=1")
def test_pretrain_cohort_in_two_processes_rank0_alone_writes(cohort, tmp_path):
    import torch.multiprocessing as mp

    mp.spawn(_rank_workflow, args=(2, _free_port(), str(tmp_path), str(cohort)), nprocs=2, join=True)
    summary = json.loads((tmp_path / "model" / "pretrain.json").read_text())
    assert summary["distributed"] == {"world_size": 2, "backend": "gloo"}
    assert (tmp_path / "model" / "model.safetensors").is_file()
    assert [p.name for p in tmp_path.iterdir() if "model" in p.name] == ["model"]  # no temporary left beside it
    assert any("in 2 processes" in m for m in json.loads((tmp_path / "said0.json").read_text()))
    assert json.loads((tmp_path / "said1.json").read_text()) == []  # only rank 0 speaks


def test_pretrain_nproc_starts_ranks_without_nproc(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from ieegrecon.cli import _launch, app

    seen = {}

    def fake(args, nproc, extra_env=None):
        seen.update(args=args, nproc=nproc, env=extra_env)
        return 4

    monkeypatch.setattr(_launch, "launch_local", fake)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    res = CliRunner().invoke(app, ["pretrain", str(tmp_path), "--out", str(tmp_path / "m"), "--nproc", "2",
                                   "--epochs", "3", "--loso", "--max-minutes", "0.5"])
    assert res.exit_code == 4  # a rank's exit code is the command's
    assert seen["nproc"] == 2 and "--nproc" not in seen["args"]
    assert seen["args"][:2] == ["pretrain", str(tmp_path)] and "--loso" in seen["args"]
    assert seen["args"][seen["args"].index("--epochs") + 1] == "3"
    assert seen["args"][seen["args"].index("--max-minutes") + 1] == "0.5"


def test_launch_local_keeps_a_rank_exit_code(tmp_path, capfd):
    from ieegrecon.cli._launch import launch_local, rank_env

    env = rank_env(1, 2, 29500, base={})
    assert (env["RANK"], env["WORLD_SIZE"], env["MASTER_ADDR"]) == ("1", "2", "127.0.0.1")
    assert launch_local(["info", str(tmp_path / "missing.edf")], 2) == 3  # InputError on every rank
    assert capfd.readouterr().err.count("ieegrecon: error:") == 1  # rank 0's line only
