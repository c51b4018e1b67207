"""Simulated scalp and depth EEG against real recordings (Bonn database), issue #16.

Simulates a few subjects on the ds004752 layouts, brings every scalp channel and every
contact to the Bonn database's band and rate (0.53-40 Hz, 173.61 Hz; ``realism_stats.to_bonn``),
cuts them into 23.6-s segments (4097 samples, as Bonn's) and computes per segment the
statistics of ``realism_stats.segment_stats``. Real scalp = Bonn sets Z and O (healthy
volunteers, eyes open and closed), real depth = sets N (hippocampal formation, interictal)
and F (epileptogenic zone, interictal); 50 segments each. For each statistic it prints the
simulated median (over all segments of all channels and subjects) beside the real 5-95 %
range, and whether it lies inside, then ``scalp, mesial, depth: k/n inside`` per world and seed.
The mesial temporal row (contacts labelled hippocampus, amygdala, parahippocampal gyrus) is the
primary depth comparison, because every Bonn N and F segment comes from the hippocampal formation;
the all-contact row is secondary. ``--seeds`` runs several development seeds (pooled tables,
counts per seed).

Development seeds only: ``--seed`` must be below 1000 (the sealed cohort of
docs/evaluation.md uses reserved seeds, never tuned on).

    PYTHONPATH=$PWD .venv/bin/python -W ignore benchmarks/realism.py --world both
    PYTHONPATH=$PWD .venv/bin/python -W ignore benchmarks/realism.py --world v2 --seeds 101,103,105,107
"""

from __future__ import annotations

import inspect
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import realism_stats as rs  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BONN = ROOT.parent / "shared" / "data" / "bonn"
#: Statistics compared, per side (``rms`` is printed for information only: Bonn's unit is uncertain).
SCALP_STATS = ["psd_slope", "rel_delta", "rel_theta", "rel_alpha", "rel_beta", "alpha_peak_hz",
               "kurtosis", "skewness", "line_length", "spikes_per_min"]
DEPTH_STATS = [s for s in SCALP_STATS if s != "alpha_peak_hz"]
REAL_SETS = {"scalp": ("Z", "O"), "depth": ("N", "F")}
#: Simulated sides and the real side each is compared with: every contact ('depth'), and only the
#: contacts the layout labels hippocampus, amygdala or parahippocampal gyrus ('mesial', as Bonn's
#: N and F sets: hippocampal formation and epileptogenic zone of mesial temporal epilepsy).
#: The mesial row is the primary depth comparison: Bonn's N and F segments were all recorded in the
#: hippocampal formation (Andrzejak et al. 2001); 'depth' (every contact, most of them neocortical or
#: in white matter) is printed as a secondary row.
SIM_SIDES = {"scalp": "scalp", "mesial": "depth", "depth": "depth"}
#: Prefixes of the ds004752 ``AnatomicalLocation`` labels (Brainnetome atlas) counted as mesial temporal.
MESIAL_LABELS = ("Hipp", "Amyg", "PhG")


def mesial_rows(anatomical: list[str] | None) -> np.ndarray:
    """Indices of the contacts whose anatomical label is hippocampus, amygdala or parahippocampal gyrus."""
    return np.array([i for i, lab in enumerate(anatomical or []) if str(lab).startswith(MESIAL_LABELS)], int)


def real_stats(side: str, bonn: Path = BONN) -> dict[str, np.ndarray]:
    """Per-segment statistics of the real Bonn sets of one side.

    Parameters
    ----------
    side : {'scalp', 'depth'}
    bonn : Path
        Folder with ``set_<X>.npz`` (``data``: (50, 4097) float32, ``sfreq``).

    Returns
    -------
    dict of str to ndarray, shape (n_segments,)
    """
    data = np.concatenate([np.load(bonn / f"set_{s}.npz")["data"] for s in REAL_SETS[side]])
    return rs.segment_stats(data.astype(float))


def simulate_side_segments(world: str, *, n_subjects: int, minutes: float, seed: int, layout: Path,
                           ieeg_sfreq: float = 500.0) -> tuple[dict[str, np.ndarray], dict]:
    """Simulate subjects and return their scalp and depth channels as Bonn-like segments.

    Parameters
    ----------
    world : {'v1', 'v2'}
        Passed to ``simulate_session`` when it takes a ``world`` parameter; ``'v1'``
        otherwise (the only world then).
    n_subjects : int
        Subject ``i`` uses layout ``i % n_layouts``, session 0.
    minutes : float
        Session length (min).
    seed : int
        Master seed (development: < 1000).
    layout : Path
        BIDS root of layouts.
    ieeg_sfreq : float
        Simulated iEEG rate (Hz): anything above 2 × 40 Hz gives the same segments.

    Returns
    -------
    segs : dict
        ``'scalp'``, ``'depth'`` (every contact), ``'mesial'`` (contacts labelled hippocampus,
        amygdala or parahippocampal gyrus): ndarray (n_segments, 4097), V.
    info : dict
        Channels, contacts and seconds per subject.
    """
    from ieegrecon.simulate import load_layouts, simulate_session

    kw = {"world": world} if "world" in inspect.signature(simulate_session).parameters else {}
    if world != "v1" and not kw:
        raise RuntimeError("this simulate_session has no 'world' parameter: only v1 exists here")
    lays = load_layouts(layout)
    parts: dict[str, list[np.ndarray]] = {"scalp": [], "depth": [], "mesial": []}
    info: dict = {"subjects": []}
    for i in range(n_subjects):
        t0 = time.perf_counter()
        sim = simulate_session(lays[i % len(lays)], minutes=minutes, seed=seed, subject_index=i,
                               ieeg_sfreq=ieeg_sfreq, **kw)
        for side, x, fs in (("scalp", sim.scalp, sim.scalp_sfreq), ("depth", sim.ieeg, sim.ieeg_sfreq)):
            # 2 s dropped at the start: the forward-only band-pass's transient
            parts[side].append(rs.segments(rs.to_bonn(x, fs), skip=int(2 * rs.BONN_SFREQ)))
        mes = mesial_rows(lays[i % len(lays)].anatomical)
        if len(mes):
            parts["mesial"].append(rs.segments(rs.to_bonn(sim.ieeg[mes], sim.ieeg_sfreq), skip=int(2 * rs.BONN_SFREQ)))
        info["subjects"].append({"layout": lays[i % len(lays)].name, "scalp_channels": len(sim.scalp_names),
                                 "contacts": len(sim.contact_names), "mesial_contacts": len(mes),
                                 "seconds": time.perf_counter() - t0})
    return {k: np.concatenate(v) if v else np.empty((0, rs.BONN_N_TIMES)) for k, v in parts.items()}, info


def compare(sim: dict[str, np.ndarray], real: dict[str, np.ndarray], names: list[str]) -> list[dict]:
    """Simulated median against the real 5-95 % range, per statistic.

    Parameters
    ----------
    sim, real : dict of str to ndarray
        Per-segment statistics (:func:`realism_stats.segment_stats`).
    names : list of str
        Statistics to compare.

    Returns
    -------
    list of dict
        ``stat``, ``sim_median``, ``sim_p5``, ``sim_p95``, ``real_p5``, ``real_median``,
        ``real_p95``, ``inside`` (real_p5 ≤ sim_median ≤ real_p95) and, a stricter reading,
        ``inside_iqr`` (inside the real 25-75 % range).
    """
    rows = []
    for n in names:
        s, r = sim[n][np.isfinite(sim[n])], real[n][np.isfinite(real[n])]
        lo, q1, med, q3, hi = np.percentile(r, [5, 25, 50, 75, 95])
        sm = float(np.median(s))
        rows.append({"stat": n, "sim_median": sm, "sim_p5": float(np.percentile(s, 5)),
                     "sim_p95": float(np.percentile(s, 95)), "real_p5": float(lo), "real_median": float(med),
                     "real_p95": float(hi), "inside": bool(lo <= sm <= hi), "inside_iqr": bool(q1 <= sm <= q3)})
    return rows


def markdown(results: dict[str, dict[str, list[dict]]], side: str) -> str:
    """One markdown table for ``side``, a column pair per world."""
    worlds = list(results)
    names = [r["stat"] for r in results[worlds[0]][side]]
    real_side = SIM_SIDES[side]
    real_sets = "+".join(REAL_SETS[real_side])
    what = {"mesial": "simulated mesial temporal contacts, primary depth row",
            "depth": "simulated depth, every contact, secondary"}.get(side, f"simulated {side}")
    head = f"| statistic ({what}) | real {real_side} 5–95 % ({real_sets}) [median] | " + " | ".join(
        f"{w} median [5–95 %] | inside" for w in worlds) + " |"
    lines = [head, "|" + "---|" * (2 + 2 * len(worlds))]
    for i, n in enumerate(names):
        r0 = results[worlds[0]][side][i]
        cells = [n, f"{r0['real_p5']:.3g} – {r0['real_p95']:.3g} [{r0['real_median']:.3g}]"]
        for w in worlds:
            r = results[w][side][i]
            cells += [f"{r['sim_median']:.3g} [{r['sim_p5']:.3g}, {r['sim_p95']:.3g}]", "yes" if r["inside"] else "**no**"]
        lines.append("| " + " | ".join(cells) + " |")
    for w in worlds:
        rows = results[w][side]
        lines.append(f"\n{w}: {side} {sum(r['inside'] for r in rows)}/{len(rows)} inside the real 5–95 % range "
                     f"({sum(r['inside_iqr'] for r in rows)}/{len(rows)} inside its 25–75 % range)")
    return "\n".join(lines)


def parse_seeds(ap, a) -> list[int]:
    """``--seeds 101,103`` (or ``--seed``) as a list of development seeds."""
    seeds = [int(x) for x in a.seeds.split(",")] if a.seeds else [a.seed]
    for sd in seeds:
        rs.check_development_seed(ap, sd)
    return seeds


def run_world(w: str, seeds: list[int], a, real: dict) -> tuple[dict, dict, dict]:
    """Simulate ``seeds`` in world ``w``; pooled comparison, per-seed comparisons and info."""
    t0 = time.perf_counter()
    per_seed, pooled_sims, info = {}, {}, {"per_seed": {}}
    for sd in seeds:
        segs, info["per_seed"][sd] = simulate_side_segments(w, n_subjects=a.subjects, minutes=a.minutes,
                                                            seed=sd, layout=a.layout)
        sims = {side: rs.segment_stats(x) for side, x in segs.items() if len(x)}
        per_seed[sd] = {side: compare(sims[side], real[SIM_SIDES[side]],
                                      SCALP_STATS if side == "scalp" else DEPTH_STATS) for side in sims}
        for side, st in sims.items():
            pooled_sims.setdefault(side, []).append(st)
    sims = {side: {k: np.concatenate([st[k] for st in v]) for k in v[0]} for side, v in pooled_sims.items()}
    pooled = {side: compare(sims[side], real[SIM_SIDES[side]], SCALP_STATS if side == "scalp" else DEPTH_STATS)
              for side in SIM_SIDES if side in sims}
    rms = {side: float(np.median(sims[side]["rms"])) * 1e6 for side in sims}
    info.update({"segments": {k: len(v["rms"]) for k, v in sims.items()}, "rms_median_uv": rms,
                 "seconds": time.perf_counter() - t0})
    print(f"world {w}, seeds {seeds}: {info['segments']} segments, simulated RMS median scalp "
          f"{rms['scalp']:.1f} µV, depth {rms['depth']:.1f} µV, {info['seconds']:.0f} s", flush=True)
    return pooled, per_seed, info


def counts(rows_by_side: dict) -> str:
    """``scalp k/n inside, mesial k/n inside, depth k/n inside``."""
    return ", ".join(f"{side} {sum(r['inside'] for r in rows)}/{len(rows)} inside" for side, rows in rows_by_side.items())


def main(argv: list[str] | None = None) -> int:
    ap = rs.development_parser(__doc__, seed=101, subjects=3, minutes=2.5,
                               subjects_help="simulated subjects (layouts ds004752 sub-01, 02, ...)",
                               minutes_help="minutes per subject (6 segments of 23.6 s)")
    ap.add_argument("--seeds", default=None,
                    help="comma-separated development seeds (e.g. 101,103,105,107): counts per seed, "
                         "tables pooled over seeds; overrides --seed")
    a = ap.parse_args(argv)
    seeds = parse_seeds(ap, a)
    worlds = ["v1", "v2"] if a.world == "both" else [a.world]
    real = {side: real_stats(side) for side in REAL_SETS}
    results, per_seed, infos = {}, {}, {}
    for w in worlds:
        results[w], per_seed[w], infos[w] = run_world(w, seeds, a, real)
    print(f"real RMS median (Bonn units, read as µV): scalp {np.median(real['scalp']['rms']):.1f}, "
          f"depth {np.median(real['depth']['rms']):.1f}\n")
    for side in SIM_SIDES:
        if all(side in results[w] for w in worlds):
            print(markdown(results, side) + "\n")
    for w in worlds:
        for sd in seeds:
            print(f"{w} seed {sd}: {counts(per_seed[w][sd])}")
        if len(seeds) > 1:
            print(f"{w} pooled over seeds {seeds}: {counts(results[w])}")
    if a.json is not None:
        a.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(a).items()}, "results": results,
                                      "per_seed": {w: {str(k): v for k, v in d.items()} for w, d in per_seed.items()},
                                      "info": infos}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
