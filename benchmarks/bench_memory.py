"""Peak memory and speed of ``ieegrecon reconstruct`` on a long 19-channel EDF, against MNE eLORETA.

Usage: ``python benchmarks/bench_memory.py [--hours 24] [--workdir DIR] [--methods ridge,source]
[--anchor-minutes 10] [--keep]``

1. Writes (once; reused from ``--workdir`` if present) a ``--hours`` long
   19-channel 200 Hz EDF of 1/f noise: edfio writes the header and the
   first hour, then further 1-s data records are appended in hour-long
   pieces and the header's record count is patched, so the benchmark itself
   never holds more than one hour in memory. edfio has no streamed writer
   (``Edf.write`` needs every sample in memory).
2. Builds patient models (calibrated on 5 min of synthetic paired data; cast
   starting from the shipped ``models/cast-sim9``) for 48 contacts and saves them with
   :func:`ieegrecon.models.save_model`.
3. Runs ``python -m ieegrecon reconstruct EDF --model M --out OUT.edf`` in a
   subprocess per method and reads its peak resident memory from
   :func:`os.wait4` (``ru_maxrss``, the kernel's VmHWM of the child).
4. Anchor, same run, same file: MNE's ``apply_inverse_raw`` (eLORETA) on the
   first ``--anchor-minutes`` of it (``mne.io.read_raw_edf``, lazy), in a
   subprocess. Its source estimate holds n_sources × n_times floats, so it
   cannot process a whole day at once; its peak is printed per processed
   minute and as measured.

Target: peak RSS < 1.5 GiB for 24 h. Prints figures; not a test.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_reconstruct import (
    SFREQ,
    STANDARD_1020_19,
    synthetic_contacts,
    synthetic_ieeg,
    synthetic_scalp,
)

PHYS_UV = 1000.0  # physical range ±1000 µV


def write_long_edf(path: Path, hours: float, names=STANDARD_1020_19, seed: int = 0) -> Path:
    """Write a ``hours`` long EDF (1-s records, int16), one hour in memory at a time."""
    import edfio

    n_hours = int(np.ceil(hours))
    per = int(3600 * SFREQ)
    first = min(hours, 1.0)
    x = synthetic_scalp(first * 60, seed=seed, names=names) * 1e6  # µV
    sigs = [edfio.EdfSignal(x[i], SFREQ, label=f"EEG {n}", physical_dimension="uV",
                            physical_range=(-PHYS_UV, PHYS_UV), digital_range=(-32768, 32767))
            for i, n in enumerate(names)]
    tmp = path.with_name(path.name + ".part")
    edfio.Edf(sigs, data_record_duration=1.0).write(tmp)
    n_records = int(round(first * 3600))
    with open(tmp, "r+b") as f:
        header_bytes = int(f.read(192)[184:192].decode().strip())
        for h in range(1, n_hours):
            n_rec = int(round(min(1.0, hours - h) * 3600))
            x = synthetic_scalp(n_rec / 60, seed=seed + h, names=names) * 1e6
            dig = np.clip(np.round((x + PHYS_UV) / (2 * PHYS_UV) * 65535 - 32768), -32768, 32767).astype("<i2")
            # record r holds 200 samples of channel 0, then of channel 1, ...
            rec = dig.reshape(len(names), n_rec, int(SFREQ)).transpose(1, 0, 2)
            f.seek(0, os.SEEK_END)
            f.write(rec.tobytes())
            n_records += n_rec
            del x, dig, rec
        f.seek(236)
        f.write(f"{n_records:<8d}".encode())
        assert f.seek(0, os.SEEK_END) == header_bytes + n_records * len(names) * int(SFREQ) * 2
    os.replace(tmp, path)
    del per
    return path


def build_models(workdir: Path, methods: list[str], n_contacts: int = 48) -> dict[str, Path]:
    from ieegrecon.models import get_model_class, save_model
    from ieegrecon.workflow.factory import default_model, fit_model
    from ieegrecon.models.base import PairedSegment
    from ieegrecon.preprocessing import Preprocessing

    contacts = synthetic_contacts(n_contacts)
    cal = synthetic_scalp(5.0, seed=10)
    seg = PairedSegment(cal, synthetic_ieeg(cal, n_contacts), SFREQ, list(STANDARD_1020_19), contacts, "bench")
    out = {}
    for m in methods:
        cls = get_model_class(m)
        pre = default_model(m) if cls.supports_pretrain else None  # cast: the shipped models/cast-sim9
        if cls.requires_pretrain and pre is None:
            print(f"{m}: skipped (needs a pretrained model and none is shipped)")
            continue
        model = fit_model(m, pre, seg, False, 0)
        sd = seg.ieeg.std(axis=1)
        extra = {"preprocessing": Preprocessing(sfreq=SFREQ).to_dict(),
                 "physical_range_uv": {c: [-8e6 * s, 8e6 * s] for c, s in zip(contacts.ch_names, sd)}}
        out[m] = save_model(model, workdir / f"model-{m}", extra=extra, overwrite=True)
    return out


#: Runs a command and prints its peak RSS (KiB). Launched as a small intermediate process so
#: that the measured child is forked from a tiny image: Linux's ru_maxrss counts the memory a
#: child inherited at fork, before exec, so forking straight from this (large) benchmark
#: process would report this process's own footprint (about 1.4 GiB here), not the command's.
_MEASURE = ("import os, subprocess, sys; p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL); "
            "_, st, ru = os.wait4(p.pid, 0); print(os.waitstatus_to_exitcode(st), ru.ru_maxrss)")


def run_measured(cmd: list[str]) -> tuple[int, float, float, str]:
    """Run ``cmd``; return (exit code, wall s, peak RSS in MiB, stderr tail)."""
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    code, kib = (int(v) for v in p.stdout.split()[-2:])
    return code, wall, kib / 1024.0, p.stderr[-600:]


ANCHOR = r"""
import sys, mne, numpy as np
from mne.minimum_norm import apply_inverse_raw, make_inverse_operator
from ieegrecon.headmodel import template_forward
edf, minutes = sys.argv[1], float(sys.argv[2])
names = ["Fp1","Fp2","F7","F3","Fz","F4","F8","T7","C3","Cz","C4","T8","P7","P3","Pz","P4","P8","O1","O2"]
with mne.utils.use_log_level("error"):
    raw = mne.io.read_raw_edf(edf, preload=False, verbose=False)
    raw.rename_channels(lambda n: n.replace("EEG ", ""))
    fwd, info = template_forward(names, 10.0)
    raw.set_montage(info.get_montage(), verbose=False)
    raw.set_eeg_reference("average", projection=True, verbose=False)
    cov = mne.make_ad_hoc_cov(raw.info, std=dict(eeg=1e-6), verbose=False)
    inv = make_inverse_operator(raw.info, fwd, cov, loose=1.0, depth=None, verbose=False)
    stc = apply_inverse_raw(raw, inv, 1 / 9.0, method="eLORETA", start=0, stop=int(minutes * 60 * raw.info["sfreq"]),
                            verbose=False, method_params=dict(max_iter=50))
print(stc.data.shape)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--workdir", default=None, help="folder for the EDF and models (default: a temp dir)")
    ap.add_argument("--methods", default="ridge,source")
    ap.add_argument("--anchor-minutes", type=float, default=10.0)
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = ap.parse_args()
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="ieegrecon-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    edf = work / f"scalp_{args.hours:g}h.edf"
    if not edf.exists():
        t0 = time.perf_counter()
        write_long_edf(edf, args.hours)
        print(f"wrote {edf} ({edf.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - t0:.0f} s")
    models = build_models(work, [m.strip() for m in args.methods.split(",") if m.strip()])
    dur_s = args.hours * 3600
    rc, wall, rss, err = run_measured([sys.executable, "-c", ANCHOR, str(edf), str(args.anchor_minutes)])
    anchor_xrt = args.anchor_minutes * 60 / wall if rc == 0 else float("nan")
    print(f"anchor MNE eLORETA apply_inverse_raw on {args.anchor_minutes:g} min: exit {rc}, {wall:.1f} s wall "
          f"(process incl. imports; {anchor_xrt:.0f}x real time), peak RSS {rss:.0f} MiB "
          f"({rss / args.anchor_minutes:.1f} MiB per processed minute)")
    if rc:
        print(err)
    for m, folder in models.items():
        out = work / f"recon-{m}.edf"
        rc, wall, rss_m, err = run_measured([sys.executable, "-m", "ieegrecon", "reconstruct", str(edf), "--model",
                                             str(folder), "--out", str(out), "--overwrite"])
        status = "OK" if rss_m < 1.5 * 1024 else "ABOVE 1.5 GiB TARGET"
        print(f"{m:>8}: reconstruct {args.hours:g} h: exit {rc}, {wall:.0f} s wall ({dur_s / wall:.0f}x real time, "
              f"{(dur_s / wall) / anchor_xrt:.2f}x eLORETA's throughput), peak RSS {rss_m:.0f} MiB "
              f"({rss_m / rss:.2f}x the anchor's peak on {args.anchor_minutes:g} min) [{status}]")
        if rc:
            print(err)
        out.unlink(missing_ok=True)
    if not args.keep and not args.workdir:
        import shutil

        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
