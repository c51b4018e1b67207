"""The IED detector (ieegrecon.ied, Janča et al. 2015) on the true iEEG of a simulated v2 cohort.

Reads every session of a BIDS root written by ``ieegrecon simulate --world v2`` with a development
seed (< 1000; the sealed seeds of docs/evaluation.md are refused), preprocesses the iEEG exactly as
``ieegrecon evaluate`` does (200 Hz, same filters), runs the detector and matches its detections
against the ground-truth IEDs of ``events.tsv`` with the evaluation's tolerance
(``ieegrecon.evaluation.events``). Prints pooled figures (every contact's events together):

- sensitivity: ground-truth (IED, listed contact) pairs with a detection on that contact;
- precision on listed contacts: detections on contacts an IED lists that match one of its IEDs;
- precision on all contacts: every detection, contacts no IED lists included;
- near any IED: detections within the tolerance of an IED onset on any contact (so the
  rest are false alarms on background, not an IED seen beyond the contacts it lists);
- the lag of matched detections after the onset, and the detector's time;
- sensitivity by visibility: each (IED, contact) pair's peak-to-peak deflection of the true
  (preprocessed) iEEG from 0.1 s before to 0.2 s after the onset, over the contact's SD.

Usage: ``python benchmarks/bench_ied.py ROOT``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def session_counts(session: Path, prep) -> dict[str, float]:
    """Counts of one session (see the module's figures)."""
    from ieegrecon.evaluation.events import EDGE_S, IED_TOL_S, channel_truth, read_truth
    from ieegrecon.ied import detect_ieds, match_events
    from ieegrecon.workflow.inputs import contact_info, load_paired_recordings, make_segment, map_regions

    scalp, intra = load_paired_recordings(session)
    seg = make_segment(scalp, intra, contact_info(intra, map_regions(intra, "desikan_killiany")), prep, "x")
    fs, names = seg.sfreq, seg.contacts.ch_names
    gt = read_truth(session, 0.0, seg.ieeg.shape[1] / fs)
    if gt is None:
        return {}
    truth = channel_truth(gt, names, [(i,) for i in range(len(names))])
    t0 = time.perf_counter()
    ev = detect_ieds(seg.ieeg, fs, line_freq=prep.line_freq, edge_s=EDGE_S)
    c = {"detect_s": time.perf_counter() - t0, "minutes": seg.ieeg.shape[1] / fs / 60, "contacts": len(names),
         "events": len(gt[0]), "pairs": 0, "hits": 0, "det_listed": 0, "correct_listed": 0, "det_all": len(ev),
         "correct_all": 0,
         "near_any": int(match_events(ev.onset, gt[0], IED_TOL_S)[1])}
    lags, vis = [], []
    for j, ref in enumerate(truth):
        det = ev.times_of(j)
        sd = seg.ieeg[j].std()
        for t in ref:
            i = int(round(t * fs))
            w = seg.ieeg[j, max(0, i - int(0.1 * fs)):i + int(0.2 * fs)]
            vis.append((np.ptp(w) / sd, bool(np.any(np.abs(det - t) <= IED_TOL_S))))
        hits, correct = match_events(det, ref, IED_TOL_S)
        c["pairs"] += len(ref)
        c["hits"] += hits
        c["correct_all"] += correct
        if len(ref):
            c["det_listed"] += len(det)
            c["correct_listed"] += correct
            d = det[:, None] - ref[None]
            near = np.abs(d) <= IED_TOL_S
            lags += list(d[near])
    c["lags"], c["vis"] = lags, vis
    return c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("root", type=Path, help="BIDS root of a simulated v2 cohort (development seed)")
    args = ap.parse_args()
    import h5py

    from ieegrecon.evaluation.data import discover_subjects
    from ieegrecon.preprocessing import Preprocessing

    for gt in sorted((args.root / "derivatives").rglob("*_groundtruth.h5")):
        with h5py.File(gt, "r") as f:
            if int(f.attrs["seed"]) >= 1000:
                raise SystemExit(f"{gt}: master seed {int(f.attrs['seed'])} >= 1000 (reserved/sealed); refused")
    prep = Preprocessing()
    tot: dict[str, float] = {}
    lags: list[float] = []
    vis: list[tuple[float, bool]] = []
    for label, sessions in discover_subjects(args.root).items():
        for s in sessions:
            c = session_counts(s, prep)
            if not c:
                continue
            lags += c.pop("lags")
            vis += c.pop("vis")
            print(f"sub-{label} {s.name}: {c['events']} IEDs, {c['pairs']} (IED, contact) pairs, sensitivity "
                  f"{c['hits'] / max(c['pairs'], 1):.3f}, precision on listed contacts "
                  f"{c['correct_listed'] / max(c['det_listed'], 1):.3f}, on all contacts "
                  f"{c['correct_all'] / max(c['det_all'], 1):.3f} ({c['det_all']} detections, "
                  f"{c['contacts']} contacts, {c['minutes']:.1f} min, detector {c['detect_s']:.2f} s)")
            for k, v in c.items():
                tot[k] = tot.get(k, 0) + v
    sens = tot["hits"] / tot["pairs"]
    p_l = tot["correct_listed"] / tot["det_listed"]
    p_a = tot["correct_all"] / tot["det_all"]
    near = tot["near_any"] / tot["det_all"]
    print(f"pooled: sensitivity {sens:.3f}, precision on listed contacts {p_l:.3f} "
          f"(F1 {2 * sens * p_l / (sens + p_l):.3f}), precision on all contacts {p_a:.3f}, "
          f"detections near any IED {near:.3f}; {int(tot['events'])} IEDs, {int(tot['pairs'])} pairs, "
          f"{int(tot['det_all'])} detections; matched lag after onset median {np.median(lags) * 1e3:.0f} ms "
          f"[5-95 %: {np.percentile(lags, 5) * 1e3:.0f}, {np.percentile(lags, 95) * 1e3:.0f}]; detector "
          f"{tot['detect_s']:.1f} s in all ({tot['minutes']:.1f} session-minutes)")
    v = np.array(vis)
    for lo, hi in ((0, 4), (4, 6), (6, 8), (8, 12), (12, np.inf)):
        k = (v[:, 0] >= lo) & (v[:, 0] < hi)
        if k.any():
            print(f"  deflection {lo}-{hi} x SD: {int(k.sum())} pairs, sensitivity {v[k, 1].mean():.3f}")


if __name__ == "__main__":
    main()
