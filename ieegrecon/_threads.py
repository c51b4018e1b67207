"""One thread policy for torch and the BLAS/OpenMP pools: as many threads as CPUs are ours, never more.

Torch starts an intra-op pool (OpenMP) *and* an inter-op pool, each sized
from the host's cores, beside OpenBLAS's own pool: on a 2-core machine that
is up to 6 busy threads, and OpenMP threads spin while waiting for each
other. With a second CPU-bound process on the machine a spinning pool waits
for a descheduled partner on every parallel region, so calibration slowed
down 13-21x under load (issue #25). The policy here:

- threads = :func:`available_cpus`: ``IEEGRECON_THREADS``, else
  ``OMP_NUM_THREADS``, else the CPUs this process may run on
  (``os.sched_getaffinity``) capped by the cgroup CPU quota (containers);
- torch intra-op threads = that number, inter-op threads = 1 (ieegrecon runs
  no concurrent torch graphs, so a second pool only competes);
- BLAS/OpenMP pools already loaded are limited with threadpoolctl; pools
  loaded later read the ``*_NUM_THREADS`` variables set here (unless set by
  the user), and OpenMP waits passively (``OMP_WAIT_POLICY=PASSIVE``) instead
  of spinning.

:func:`apply_thread_policy` applies it (the CLI calls it once at start);
modules that import torch call :func:`configure_torch` right after, so torch
gets the policy even when it is imported late (lazily).
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

#: Environment variable that sets ieegrecon's thread count (overrides ``OMP_NUM_THREADS``).
THREADS_ENV = "IEEGRECON_THREADS"
#: Variables read by BLAS/OpenMP libraries when they load; set (if unset) by :func:`apply_thread_policy`.
POOL_ENVS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

_policy: dict[str, object] = {}


def cgroup_cpu_limit(root: str | Path = "/sys/fs/cgroup") -> float | None:
    """CPUs allowed by the cgroup CPU quota (v2 ``cpu.max`` or v1 ``cfs_quota_us``), or None when unlimited."""
    root = Path(root)
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        if quota != "max":
            return float(quota) / float(period)
        return None
    except (OSError, ValueError):
        pass
    try:
        quota = float((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = float((root / "cpu" / "cpu.cfs_period_us").read_text())
        return quota / period if quota > 0 and period > 0 else None
    except (OSError, ValueError):
        return None


def _env_int(name: str) -> int | None:
    value = os.environ.get(name, "").strip()
    try:
        n = int(value)
    except ValueError:
        return None
    return n if n >= 1 else None


def available_cpus() -> int:
    """Threads ieegrecon uses: ``IEEGRECON_THREADS``, ``OMP_NUM_THREADS``, else the CPUs that are ours (≥ 1).

    The CPUs that are ours: ``os.sched_getaffinity`` (``os.cpu_count`` where
    unavailable), capped by the cgroup CPU quota rounded up.
    """
    for name in (THREADS_ENV, "OMP_NUM_THREADS"):
        n = _env_int(name)
        if n is not None:
            return n
    try:
        n_cpu = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n_cpu = os.cpu_count() or 1
    quota = cgroup_cpu_limit()
    if quota is not None:
        n_cpu = min(n_cpu, max(1, math.ceil(quota)))
    return max(1, n_cpu)


def apply_thread_policy(n_threads: int | None = None) -> int:
    """Size every thread pool to ``n_threads`` (default :func:`available_cpus`) once; return the number used.

    Parameters
    ----------
    n_threads : int | None
        Threads for torch's intra-op pool and for BLAS/OpenMP.

    Returns
    -------
    int
        The thread count applied.
    """
    n = int(n_threads) if n_threads else available_cpus()
    for name in POOL_ENVS:  # for libraries loaded later (torch's libgomp, ...)
        os.environ.setdefault(name, str(n))
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=n)  # pools loaded now (numpy's OpenBLAS, ...)
    _policy["n_threads"] = n
    if "torch" in sys.modules:
        configure_torch()
    return n


def configure_torch() -> None:
    """Give torch the policy's threads (intra-op = n, inter-op = 1); no-op when no policy was applied."""
    n = _policy.get("n_threads")
    if n is None or _policy.get("torch") == n:
        return
    import torch

    torch.set_num_threads(int(n))  # type: ignore[call-overload]
    if "interop" not in _policy:
        try:
            torch.set_num_interop_threads(1)  # allowed once, before any inter-op work
        except RuntimeError:
            pass
        _policy["interop"] = 1
    _policy["torch"] = n


def thread_policy() -> dict[str, object]:
    """What was applied: ``n_threads`` and, once torch is configured, ``torch`` (empty before)."""
    return dict(_policy)
