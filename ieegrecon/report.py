"""Per-recording surrogate reports a clinician can read.

Writes ``report.json`` (machine-readable), ``regions.tsv`` (one row per
region) and a self-contained ``report.html`` (plain HTML, matplotlib figures
inlined as base64 PNG, no network). The report opens with the recording it
describes (file, start, duration, scalp channels used, quirks, gaps,
clipping), says in a banner that every trace is a SURROGATE and what data the
model was trained and calibrated on, gives the per-region confidence measured
at calibration on held-out data, shows a stretch of surrogate traces per
region beside the scalp channels that drive them, and states how far the
surrogate's power above 30 Hz falls below the true iEEG on held-out data.
No absolute path is written into either file.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .anonymize import strip_paths
from .errors import ModelInputMismatch
from .pipeline import HOLDOUT_NAME, ReconstructionResult, match_scalp_channels, model_id
from .io.atomic import write_json_atomic, write_text_atomic
from .preprocessing import Preprocessing, apply_preprocessing
from .recording import Recording
from .workflow.confidence import RELIABILITY_CLASSES, format_r, reliability_class

#: Seconds of surrogate traces shown per region.
TRACE_S = 10.0
#: Frequency (Hz) above which the held-out power ratio is reported.
HIGH_FREQ_HZ = 30.0
#: Colours of the reliability classes in tables and figure titles.
CLASS_COLORS = {"high": "#1a7f37", "moderate": "#9a6700", "low": "#bc4c00", "unreliable": "#cf222e",
                "not measured": "#57606a"}

def region_table(config: dict[str, Any], model) -> list[dict[str, Any]]:
    """One row per atlas region: contacts, held-out r, reliability class, distance to scalp.

    Parameters
    ----------
    config : dict
        Model config (``extra.heldout_r``; ``folder`` for ``regions.tsv``).
    model : ReconModel
        The model (for its contacts).

    Returns
    -------
    list of dict
        Sorted by decreasing mean r (regions without r last).
    """
    import pandas as pd

    contacts = model.contacts
    r_map = config.get("extra", {}).get("heldout_r", {}) or {}
    cov_map = config.get("extra", {}).get("heldout_coverage90") or {}
    folder = config.get("folder")
    dist = {}
    names = {}
    if folder and (Path(folder) / "regions.tsv").is_file():
        df = pd.read_csv(Path(folder) / "regions.tsv", sep="\t", keep_default_na=False)
        for _, row in df.iterrows():
            d = pd.to_numeric(row.get("distance_to_scalp_mm"), errors="coerce")
            dist[row["name"]] = float(d) if np.isfinite(d) else None
            side = {"L": " (left)", "R": " (right)"}.get(str(row.get("hemisphere", "")), "")
            names[row["region_key"]] = f"{row.get('region', row['region_key'])}{side}"
    rows: dict[str, dict[str, Any]] = {}
    for i, c in enumerate(contacts.ch_names):
        key = contacts.regions[i]
        row = rows.setdefault(key, {"region_key": key, "region": names.get(key, key), "contacts": [],
                                    "r": [], "distance_to_scalp_mm": [], "depth_class": set(), "cov": []})
        row["contacts"].append(c)
        r = r_map.get(c)
        if r is not None:
            row["r"].append(float(r))
        if dist.get(c) is not None:
            row["distance_to_scalp_mm"].append(dist[c])
        if cov_map.get(c) is not None:
            row["cov"].append(cov_map[c])
        row["depth_class"].add(contacts.depth_class[i])
    out = []
    for row in rows.values():
        r = np.array(row["r"], float)
        mean_r = float(np.mean(r)) if r.size else None
        d = row["distance_to_scalp_mm"]
        out.append({
            "region_key": row["region_key"],
            "region": row["region"],
            "n_contacts": len(row["contacts"]),
            "contacts": " ".join(row["contacts"]),
            "mean_r": mean_r,
            "min_r": float(r.min()) if r.size else None,
            "max_r": float(r.max()) if r.size else None,
            "reliability": reliability_class(mean_r),
            "mean_distance_to_scalp_mm": float(np.mean(d)) if d else None,
            "depth_class": "/".join(sorted(row["depth_class"])),
            "coverage90": float(np.mean(row["cov"])) if row["cov"] else None,
        })
    out.sort(key=lambda x: -np.inf if x["mean_r"] is None else -x["mean_r"])
    return out


#: What a zero-shot model's report says of its accuracy (measured: README, docs/results.md §2).
ZERO_SHOT_NOTE = ("the model was not calibrated on this patient's intracranial recording, so no contact's "
                  "accuracy is known. Measured leave-one-subject-out on 9 simulated subjects, zero-shot cast "
                  "reaches a mean Pearson r of 0.16 (15 s of calibration: 0.37): do not read waveforms from it.")


def provenance_lines(config: dict[str, Any], *, anonymize: bool = False) -> list[str]:
    """Plain sentences on the data the model saw; never hides simulated data.

    With ``anonymize`` the patient's calibration file names are left out.
    """
    t = config.get("trained_on", {}) or {}
    cal = t.get("calibration") or {}
    pre = t.get("pretrain")
    lines = []
    if pre:
        kind = "SIMULATED" if pre.get("simulated") else "real"
        lines.append(f"Pretrained across subjects on {kind} data: {pre.get('description', pre)}.")
    files = "" if anonymize else ", ".join(Path(f).name for f in cal.get("files", []))
    if cal and cal.get("intracranial_recording") is False:
        where = "" if anonymize else f" in {Path(str(cal.get('electrodes'))).name}"
        lines.append(f"No intracranial recording of this patient: contacts placed from their positions{where} "
                     f"and decoded zero-shot{' from ' + files if files else ''}; nothing was measured on this "
                     "patient.")
    elif cal:
        kind = "SIMULATED (ieegrecon digital twin)" if cal.get("simulated") else "real"
        lines.append(f"Calibrated on {cal.get('minutes')} min of {kind} paired scalp/iEEG"
                     + (f" from {files}." if files else "."))
    if config.get("extra", {}).get("zero_shot"):
        lines.append("Zero-shot: no calibration on this patient's intracranial data was used to fit the model.")
    if not lines:
        lines.append("No record of the training data was found in the model.")
    return lines




# --------------------------------------------------------------------------- facts
def recording_id(input_rec: Recording, name: str) -> str:
    """An anonymous identifier of the input: the first 12 hex digits of its SHA-256 (of its name if unhashed)."""
    digest = input_rec.source_sha256 or hashlib.sha256(name.encode()).hexdigest()
    return f"sha256:{digest[:12]}"


def recording_facts(input_rec: Recording, model, result: ReconstructionResult, *,
                    anonymize: bool = False) -> dict[str, Any]:
    """What the report says about the recording it describes.

    Parameters
    ----------
    input_rec : Recording
        The scalp input as read (all channels; ``quirks``, ``bads`` and,
        where the reader provides them, ``gaps`` as (onset s, duration s)).
    model : ReconModel
        For the scalp channels it uses (``scalp_names``).
    result : ReconstructionResult
        For clipping (``n_clipped``) and notes.
    anonymize : bool
        Name the recording by a SHA-256 prefix and leave out its start
        date/time and every occurrence of its file name.

    Returns
    -------
    dict
        JSON-serializable: ``file``, ``id``, ``start``, ``duration_s``,
        ``sfreq``, ``scalp_channels_used``, ``scalp_channels_not_used``,
        ``bad_channels``, ``quirks``, ``gaps``, ``clipping``, ``notes``,
        ``output_file``.
    """
    name = Path(str(input_rec.source_path or result.input)).name
    scalp = input_rec.pick_types(("eeg",))
    try:
        used = match_scalp_channels(scalp, list(model.scalp_names))
    except ModelInputMismatch:  # the reconstruction already checked; a report must not fail on it
        used = [n for n in scalp.ch_names if n in set(model.scalp_names)]
    # wall-clock onsets, as the surrogate's GAP annotations (the reader's input_rec.gaps are on the sample time base)
    gaps = [{"onset_s": float(on), "duration_s": float(dur)} for on, dur in result.gaps]
    clipped = {c: int(n) for c, n in result.n_clipped.items() if n}
    facts = {
        "file": None if anonymize else name,
        "id": recording_id(input_rec, name),
        "anonymized": anonymize,
        "start": None if anonymize or input_rec.meas_date is None else input_rec.meas_date.isoformat(),
        "duration_s": float(input_rec.duration),
        "sfreq": float(input_rec.sfreq),
        "n_channels": len(input_rec.ch_names),
        "scalp_channels_used": used,
        "scalp_channels_not_used": [n for n in scalp.ch_names if n not in used],
        "bad_channels": dict(input_rec.bads),
        "quirks": list(input_rec.quirks),
        "gaps": gaps,
        "clipping": {"total_samples": int(sum(clipped.values())), "n_channels": len(clipped),
                     "fraction": float(sum(clipped.values()) / max(1, result.n_times * len(result.ch_names))),
                     "channels": clipped},
        "notes": list(result.notes),
        "output_file": None if anonymize else Path(result.output).name,
    }
    facts = strip_paths(facts)
    if anonymize:  # a quirk or note may name the file (or, in a batch, the output named after it)
        facts = _scrub(facts, tuple(w for w in (name, Path(name).stem) if len(w) >= 4), facts["id"])
    return facts


def _scrub(obj: Any, words: tuple[str, ...], repl: str) -> Any:
    if isinstance(obj, str):
        for w in words:
            if w:
                obj = obj.replace(w, repl)
        return obj
    if isinstance(obj, dict):
        return {k: _scrub(v, words, repl) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_scrub(v, words, repl) for v in obj]
    return obj


def spectral_check(holdout: str | Path, fmin: float = HIGH_FREQ_HZ) -> dict[str, Any] | None:
    """Reconstructed vs true power above ``fmin`` on the held-out calibration data.

    Parameters
    ----------
    holdout : path-like
        ``holdout.h5`` of a patient model (datasets ``true`` and ``pred``,
        shape (n_contacts, n_times), volts; attribute ``sfreq``).
    fmin : float
        Lower edge (Hz) of the band checked; the band ends at Nyquist.

    Returns
    -------
    dict | None
        ``decades_above``: median over contacts of log10(reconstructed /
        true power above ``fmin``) (negative: the surrogate has less power);
        ``decades_above_range`` (min, max over contacts); ``decades_below``:
        the same for 1 Hz to ``fmin`` for comparison; ``n_contacts``;
        ``sentence``. None when the file is absent or too short.
    """
    import h5py

    holdout = Path(holdout)
    if not holdout.is_file():
        return None
    with h5py.File(holdout, "r") as f:
        true, pred, fs = f["true"][()].astype(float), f["pred"][()].astype(float), float(f.attrs["sfreq"])
    if true.shape[1] < int(2 * fs) or fs / 2 <= fmin:
        return None
    p_true, freqs = _psd(true, fs)
    p_pred, _ = _psd(pred, fs)
    hi = freqs > fmin
    lo = (freqs >= 1.0) & (freqs <= fmin)
    tiny = np.finfo(float).tiny
    r_hi = np.log10((p_pred[:, hi].sum(1) + tiny) / (p_true[:, hi].sum(1) + tiny))
    r_lo = np.log10((p_pred[:, lo].sum(1) + tiny) / (p_true[:, lo].sum(1) + tiny))
    top = freqs >= fmin + 0.6 * (fs / 2 - fmin)
    r_top = np.log10((p_pred[:, top].sum(1) + tiny) / (p_true[:, top].sum(1) + tiny))
    med = float(np.median(r_hi))
    out = {"band_hz": [fmin, fs / 2], "decades_above": round(med, 2),
           "top_band_hz": [round(float(freqs[top][0]), 1), fs / 2],
           "decades_top_band": round(float(np.median(r_top)), 2),
           "decades_above_range": [round(float(r_hi.min()), 2), round(float(r_hi.max()), 2)],
           "decades_below": round(float(np.median(r_lo)), 2), "n_contacts": int(true.shape[0]),
           "heldout_seconds": round(true.shape[1] / fs, 1)}
    out["sentence"] = _spectral_sentence(out)
    return out


def _spectral_sentence(s: dict[str, Any]) -> str:
    d = s["decades_above"]
    where = "below" if d < 0 else "above"
    top = s["decades_top_band"]
    text = (f"Above {s['band_hz'][0]:g} Hz the surrogate's power is {abs(d):.1f} decades {where} the true iEEG "
            f"on held-out data (a factor of {10 ** abs(d):.0f}; median over {s['n_contacts']} contacts, "
            f"{s['heldout_seconds']:g} s held out at calibration); at {s['top_band_hz'][0]:.0f}-"
            f"{s['top_band_hz'][1]:g} Hz it is {abs(top):.1f} decades {'below' if top < 0 else 'above'}, "
            f"at 1-{s['band_hz'][0]:g} Hz {abs(s['decades_below']):.1f} decades "
            f"{'below' if s['decades_below'] < 0 else 'above'}.")
    if d <= -0.3:
        text += (f" Fast activity above {s['band_hz'][0]:g} Hz (gamma, HFOs) is largely missing from these "
                 "traces; do not read it from them.")
    return text


def public_trained_on(config: dict[str, Any]) -> dict[str, Any] | None:
    """``config['trained_on']`` without folders: sessions as ``sub-XX/ses-YY``, files by name."""
    t = config.get("trained_on")
    if not t:
        return t
    t = {k: (dict(v) if isinstance(v, dict) else v) for k, v in t.items()}
    pre = t.get("pretrain")
    if isinstance(pre, dict) and pre.get("sessions"):
        pre["sessions"] = ["/".join(Path(str(s)).parts[-2:]) for s in pre["sessions"]]
    cal = t.get("calibration")
    if isinstance(cal, dict) and cal.get("files"):
        cal["files"] = [Path(str(f)).name for f in cal["files"]]
    return strip_paths(t)


# --------------------------------------------------------------------------- writing
def write_report(report_dir: str | Path, *, config: dict[str, Any], model, result: ReconstructionResult,
                 input_rec: Recording, recon: np.ndarray | None, overwrite: bool = False,
                 anonymize: bool = False) -> Path:
    """Write ``report.json``, ``regions.tsv`` and ``report.html`` into ``report_dir``.

    Parameters
    ----------
    report_dir : path-like
        Folder (created if needed).
    config : dict
        Model config (with ``folder`` and ``sha256``).
    model : ReconModel
    result : ReconstructionResult
        The reconstruction just written (``sfreq`` is the rate of ``recon``).
    input_rec : Recording
        The scalp input as read (its ``data`` may be a lazy view).
    recon : ndarray, shape (n_contacts, n_times) | None
        Reconstructed signals in volts; None for streamed outputs (the
        first seconds are then read back from ``result.output``).
    overwrite : bool
        Replace an existing report.
    anonymize : bool
        Name the recording by a SHA-256 prefix, without its file name or
        start date/time.

    Returns
    -------
    Path
        Path of ``report.html``.

    Raises
    ------
    OutputError
        If a report exists there and ``overwrite`` is False.
    """
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd

    from ._checks import check_out_path
    from .io.atomic import output_errors

    report_dir = check_out_path(report_dir, overwrite=overwrite, inputs=(config.get("folder"),), kind="report")
    with output_errors(report_dir):
        report_dir.mkdir(parents=True, exist_ok=True)
    html_path = report_dir / "report.html"
    regions = region_table(config, model)
    recording = recording_facts(input_rec, model, result, anonymize=anonymize)
    folder = config.get("folder")
    spectral = spectral_check(Path(folder) / HOLDOUT_NAME) if folder else None
    trained_on = public_trained_on(config)
    if anonymize and trained_on and trained_on.get("calibration"):  # the patient's own file names: withheld
        trained_on["calibration"] = {k: v for k, v in trained_on["calibration"].items()
                                     if k not in ("files", "file_sha256", "electrodes")}
    r_map = config.get("extra", {}).get("heldout_r", {}) or {}
    output = {k: v for k, v in result.to_dict().items() if k not in ("input", "output", "report")}
    output.update(output_file=recording["output_file"], n_clipped_total=recording["clipping"]["total_samples"],
                  notes=recording["notes"])
    summary = strip_paths({
        "ieegrecon_version": __version__,
        "surrogate": True,
        "warning": "These signals are SURROGATES reconstructed from scalp EEG, not recordings.",
        "recording": recording,
        "model_id": model_id(config),
        "method": config["method"],
        "model_sha256": config.get("sha256"),
        "trained_on": trained_on,
        "simulated_training_data": bool(
            (config.get("trained_on") or {}).get("calibration", {}).get("simulated")
            or ((config.get("trained_on") or {}).get("pretrain") or {}).get("simulated")
            or config.get("extra", {}).get("simulated_data")),
        "provenance": provenance_lines(config, anonymize=anonymize),
        "evaluation": config.get("extra", {}).get("evaluation"),
        "zero_shot": bool(config.get("extra", {}).get("zero_shot")),
        "reliability_thresholds": {label: lo for lo, label in RELIABILITY_CLASSES if np.isfinite(lo)},
        "reliability_rule": "class of the held-out r rounded to the printed decimals",
        "spectral_warning": spectral,
        "clipping": recording["clipping"],
        "gaps": recording["gaps"],
        "input": {"file": recording["file"], "id": recording["id"],
                  "sha256": input_rec.source_sha256, "sfreq": input_rec.sfreq,
                  "duration_s": input_rec.duration},
        "output": output,
        "regions": regions,
        "contacts": [{"name": c, "region_key": model.contacts.regions[i],
                      "heldout_r": r_map.get(c), "reliability": reliability_class(r_map.get(c)),
                      "n_clipped": result.n_clipped.get(c, 0)}
                     for i, c in enumerate(model.contacts.ch_names)],
    })
    traces = _trace_data(recon, result, input_rec, recording["scalp_channels_used"],
                         config.get("extra", {}).get("preprocessing"))
    write_json_atomic(summary, report_dir / "report.json")
    # atomic like every output: a symlink planted at regions.tsv is replaced, its target never written
    write_text_atomic(report_dir / "regions.tsv",
                      pd.DataFrame(regions).to_csv(sep="\t", index=False, na_rep="n/a"))
    page = _html(summary, model, traces, Path(folder) / HOLDOUT_NAME if folder else None, r_map)
    write_text_atomic(html_path, page)
    return html_path


# --------------------------------------------------------------------------- traces
def _trace_data(recon: np.ndarray | None, result: ReconstructionResult, input_rec: Recording,
                scalp_used: list[str], prep: dict[str, Any] | None) -> dict[str, Any]:
    """A representative TRACE_S-second window of the surrogate and of the scalp channels used (volts).

    The scalp window is filtered and referenced as the model saw it (its
    preprocessing, on the window padded by 2 s each side against edge effects).
    """
    fs = float(result.sfreq)
    source = "a stretch of typical amplitude"
    if recon is None:
        recon, source = _read_back(result.output, fs), "read back from the start of the surrogate EDF"
    if recon is None:
        return {"recon": None, "source": "the surrogate was streamed to disk and could not be read back"}
    traces_in_memory = source.startswith("a stretch")
    recon = np.asarray(recon)
    # the window stays in the first gap-free segment, where wall-clock and input sample times agree
    n_seg = min([recon.shape[1]] + [int(round(on * fs)) for on, _ in result.gaps])
    n_win = min(n_seg, int(round(TRACE_S * fs)))
    start = 0
    if n_seg > n_win and traces_in_memory:
        # the window whose median amplitude over contacts is the median over windows
        starts = np.arange(0, n_seg - n_win + 1, max(1, n_win // 2))
        amp = np.array([np.median(recon[:, s:s + n_win].std(axis=1)) for s in starts])
        start = int(starts[np.argmin(np.abs(amp - np.median(amp)))])
    t0 = start / fs
    out = {"recon": recon[:, start:start + n_win], "sfreq": fs, "t0": t0, "source": source, "scalp": None}
    idx = [input_rec.ch_names.index(n) for n in scalp_used if n in input_rec.ch_names]
    sf = float(input_rec.sfreq)
    a, b = int(round(t0 * sf)), min(input_rec.n_times, int(round((t0 + n_win / fs) * sf)))
    if not idx or b <= a:
        return out
    pad = int(2 * sf)
    a0, b0 = max(0, a - pad), min(input_rec.n_times, b + pad)
    x = np.asarray(input_rec.data[idx, a0:b0], float)
    p = Preprocessing.from_dict(prep or {"sfreq": fs})
    try:
        x, sf_x = apply_preprocessing(x, sf, p, reference=True), p.sfreq
        how = _prep_text(p)
    except ValueError:  # too short to filter: show it as recorded
        sf_x, how = sf, "as recorded"
    lo = int(round((a - a0) / sf * sf_x))
    out.update(scalp=x[:, lo:lo + int(round((b - a) / sf * sf_x))], scalp_sfreq=sf_x, scalp_how=how,
               scalp_names=[input_rec.ch_names[i] for i in idx])
    return out


def _prep_text(p: Preprocessing) -> str:
    bits = []
    if p.l_freq:
        bits.append(f"{p.l_freq:g} Hz high-pass")
    if p.line_freq:
        bits.append(f"{p.line_freq:g} Hz notch")
    bits.append(f"{p.scalp_reference} reference")
    return "as the model saw it: " + ", ".join(bits)


def _read_back(edf: str, fs: float) -> np.ndarray | None:
    try:
        import mne

        raw = mne.io.read_raw_edf(edf, preload=False, verbose="error")
        return raw.get_data(stop=min(raw.n_times, int(round(TRACE_S * fs))))
    except Exception:  # a report must not fail because the read-back did
        return None


def _nice(v: float) -> float:
    """The 1-2-5 number at or just below ``v``."""
    if not v > 0:
        return 1.0
    e = 10 ** np.floor(np.log10(v))
    return float(max(m for m in (1, 2, 5, 10) if m * e <= v) * e)


def _stack_figure(x: np.ndarray, fs: float, t0: float, names: list[str], title: str, color: str = "k"):
    """Stacked traces (clinical montage style) in µV with one scale bar; x in volts."""
    import matplotlib.pyplot as plt

    x = (x - x.mean(axis=1, keepdims=True)) * 1e6
    spread = np.median(np.percentile(x, 99, axis=1) - np.percentile(x, 1, axis=1)) if x.size else 1.0
    gap = spread if spread > 0 else 1.0
    t = t0 + np.arange(x.shape[1]) / fs
    fig, ax = plt.subplots(figsize=(6.4, 0.9 + 0.32 * len(names)))
    for k, row in enumerate(x):
        ax.plot(t, row - k * gap, color=color, lw=0.6)
    ax.set_yticks(-np.arange(len(names)) * gap, names, fontsize=8)
    ax.set_ylim(-(len(names) - 0.3) * gap, 0.9 * gap)
    ax.set_xlim(t[0], t[-1] if len(t) > 1 else t[0] + 1)
    bar = _nice(gap)
    ax.plot([t[-1] + 0.01 * (t[-1] - t[0])] * 2, [0.5 * gap - bar, 0.5 * gap], "k", lw=2, clip_on=False)
    ax.text(t[-1] + 0.02 * (t[-1] - t[0]), 0.5 * gap - bar / 2, f"{bar:g} µV", fontsize=7, va="center")
    ax.set_xlabel("time from recording start (s)", fontsize=8)
    ax.tick_params(axis="x", labelsize=8)
    ax.set_title(title, fontsize=9, loc="left")
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- HTML
_CSS = """
body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;max-width:1320px;margin:24px auto;
padding:0 16px;color:#1f2328;line-height:1.45}
h1{font-size:1.5em;margin-bottom:4px}h2{font-size:1.2em;border-bottom:1px solid #d0d7de;padding-bottom:4px;
margin-top:28px}
.banner{border:3px solid #cf222e;background:#ffebe9;padding:12px 16px;margin:12px 0}
.banner b.big{font-size:1.25em;color:#cf222e}
.warn{border:2px solid #bf8700;background:#fff8c5;padding:10px 16px;margin:12px 0}
table{border-collapse:collapse;font-size:0.92em}td,th{border:1px solid #d0d7de;padding:3px 8px;
vertical-align:top;text-align:left}th{background:#f6f8fa}
table.facts th{width:220px}
.cls{font-weight:bold}
.traces{display:grid;grid-template-columns:640px 1fr;gap:16px;align-items:start}
.traces .scalp{position:sticky;top:0}
figure{margin:0 0 10px 0}figcaption{font-size:0.85em;color:#57606a}
.small{font-size:0.85em;color:#57606a}
"""


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(fig, fid: str, caption: str) -> str:
    return (f"<figure id='{html.escape(fid)}'><img alt='{html.escape(caption)}' src='{_png(fig)}'>"
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _e(v: Any) -> str:
    return html.escape(str(v))


def _cls(label: str) -> str:
    return f"<span class='cls' style='color:{CLASS_COLORS.get(label, '#1f2328')}'>{_e(label)}</span>"


def _html(summary: dict[str, Any], model, traces: dict[str, Any], holdout: Path | None,
          r_map: dict[str, float]) -> str:
    rec = summary["recording"]
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
             f"<title>Surrogate iEEG report — {_e(rec['file'] or rec['id'])}</title><style>{_CSS}</style>"
             f"</head><body><h1>Surrogate iEEG report — {_e(rec['file'] or rec['id'])}</h1>"
             f"<div class='small'>ieegrecon {_e(summary['ieegrecon_version'])}, model {_e(summary['model_id'])} "
             f"({_e(summary['method'])})</div>"]
    sim = summary["simulated_training_data"]
    parts.append(
        "<div class='banner'><b class='big'>SURROGATE — not a recording.</b> Every trace in this report and "
        "every channel of the output EDF was computed from scalp EEG by a model; none was recorded inside "
        "the brain.<br><b>Training data:</b> "
        + (f" <b style='color:#cf222e'>The model was {_sim_phrase(summary)} on SIMULATED data.</b> " if sim
           else " ")
        + " ".join(_e(s) for s in summary["provenance"]) + "</div>")
    spec = summary["spectral_warning"]
    limits = [f"<li id='spectral-warning'><b>Frequencies above {HIGH_FREQ_HZ:g} Hz:</b> "
              + (_e(spec["sentence"]) if spec else
                 "not measured: this model holds no held-out calibration data to compare against.") + "</li>"]
    clip = rec["clipping"]
    if clip["total_samples"]:
        limits.append(f"<li><b>Clipping:</b> {clip['total_samples']} samples ({100 * clip['fraction']:.1f} %) on "
                      f"{clip['n_channels']} channel(s) exceed the EDF's range and are flat at its limits in the "
                      "EDF (see Recording).</li>")
    if summary.get("zero_shot"):
        limits.append(f"<li><b>Zero-shot:</b> {_e(ZERO_SHOT_NOTE)}</li>")
    if rec["gaps"]:
        limits.append(f"<li><b>Gaps:</b> the recording has {len(rec['gaps'])} gap(s) (EDF+D; see Recording).</li>")
    parts.append("<div class='warn'><b>Limits of this surrogate</b><ul style='margin:4px 0'>"
                 + "".join(limits) + "</ul></div>")
    parts.append("<h2 id='recording'>Recording</h2>" + _facts_table(rec, summary))
    parts.append("<h2 id='confidence'>Per-region confidence</h2>" + _region_table_html(summary))
    parts.append(_traces_html(traces, summary, model))
    if holdout is not None and holdout.is_file():
        parts.append("<h2 id='heldout'>How well the model did on held-out calibration data</h2>"
                     "<p>On data the model did not see during calibration, true iEEG (black) and the "
                     "surrogate (red) for the best three and worst two contacts, and their spectra.</p>")
        for cap, fig, fid in _holdout_figures(holdout, r_map):
            parts.append(_figure(fig, fid, cap))
    parts.append("</body></html>")
    return "\n".join(parts)


def _sim_phrase(summary: dict[str, Any]) -> str:
    t = summary.get("trained_on") or {}
    pre = bool((t.get("pretrain") or {}).get("simulated"))
    cal = bool((t.get("calibration") or {}).get("simulated"))
    return {(True, True): "pretrained and calibrated", (True, False): "pretrained",
            (False, True): "calibrated"}.get((pre, cal), "trained")


def _facts_table(rec: dict[str, Any], summary: dict[str, Any]) -> str:
    rows = []
    if rec["anonymized"]:
        rows.append(("Recording", f"{_e(rec['id'])} (anonymized: file name and start date withheld)"))
    else:
        rows.append(("File", f"<b>{_e(rec['file'])}</b> <span class='small'>({_e(rec['id'])})</span>"))
        rows.append(("Start", _e(rec["start"].replace("T", " ").replace("+00:00", " UTC") if rec["start"]
                                 else "not recorded in the file")))
    rows.append(("Duration", f"{rec['duration_s']:.1f} s ({rec['duration_s'] / 60:.1f} min), sampled at "
                             f"{rec['sfreq']:g} Hz"))
    used = rec["scalp_channels_used"]
    rows.append(("Scalp channels used", f"{len(used)}: {_e(' '.join(used))}"))
    if rec["scalp_channels_not_used"]:
        rows.append(("Scalp channels not used", _e(" ".join(rec["scalp_channels_not_used"]))))
    bads = rec["bad_channels"]
    rows.append(("Bad channels (dropped)", "none" if not bads else
                 "<br>".join(f"{_e(k)}: {_e(v)}" for k, v in bads.items())))
    gaps = rec["gaps"]
    rows.append(("Gaps (EDF+D)", "none" if not gaps else f"{len(gaps)}: " + "; ".join(
        f"at {g['onset_s']:.2f} s, {g['duration_s']:.2f} s long" for g in gaps)))
    clip = rec["clipping"]
    if clip["total_samples"]:
        worst = sorted(clip["channels"].items(), key=lambda kv: -kv[1])
        rows.append(("Clipping", f"<b>{clip['total_samples']} samples on {clip['n_channels']} channel(s)</b> "
                     f"({100 * clip['fraction']:.1f} % of all surrogate samples) were cut to the EDF's physical "
                     "range, set at calibration (flat at the limit in the EDF). Samples per channel: "
                     + _e(", ".join(f"{c} {n}" for c, n in worst))))
    else:
        rows.append(("Clipping", "none"))
    rows.append(("Quirks found in the file", "none" if not rec["quirks"] else
                 "<ul style='margin:0;padding-left:18px'>" + "".join(f"<li>{_e(q)}</li>" for q in rec["quirks"])
                 + "</ul>"))
    notes = [n for n in rec["notes"] if "clipped to the physical range" not in n]  # the Clipping row says it
    if notes:
        rows.append(("Notes", "<br>".join(_e(n) for n in notes)))
    if rec["output_file"]:
        rows.append(("Surrogate written to", _e(rec["output_file"])))
    return ("<table class='facts'>" + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
            + "</table>")


def _region_table_html(summary: dict[str, Any]) -> str:
    regions = summary["regions"]
    has_cov = any(r["coverage90"] is not None for r in regions)
    head = ("<tr><th>region</th><th>reliability</th><th>mean r</th><th>range</th><th>contacts</th>"
            "<th>depth</th><th>distance to scalp (mm)</th>" + ("<th>90 % band coverage</th>" if has_cov else "")
            + "</tr>")
    rows = "".join(
        f"<tr><td>{_e(r['region'])}</td><td>{_cls(r['reliability'])}</td><td>{format_r(r['mean_r'])}</td>"
        f"<td>{format_r(r['min_r'])} to {format_r(r['max_r'])}</td>"
        f"<td>{r['n_contacts']}: {_e(r['contacts'])}</td><td>{_e(r['depth_class'])}</td>"
        f"<td>{_fmt(r['mean_distance_to_scalp_mm'], 1)}</td>"
        + (f"<td>{_fmt(r['coverage90'])}</td>" if has_cov else "") + "</tr>"
        for r in regions)
    thr = "; ".join(f"{label}: r ≥ {format_r(lo)}" for lo, label in RELIABILITY_CLASSES if np.isfinite(lo))
    return (f"<table>{head}{rows}</table><p class='small'>r: Pearson correlation between the surrogate and the "
            f"true iEEG on held-out calibration data ({_e(summary['evaluation'] or 'not recorded')}). "
            f"Classes of the printed (rounded) mean r: {thr}; unreliable below "
            f"{format_r(min(lo for lo, _ in RELIABILITY_CLASSES if np.isfinite(lo)))}; not measured: no held-out "
            "data."
            + (" 90 % band coverage: fraction of held-out true samples inside the predicted 5-95 % band."
               if has_cov else "") + "</p>")


def _traces_html(traces: dict[str, Any], summary: dict[str, Any], model) -> str:
    head = "<h2 id='traces'>Surrogate traces</h2>"
    if traces.get("recon") is None:
        return head + f"<p>No traces shown: {_e(traces['source'])}.</p>"
    fs, t0, y = traces["sfreq"], traces["t0"], traces["recon"]
    secs = y.shape[1] / fs
    head += (f"<p>{secs:.0f} s from {t0:.0f} s to {t0 + secs:.0f} s ({_e(traces['source'])}). Left: the scalp "
             f"channels the model used, {_e(traces.get('scalp_how', ''))}. "
             "Right: the SURROGATE contacts of each region, same time axis. Each figure has its own scale "
             "bar." + (" Surrogates are shown as computed, before the EDF's clipping." if
                       summary["clipping"]["total_samples"] else "") + "</p>")
    left = ""
    if traces["scalp"] is not None:
        left = _figure(_stack_figure(traces["scalp"], traces["scalp_sfreq"], t0, traces["scalp_names"],
                                     "Scalp EEG input (recorded; filtered as the model saw it)", color="#0b3d91"),
                       "traces-scalp", "Scalp EEG input, the channels the model used")
    names = list(model.contacts.ch_names)
    right = []
    for r in summary["regions"]:
        idx = [names.index(c) for c in r["contacts"].split()]
        title = f"SURROGATE — {r['region']}: {r['reliability']} (mean held-out r {format_r(r['mean_r'])})"
        fig = _stack_figure(y[idx], fs, t0, [names[i] for i in idx], title,
                            color=CLASS_COLORS.get(r["reliability"], "k"))
        n = r["n_contacts"]
        right.append(_figure(fig, f"traces-region-{r['region_key']}",
                             f"Surrogate, {r['region']} ({n} contact{'s' if n != 1 else ''})"))
    return head + f"<div class='traces'><div class='scalp'>{left}</div><div>{''.join(right)}</div></div>"


def _fmt(v, nd: int = 2) -> str:
    return "n/a" if v is None else f"{v:.{nd}f}"


def _holdout_figures(path: Path, r_map: dict[str, float]):
    import h5py
    import matplotlib.pyplot as plt

    with h5py.File(path, "r") as f:
        true, pred, fs = f["true"][()], f["pred"][()], float(f.attrs["sfreq"])
        names = [n.decode() for n in f["ch_names"][()]]
    order = sorted(range(len(names)), key=lambda i: -(r_map.get(names[i]) or -9))
    show = order[:3] + order[-2:] if len(order) > 5 else order
    n = min(true.shape[1], int(TRACE_S * fs))
    t = np.arange(n) / fs
    fig1, axes = plt.subplots(len(show), 1, figsize=(10, 1.5 * len(show)), sharex=True, squeeze=False)
    for ax, i in zip(axes[:, 0], show):
        ax.plot(t, true[i, :n] * 1e6, "k", lw=0.7, label="true iEEG")
        ax.plot(t, pred[i, :n] * 1e6, "r", lw=0.7, alpha=0.8, label="surrogate")
        ax.set_ylabel("µV", fontsize=8)
        ax.set_title(f"{names[i]}: held-out r = {format_r(r_map.get(names[i]))} "
                     f"({reliability_class(r_map.get(names[i]))})", fontsize=8, loc="left")
        ax.tick_params(labelsize=7)
    axes[0, 0].legend(fontsize=7, loc="upper right")
    axes[-1, 0].set_xlabel("time (s), held-out calibration segment", fontsize=8)
    fig1.tight_layout()
    return [("True iEEG vs surrogate on held-out calibration data: best 3 and worst 2 contacts", fig1,
             "heldout-traces"),
            ("Power spectrum on held-out calibration data, true vs surrogate (mean over contacts)",
             _psd_pair_figure(true, pred, fs), "heldout-psd")]


def _psd(x: np.ndarray, fs: float):
    from mne.time_frequency import psd_array_welch

    n_fft = int(min(x.shape[-1], 2 * fs))
    return psd_array_welch(x.astype(float), fs, fmin=0.5, fmax=fs / 2, n_fft=n_fft, verbose=False)


def _psd_pair_figure(true: np.ndarray, pred: np.ndarray, fs: float):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    for x, lab, col in ((true, "true iEEG", "k"), (pred, "surrogate", "r")):
        p, f = _psd(x, fs)
        ax.semilogy(f, p.mean(axis=0) * 1e12, col, label=lab)
    ax.axvline(HIGH_FREQ_HZ, color="#bf8700", ls="--", lw=1)
    ax.text(HIGH_FREQ_HZ + 1, ax.get_ylim()[1], f" {HIGH_FREQ_HZ:g} Hz", color="#9a6700", fontsize=8, va="top")
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("power (µV²/Hz)")
    ax.legend()
    fig.tight_layout()
    return fig
