"""The thread policy (ieegrecon._threads): one pool size from the CPUs that are ours, no oversubscription."""

from __future__ import annotations

import subprocess
import sys

from ieegrecon import _threads


def test_available_cpus_env_order(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.delenv("IEEGRECON_THREADS", raising=False)
    assert _threads.available_cpus() == 3
    monkeypatch.setenv("IEEGRECON_THREADS", "1")
    assert _threads.available_cpus() == 1
    monkeypatch.setenv("IEEGRECON_THREADS", "zero")  # unreadable: falls through
    assert _threads.available_cpus() == 3


def test_available_cpus_affinity_and_quota(monkeypatch):
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


def test_policy_sizes_torch_and_blas():
    code = ("import os; os.environ.pop('OMP_NUM_THREADS', None); os.environ['IEEGRECON_THREADS'] = '1'\n"
            "import numpy\n"
            "from ieegrecon._threads import apply_thread_policy\n"
            "assert apply_thread_policy() == 1\n"
            "import ieegrecon.models._cast_nn, torch\n"
            "from threadpoolctl import threadpool_info\n"
            "assert all(p['num_threads'] == 1 for p in threadpool_info()), threadpool_info()\n"
            "assert torch.get_num_threads() == 1 and torch.get_num_interop_threads() == 1\n"
            "assert os.environ['OMP_WAIT_POLICY'] == 'PASSIVE'\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
