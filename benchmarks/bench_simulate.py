"""Wall time to simulate 10 minutes of one subject (ds004752 sub-01 layout) on 2 cores.

Usage::

    .venv/bin/python benchmarks/bench_simulate.py [--minutes 10] [--layout PATH] [--world v2]
    .venv/bin/python benchmarks/bench_simulate.py --physics   # the table in docs/simulation.md
    .venv/bin/python benchmarks/bench_simulate.py --headroom  # ridge vs nonlinear features, v1 and v2
    .venv/bin/python benchmarks/bench_simulate.py --check-fast  # v2's compiled Jansen-Rit loop vs TVB's run

Prints the wall and CPU time of :func:`ieegrecon.simulate.simulate_session` (dynamics,
forward models, noise) and of writing the session (two EDFs, sidecars,
ground-truth HDF5). Target: ≤ 60 s for the simulation.
"""

from __future__ import annotations

import argparse
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "2")

import tempfile
import time
from pathlib import Path


def physics(root: Path) -> None:
    """Amplitudes, alpha peak and scalp->iEEG ridge r by depth quartile on three layouts (1 min each)."""
    import numpy as np
    from scipy import signal

    from ieegrecon.simulate import load_layouts, simulate_session
    from ieegrecon.simulate.checks import half_split_ridge_r

    lays = load_layouts(root.parent / "shared" / "data" / "ds004752")
    for i in (0, 1, 3):
        s = simulate_session(lays[i], minutes=1.0, seed=0, subject_index=i)
        y = signal.resample_poly(s.ieeg, 1, int(round(s.ieeg_sfreq / 200)), axis=1)[:, : s.scalp.shape[1]]
        r = half_split_ridge_r(s.scalp, y)
        q1, q3 = np.quantile(s.contact_depth, [0.25, 0.75])
        f, p = signal.welch(s.scalp - s.scalp_artifacts, fs=s.scalp_sfreq, nperseg=800)
        pm = p.mean(0)
        b = (f >= 6) & (f <= 14)
        print(f"{lays[i].name}: {len(s.scalp_names)} scalp ch, {len(s.contact_names)} contacts; "
              f"scalp RMS median {np.median(s.scalp.std(1)) * 1e6:.0f} uV; iEEG RMS median "
              f"{np.median(s.ieeg.std(1)) * 1e6:.0f} max {s.ieeg.std(1).max() * 1e6:.0f} uV; alpha target "
              f"{s.params['alpha_hz']:.1f} Hz, scalp peak {f[b][np.argmax(pm[b])]:.2f} Hz; ridge r shallow "
              f"quartile {r[s.contact_depth <= q1].mean():.2f}, deep quartile {r[s.contact_depth >= q3].mean():.2f}")


def headroom(root: Path, seeds: tuple[int, ...] = (0, 1, 2)) -> None:
    """Lagged ridge vs the nonlinear feature regression (checks.headroom_r), v1 and v2, 1 min per seed."""
    import numpy as np
    from scipy import signal

    from ieegrecon.simulate import load_layouts, simulate_session
    from ieegrecon.simulate.checks import headroom_r

    lays = load_layouts(root.parent / "shared" / "data" / "ds004752")
    for world in ("v1", "v2"):
        for seed in seeds:
            i = seed % 3
            s = simulate_session(lays[(0, 1, 3)[i]], minutes=1.0, seed=seed, subject_index=i, world=world)
            y = signal.resample_poly(s.ieeg, 1, int(round(s.ieeg_sfreq / 200)), axis=1)[:, : s.scalp.shape[1]]
            r_lin, r_nl = headroom_r(s.scalp, y, alpha_hz=s.params["alpha_hz"])
            d = r_nl - r_lin
            print(f"{world} seed {seed} {lays[(0, 1, 3)[i]].name}: ridge r {r_lin.mean():.3f}, nonlinear r "
                  f"{r_nl.mean():.3f}, gain {d.mean():+.3f} (contacts with a gain {np.mean(d > 0):.0%})")


def check_fast(seconds: float = 120.0, seed: int = 0) -> None:
    """World v2's compiled Jansen-Rit loop against TVB's ``Simulator.run()``: regional spectra.

    One v2 subject's dynamics parameters (development seed, subject 0), integrated by both;
    prints the largest relative difference of the time series, and per region of the Welch
    PSD (1-40 Hz, 4-s windows) the median |log10 ratio|, the peak-frequency difference and the
    relative band powers' largest difference.
    """
    import numpy as np
    from scipy import signal

    from ieegrecon.simulate.core import subject_parameters
    from ieegrecon.simulate.dynamics import load_connectivity, simulate_regions
    from ieegrecon.simulate.variation import subject_draws
    from ieegrecon.simulate.world import V2

    conn = load_connectivity()
    p = subject_parameters(seed, 0)
    p2 = subject_draws(seed, 0, len(conn.region_labels), conn.weights, V2.ied_rate_per_min, True)
    lo, hi = V2.mesial_rhythm_hz
    kw = dict(alpha_hz=p["alpha_hz"], theta_hz=lo + p2["u_mesial"] * (hi - lo), coupling_gain=p["coupling_gain"],
              noise_sigma=p["noise_sigma"], spike_rate_hz=0.0, weights=p2["weights"],
              scale_jitter=p2["scale_jitter"], mu=p2["mu"])
    out = {}
    for fast in (False, True):
        t0 = time.perf_counter()
        r = simulate_regions(seconds, np.random.default_rng(seed), fast=fast, **kw)
        out[fast] = (r.data, time.perf_counter() - t0, r.sfreq)
    a, b, fs = out[False][0], out[True][0], out[True][2]
    f, pa = signal.welch(a, fs=fs, nperseg=int(4 * fs))
    _, pb = signal.welch(b, fs=fs, nperseg=int(4 * fs))
    sel = (f >= 1) & (f <= 40)
    lr = np.median(np.abs(np.log10(pb[:, sel] / pa[:, sel])), axis=1)
    pk = np.abs(f[sel][np.argmax(pa[:, sel], 1)] - f[sel][np.argmax(pb[:, sel], 1)])
    bands = [(1, 4), (4, 8), (8, 13), (13, 30)]
    rel = [np.stack([q[:, (f >= u) & (f < v)].sum(1) for u, v in bands], 1) / q[:, sel].sum(1, keepdims=True)
           for q in (pa, pb)]
    print(f"{seconds:g} s, 76 regions, seed {seed}: TVB run {out[False][1]:.1f} s, compiled {out[True][1]:.1f} s")
    for q in (1, 2, 4):  # how far apart the two runs are after the first 1/q of the run
        n = a.shape[1] // q
        print(f"  max |difference| / max |TVB| over the first {seconds / q:g} s: "
              f"{np.abs(a[:, :n] - b[:, :n]).max() / np.abs(a).max():.2g}")
    print(f"  Welch PSD 1-40 Hz, median |log10 ratio| per region: median {np.median(lr):.3g}, max {lr.max():.3g}")
    print(f"  peak frequency difference per region: max {pk.max():.2f} Hz; relative band power "
          f"(1-4, 4-8, 8-13, 13-30 Hz) largest difference {np.abs(rel[0] - rel[1]).max():.3g}")


def main() -> None:
    root = Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--layout", default=str(root.parent / "shared" / "data" / "ds004752" / "sub-01" / "ses-01"))
    ap.add_argument("--physics", action="store_true", help="print the physics table instead")
    ap.add_argument("--headroom", action="store_true", help="print the headroom table instead")
    ap.add_argument("--check-fast", action="store_true", help="compare v2's compiled Jansen-Rit loop with TVB")
    ap.add_argument("--world", default="v2", choices=("v1", "v2"))
    args = ap.parse_args()
    if args.check_fast:
        check_fast()
        return
    if args.physics:
        physics(root)
        return
    if args.headroom:
        headroom(root)
        return

    load0 = os.getloadavg()[0]
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
    sim = simulate_session(lay, minutes=args.minutes, seed=0, world=args.world)
    t_sim, c_sim, k_sim = time.perf_counter() - t1, time.process_time() - c1, cpu_children() - k1
    with tempfile.TemporaryDirectory() as tmp:
        t2 = time.perf_counter()
        write_session(Path(tmp), sim, "01", "01")
        t_write = time.perf_counter() - t2
        size = sum(f.stat().st_size for f in Path(tmp).rglob("*") if f.is_file())
    print(f"layout {lay.name}: {len(sim.scalp_names)} scalp channels @ {sim.scalp_sfreq:g} Hz, "
          f"{len(sim.contact_names)} contacts @ {sim.ieeg_sfreq:g} Hz, {args.minutes:g} min, world {args.world}, "
          f"cpu_count={os.cpu_count()}")
    print(f"imports + connectome + layout: {t_import:.1f} s (load average at start {load0:.1f})")
    print(f"simulate_session: {t_sim:.1f} s wall, CPU {c_sim:.1f} s here + {k_sim:.1f} s in the TVB "
          f"worker process (load average now "
          f"{os.getloadavg()[0]:.1f}: on a busy machine wall time exceeds CPU time)")
    print(f"write_session (EDF + sidecars + ground truth): {t_write:.1f} s, {size / 1e6:.0f} MB")
    print(f"total: {t_import + t_sim + t_write:.1f} s")


if __name__ == "__main__":
    main()
