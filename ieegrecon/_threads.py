"""One thread policy for torch and the BLAS/OpenMP pools: one thread per operation, workers over windows.

Torch starts an intra-op pool (OpenMP) *and* an inter-op pool, each sized
from the host's cores, beside OpenBLAS's own pool: on a 2-core machine that
is up to 6 busy threads, and OpenMP threads spin while waiting for each
other. With a second CPU-bound process on the machine a spinning pool waits
for a descheduled partner on every parallel region, so calibration slowed
down 13-21x under load (issue #25). ieegrecon's networks are small (widths
32-48) and its matrix products thin: splitting one operation over threads
made the flow 1.4-1.8x slower even on an idle machine, and it gains little
elsewhere (figures: docs/results.md, "Throughput, session 11";
``python benchmarks/bench_threads.py``). The policy here:

- every operation runs on one thread: torch intra-op and inter-op threads =
  1, BLAS/OpenMP pools limited to 1 (``IEEGRECON_OP_THREADS`` raises it);
- the CPUs are used by :func:`ordered_map` instead: independent pieces of
  work (CAST's batches of windows, the lagged readout's blocks of time) on
  :func:`available_cpus` worker threads (``IEEGRECON_THREADS``, else a
  user's ``OMP_NUM_THREADS``, else the CPUs this process may run on, capped
  by the cgroup CPU quota); torch and BLAS release the GIL, and no worker
  waits for another inside an operation, so a busy neighbour takes its share
  of the CPUs and no more; across recordings and subjects the CPUs are split
  by ``batch --workers`` and ``evaluate --jobs``;
- BLAS/OpenMP pools already loaded are limited with threadpoolctl; pools
  loaded later read the ``*_NUM_THREADS`` variables set here (unless set by
  the user), and OpenMP waits passively (``OMP_WAIT_POLICY=PASSIVE``).

:func:`apply_thread_policy` applies it (the CLI calls it once at start);
modules that import torch call :func:`configure_torch` right after, so torch
gets the policy even when it is imported late (lazily). Without a policy
(ieegrecon used as a library) :func:`ordered_map` computes in the caller's
thread and torch and BLAS keep their own settings.
"""

from __future__ import annotations

import math
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TypeVar

#: Environment variable that sets ieegrecon's thread count (overrides ``OMP_NUM_THREADS``).
THREADS_ENV = "IEEGRECON_THREADS"
#: Environment variable for threads per operation (torch intra-op, BLAS); default 1.
OP_THREADS_ENV = "IEEGRECON_OP_THREADS"
#: Variables read by BLAS/OpenMP libraries when they load; set (if unset) by :func:`apply_thread_policy`.
POOL_ENVS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

_policy: dict[str, object] = {}
#: Pool variables set by the policy, not by the user (child processes read the list from ``_SET_ENV``).
_SET_ENV = "_IEEGRECON_POLICY_SET"
_PREFIX = "ieegrecon-worker"
T = TypeVar("T")
R = TypeVar("R")
_set_here: set[str] = set(filter(None, os.environ.get(_SET_ENV, "").split(",")))


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
        n = None if name in _set_here else _env_int(name)
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
    """Apply the policy once: one thread per operation (``IEEGRECON_OP_THREADS``), ``n_threads`` workers.

    Parameters
    ----------
    n_threads : int | None
        Worker threads of :func:`ordered_map` (default :func:`available_cpus`).

    Returns
    -------
    int
        That number, kept in :func:`thread_policy` as ``n_threads``.
    """
    n = int(n_threads) if n_threads else available_cpus()
    op = _env_int(OP_THREADS_ENV) or 1
    for name in POOL_ENVS:  # for libraries loaded later (torch's libgomp, ...)
        if name not in os.environ:
            os.environ[name] = str(op)
            _set_here.add(name)  # not the user's: available_cpus() does not read it as a worker count
    os.environ[_SET_ENV] = ",".join(sorted(_set_here))  # child processes inherit both
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=op)  # pools loaded now (numpy's OpenBLAS, ...)
    _policy.update(n_threads=n, op_threads=op)
    if "torch" in sys.modules:
        configure_torch()
    return n


def configure_torch() -> None:
    """Give torch the policy's threads per operation (intra-op, inter-op = 1); no-op without a policy."""
    op = _policy.get("op_threads")
    if op is None or _policy.get("torch") == op:
        return
    import torch

    torch.set_num_threads(int(op))  # type: ignore[call-overload]
    if "interop" not in _policy:
        try:
            torch.set_num_interop_threads(1)  # allowed once, before any inter-op work
        except RuntimeError:
            pass
        _policy["interop"] = 1
    _policy["torch"] = op


def workers() -> int:
    """Worker threads of :func:`ordered_map`: the policy's ``n_threads``, 1 when no policy was applied."""
    return int(_policy.get("n_threads", 1))  # type: ignore[call-overload]


def ordered_map(fn: Callable[[T], R], items: Iterable[T], n_workers: int | None = None) -> Iterator[R]:
    """``map(fn, items)`` computed on worker threads, results in order, at most ``n_workers + 1`` pending.

    For pieces of work that release the GIL (torch and BLAS operations):
    each piece runs on one thread, and the pieces run side by side. Items are
    taken from ``items`` in the caller's thread, in order (random draws made
    there keep their sequence). The numbers are those of ``map``: each piece
    is computed alone, whatever ran beside it.

    Parameters
    ----------
    fn : callable
        Applied to each item; its exceptions are raised here, in order.
    items : iterable
    n_workers : int | None
        Default :func:`workers`; 1 computes in the caller's thread.

    Yields
    ------
    object
        ``fn(item)`` for each item, in the order of ``items``. Called from one
        of its own workers it computes in that thread (no nested pools).
    """
    n = workers() if n_workers is None else max(1, int(n_workers))
    if n == 1 or _in_worker():
        yield from map(fn, items)
    else:
        yield from _pooled(fn, items, n)


def read_ahead(fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
    """``map(fn, items)`` with the next result computed on one background thread while the caller uses this one.

    A two-stage pipeline (e.g. read and filter chunk k + 1 while chunk k is
    reconstructed and written): ``fn`` calls run one at a time, in order, so
    ``fn`` may read a file sequentially. At most two results exist at once.
    Runs inline (plain ``map``) when the policy has one worker, when no policy
    was applied, or inside a worker thread.

    Parameters
    ----------
    fn : callable
        Applied to each item; its exceptions are raised here, in order.
    items : iterable
        Taken in the caller's thread.

    Yields
    ------
    object
        ``fn(item)`` for each item, in order.
    """
    if workers() == 1 or _in_worker():
        yield from map(fn, items)
    else:
        yield from _pooled(fn, items, 1)  # one pool thread: item k + 1 is computed while the caller holds k


def _in_worker() -> bool:
    """Whether the calling thread is one of the pools' own (no nested pools)."""
    return threading.current_thread().name.startswith(_PREFIX)


def _pooled(fn: Callable[[T], R], items: Iterable[T], n: int) -> Iterator[R]:
    """``fn(item)`` on a pool of ``n`` threads, in order; ``n + 1`` submitted at most (items taken here, in order)."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(n, thread_name_prefix=_PREFIX) as pool:
        pending: deque = deque()
        try:
            for item in items:
                pending.append(pool.submit(fn, item))
                if len(pending) > n:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for f in pending:
                f.cancel()


def thread_policy() -> dict[str, object]:
    """What was applied: ``n_threads`` (workers), ``op_threads`` and, once torch is configured, ``torch`` (empty before)."""
    return dict(_policy)
