"""Wall time to simulate 10 minutes of one subject (ds004752 sub-01 layout) on 2 cores.

Usage::

    .venv/bin/python benchmarks/bench_simulate.py [--minutes 10] [--layout PATH]

Prints the wall and CPU time of :func:`ieegrecon.simulate.simulate_session` (dynamics,
forward models, noise) and of writing the session (two EDFs, sidecars,
ground-truth HDF5). Target: ≤ 60 s for the simulation.
"""

from __future__ import annotations

import argparse
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "2")

import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402


def main() -> None:
    root = Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--layout", default=str(root.parent / "shared" / "data" / "ds004752" / "sub-01" / "ses-01"))
    args = ap.parse_args()

    t0 = time.perf_counter()
    from ieegrecon.simulate import load_layouts, simulate_session
    from ieegrecon.simulate.bids import write_session
    from ieegrecon.simulate.dynamics import load_connectivity

    load_connectivity()
    lay = load_layouts(args.layout)[0]
    t_import = time.perf_counter() - t0
    import resource

    def cpu_children() -> float:
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        return ru.ru_utime + ru.ru_stime

    t1, c1, k1 = time.perf_counter(), time.process_time(), cpu_children()
    sim = simulate_session(lay, minutes=args.minutes, seed=0)
    t_sim, c_sim, k_sim = time.perf_counter() - t1, time.process_time() - c1, cpu_children() - k1
    with tempfile.TemporaryDirectory() as tmp:
        t2 = time.perf_counter()
        write_session(Path(tmp), sim, "01", "01")
        t_write = time.perf_counter() - t2
        size = sum(f.stat().st_size for f in Path(tmp).rglob("*") if f.is_file())
    print(f"layout {lay.name}: {len(sim.scalp_names)} scalp channels @ {sim.scalp_sfreq:g} Hz, "
          f"{len(sim.contact_names)} contacts @ {sim.ieeg_sfreq:g} Hz, {args.minutes:g} min, "
          f"cpu_count={os.cpu_count()}")
    print(f"imports + connectome + layout: {t_import:.1f} s")
    print(f"simulate_session: {t_sim:.1f} s wall, CPU {c_sim:.1f} s here + {k_sim:.1f} s in the TVB "
          f"worker process (load average now "
          f"{os.getloadavg()[0]:.1f}: on a busy machine wall time exceeds CPU time)")
    print(f"write_session (EDF + sidecars + ground truth): {t_write:.1f} s, {size / 1e6:.0f} MB")
    print(f"total: {t_import + t_sim + t_write:.1f} s")


if __name__ == "__main__":
    main()
