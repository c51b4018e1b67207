"""The thread policy (ieegrecon._threads): one pool size from the CPUs that are ours, no oversubscription."""

from __future__ import annotations

import subprocess
import sys

from ieegrecon import _threads


def test_available_cpus_env_order(monkeypatch):
    monkeypatch.setattr(_threads, "_set_here", set())  # as set by a user, not by a policy applied earlier
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.delenv("IEEGRECON_THREADS", raising=False)
    assert _threads.available_cpus() == 3
    monkeypatch.setenv("IEEGRECON_THREADS", "1")
    assert _threads.available_cpus() == 1
    monkeypatch.setenv("IEEGRECON_THREADS", "zero")  # unreadable: falls through
    assert _threads.available_cpus() == 3


def test_available_cpus_affinity_and_quota(monkeypatch):
    monkeypatch.setattr(_threads, "_set_here", set())
    monkeypatch.delenv("IEEGRECON_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(_threads.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4, 5}, raising=False)
    monkeypatch.setattr(_threads, "cgroup_cpu_limit", lambda: 1.5)
    assert _threads.available_cpus() == 2  # ceil(1.5) < 6 CPUs of the affinity mask


def test_cgroup_cpu_limit_files(tmp_path):
    assert _threads.cgroup_cpu_limit(tmp_path) is None  # nothing to read
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert _threads.cgroup_cpu_limit(tmp_path) is None
    (tmp_path / "cpu.max").write_text("250000 100000\n")
    assert _threads.cgroup_cpu_limit(tmp_path) == 2.5


def _run(code: str, **env: str) -> None:
    import os

    full = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                             "MKL_NUM_THREADS", "IEEGRECON_THREADS",
                                                             "IEEGRECON_OP_THREADS", "_IEEGRECON_POLICY_SET")}
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120, env={**full, **env})


def test_policy_one_thread_per_operation():
    """Torch and BLAS get one thread per operation whatever the CPUs; the CPU count is kept for splitting."""
    _run("import os, numpy\n"
         "from ieegrecon._threads import apply_thread_policy, available_cpus, thread_policy\n"
         "assert apply_thread_policy() == 3\n"
         "import ieegrecon.models._cast_nn, torch\n"
         "from threadpoolctl import threadpool_info\n"
         "assert all(p['num_threads'] == 1 for p in threadpool_info()), threadpool_info()\n"
         "assert torch.get_num_threads() == 1 and torch.get_num_interop_threads() == 1\n"
         "assert os.environ['OMP_WAIT_POLICY'] == 'PASSIVE' and os.environ['OMP_NUM_THREADS'] == '1'\n"
         "assert thread_policy()['op_threads'] == 1 and thread_policy()['n_threads'] == 3\n",
         IEEGRECON_THREADS="3")


def test_policy_set_omp_is_not_read_back_as_cpus():
    """OMP_NUM_THREADS=1 written by the policy is not the user's: the CPU count stays (here and in children)."""
    _run("import os, subprocess, sys\n"
         "from ieegrecon._threads import apply_thread_policy, available_cpus\n"
         "n = available_cpus()\n"
         "apply_thread_policy()\n"
         "assert os.environ['OMP_NUM_THREADS'] == '1' and available_cpus() == n, (available_cpus(), n)\n"
         "out = subprocess.run([sys.executable, '-c', 'from ieegrecon._threads import available_cpus; "
         "print(available_cpus())'], capture_output=True, text=True, check=True).stdout\n"
         "assert int(out) == n, (out, n)\n")
    _run("from ieegrecon._threads import available_cpus\nassert available_cpus() == 5\n",
         OMP_NUM_THREADS="5")  # the user's own setting is read


def test_op_threads_env_raises_threads_per_operation():
    _run("from ieegrecon._threads import apply_thread_policy\n"
         "apply_thread_policy()\n"
         "import torch\n"
         "from ieegrecon._threads import configure_torch\n"
         "configure_torch()\n"
         "assert torch.get_num_threads() == 2, torch.get_num_threads()\n",
         IEEGRECON_OP_THREADS="2", IEEGRECON_THREADS="1")


def test_ordered_map_order_errors_and_concurrency():
    import threading

    assert list(_threads.ordered_map(lambda v: v * v, range(7), n_workers=2)) == [v * v for v in range(7)]
    assert list(_threads.ordered_map(lambda v: v + 1, iter([]), n_workers=2)) == []
    barrier = threading.Barrier(2, timeout=20)  # breaks (an error) unless two items run at once

    def meet(v):
        barrier.wait()
        return threading.current_thread().name

    names = list(_threads.ordered_map(meet, range(4), n_workers=2))
    assert len(set(names)) == 2 and all(n.startswith("ieegrecon-worker") for n in names)

    def boom(v):
        if v == 3:
            raise ValueError("item 3")
        return v

    got = []
    import pytest

    with pytest.raises(ValueError, match="item 3"):
        for v in _threads.ordered_map(boom, range(6), n_workers=2):
            got.append(v)
    assert got == [0, 1, 2]
    # inside a worker no second pool is started: the inner map runs in that worker's thread
    inner = list(_threads.ordered_map(
        lambda v: {n for n in _threads.ordered_map(lambda _: threading.current_thread().name, range(3), 2)},
        range(2), n_workers=2))
    assert all(len(s) == 1 for s in inner)
    assert list(_threads.ordered_map(lambda v: threading.current_thread().name, range(2), n_workers=1)) == [
        threading.current_thread().name] * 2


def test_lagged_blocks_on_workers_equal_serial(monkeypatch):
    import numpy as np

    from ieegrecon.models.lag_windows import apply_windows

    rng = np.random.default_rng(5)
    x, lags = rng.standard_normal((6, 5000)), np.arange(-20, 21)
    coef = rng.standard_normal((9, 6 * len(lags)))
    serial = apply_windows(coef, x, lags, block=512)
    monkeypatch.setitem(_threads._policy, "n_threads", 2)
    assert np.array_equal(apply_windows(coef, x, lags, block=512), serial)


def test_read_ahead_computes_the_next_item_while_the_caller_holds_this_one(monkeypatch):
    import threading

    import pytest

    started = [threading.Event() for _ in range(4)]
    active, most = [0], [0]
    lock = threading.Lock()

    def fn(v):
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
        started[v].set()
        with lock:
            active[0] -= 1
        return v * 10, threading.current_thread().name

    monkeypatch.setitem(_threads._policy, "n_threads", 2)
    got = []
    for v, name in _threads.read_ahead(fn, range(4)):
        if v < 30:  # item v + 1 is computed while the caller still holds item v (deadlocks without read-ahead)
            assert started[v // 10 + 1].wait(timeout=20)
        got.append((v, name.startswith("ieegrecon-worker")))
    assert got == [(0, True), (10, True), (20, True), (30, True)] and most[0] == 1  # one call at a time

    def boom(v):
        if v == 2:
            raise OSError("chunk 2")
        return v

    with pytest.raises(OSError, match="chunk 2"):
        assert list(_threads.read_ahead(boom, range(5)))
    monkeypatch.setitem(_threads._policy, "n_threads", 1)  # one worker: inline, in the caller's thread
    assert [n for _, n in _threads.read_ahead(fn, range(2))] == [threading.current_thread().name] * 2
