"""Start ``N`` local ranks of an ieegrecon command, as ``torchrun --standalone --nproc_per_node N`` would.

Used by ``ieegrecon pretrain --nproc N``: each rank is ``python -m ieegrecon.cli ARGS`` with the
environment torchrun sets (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``,
``MASTER_PORT``); ``torch.distributed`` then joins them in one process group. Unlike torchrun,
the exit code of a failed rank is kept (exit 3 for an unreadable input...), and only rank 0's
output is shown unless another rank fails alone.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time


def free_port() -> int:
    """A TCP port free on this machine now (for the rendezvous of the ranks)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rank_env(rank: int, nproc: int, port: int, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of one local rank: torchrun's variables, and CPU threads split between the ranks."""
    env = dict(os.environ if base is None else base)
    env.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(nproc), LOCAL_WORLD_SIZE=str(nproc),
               GROUP_RANK="0", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    return env


def launch_local(args: list[str], nproc: int, extra_env: dict[str, str] | None = None) -> int:
    """Run ``python -m ieegrecon.cli ARGS`` as ``nproc`` ranks (``extra_env`` added to their environment).

    When a rank fails the others are terminated (SIGTERM: their atomic
    writers remove their temporary files). The code is rank 0's when it
    failed, else the first failing rank's (its stderr is then shown).
    Ctrl-C or SIGTERM of this process terminates every rank before it is
    re-raised.
    """
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="ieegrecon-ranks-") as logs:
        procs, errs = [], []
        try:
            for rank in range(nproc):
                err = None if rank == 0 else open(os.path.join(logs, f"rank{rank}.err"), "w+b")
                errs.append(err)
                procs.append(subprocess.Popen([sys.executable, "-m", "ieegrecon.cli", *args],
                                              env={**rank_env(rank, nproc, port), **(extra_env or {})},
                                              stdout=None if rank == 0 else subprocess.DEVNULL, stderr=err))
            failed = _wait(procs)
            if failed not in (None, 0):  # the same error usually ends rank 0 too: let it say so itself
                try:
                    procs[0].wait(5.0)
                except subprocess.TimeoutExpired:
                    pass
        finally:
            _terminate(procs)
            for err in errs[1:]:
                err.close()
        if failed is None:
            return 0
        code0 = procs[0].returncode
        if failed == 0 or code0 not in (0, 143, -signal.SIGTERM):  # rank 0 failed by itself and said why
            return code0
        with open(os.path.join(logs, f"rank{failed}.err"), "rb") as f:
            sys.stderr.write(f.read().decode(errors="replace"))
        return procs[failed].returncode


def _wait(procs: list[subprocess.Popen]) -> int | None:
    """Wait until every rank has exited, or one has failed; return the failed rank (None: all succeeded)."""
    while True:
        codes = [p.poll() for p in procs]
        bad = [r for r, c in enumerate(codes) if c not in (None, 0)]
        if bad:
            return bad[0]
        if all(c == 0 for c in codes):
            return None
        time.sleep(0.2)


def _terminate(procs: list[subprocess.Popen], grace_s: float = 30.0) -> None:
    """SIGTERM every rank still running, wait up to ``grace_s``, then kill."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
    deadline = time.monotonic() + grace_s
    for p in procs:
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
