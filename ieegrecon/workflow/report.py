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

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..anonymize import strip_paths
from ..errors import ModelInputMismatch
from ..io.atomic import write_json_atomic, write_text_atomic
from ..models.patient import PatientModel, as_patient_model
from ..recording import Recording
from .confidence import RELIABILITY_CLASSES, reliability_class
from .inputs import match_scalp_channels
from .report_figures import spectral_check, trace_data
from .report_html import render_html
from .results import HOLDOUT_NAME, ReconstructionResult

#: Seconds of surrogate traces shown per region.
def region_table(config: PatientModel | dict[str, Any], model) -> list[dict[str, Any]]:
    """One row per atlas region: contacts, held-out r, reliability class, distance to scalp.

    Parameters
    ----------
    config : PatientModel | dict
        The patient model (held-out r and coverage; its ``folder`` for ``regions.tsv``).
    model : ReconModel
        The model (for its contacts).

    Returns
    -------
    list of dict
        Sorted by decreasing mean r (regions without r last).
    """
    import pandas as pd

    contacts = model.contacts
    pm = as_patient_model(config)
    r_map = pm.heldout.r or {}
    cov_map = pm.heldout.coverage90 or {}
    folder = pm.folder
    dist: dict[str, float | None] = {}
    names: dict[str, str] = {}
    clinical: dict[str, str] = {}
    if folder and (Path(folder) / "regions.tsv").is_file():
        df = pd.read_csv(Path(folder) / "regions.tsv", sep="\t", keep_default_na=False)
        for _, row in df.iterrows():
            d = pd.to_numeric(row.get("distance_to_scalp_mm"), errors="coerce")
            dist[row["name"]] = float(d) if np.isfinite(d) else None
            side = {"L": " (left)", "R": " (right)"}.get(str(row.get("hemisphere", "")), "")
            names[row["region_key"]] = f"{row.get('region', row['region_key'])}{side}"
            if str(row.get("clinical", "n/a")) not in ("", "n/a"):  # HUP's status_description: soz, resected
                clinical[row["name"]] = str(row["clinical"])
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
        if clinical:  # only where the channels.tsv designates contacts (seizure onset, resected)
            out[-1]["clinical"] = "; ".join(f"{c}: {clinical[c]}" for c in row["contacts"] if c in clinical)
    out.sort(key=lambda x: -np.inf if x["mean_r"] is None else -x["mean_r"])
    return out


def clinical_contacts(regions: list[dict[str, Any]]) -> dict[str, str]:
    """Contact -> clinical designation (``'seizure-onset zone, resected'``) from :func:`region_table` rows."""
    out = {}
    for row in regions:
        for item in filter(None, str(row.get("clinical") or "").split("; ")):
            name, _, what = item.partition(": ")
            out[name] = what
    return out


#: What a zero-shot model's report says of its accuracy (measured: README, docs/results.md §2).
def provenance_lines(config: PatientModel | dict[str, Any], *, anonymize: bool = False) -> list[str]:
    """Plain sentences on the data the model saw; never hides simulated data.

    With ``anonymize`` the patient's calibration file names are left out.
    """
    pm = as_patient_model(config)
    t = pm.provenance.trained_on or {}
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
    if pm.heldout.zero_shot:
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


def public_trained_on(config: PatientModel | dict[str, Any]) -> dict[str, Any] | None:
    """The model's ``trained_on`` without folders: sessions as ``sub-XX/ses-YY``, files by name."""
    pm = as_patient_model(config)
    t = pm.provenance.trained_on if "trained_on" in pm.present or not pm.present else None
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
def write_report(report_dir: str | Path, *, config: PatientModel | dict[str, Any], model, result: ReconstructionResult,
                 input_rec: Recording, recon: np.ndarray | None, overwrite: bool = False,
                 anonymize: bool = False) -> Path:
    """Write ``report.json``, ``regions.tsv`` and ``report.html`` into ``report_dir``.

    Parameters
    ----------
    report_dir : path-like
        Folder (created if needed).
    config : PatientModel | dict
        The patient model (from :func:`ieegrecon.models.io.load_patient_model`: with its
        ``folder``, whose ``regions.tsv`` and ``holdout.h5`` the report reads, and ``sha256``).
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

    from .._checks import check_out_path
    from ..io.atomic import output_errors

    pm = as_patient_model(config)
    report_dir = check_out_path(report_dir, overwrite=overwrite, inputs=(pm.folder,), kind="report")
    with output_errors(report_dir):
        report_dir.mkdir(parents=True, exist_ok=True)
    html_path = report_dir / "report.html"
    regions = region_table(pm, model)
    recording = recording_facts(input_rec, model, result, anonymize=anonymize)
    folder = pm.folder
    spectral = spectral_check(Path(folder) / HOLDOUT_NAME) if folder else None
    trained_on = public_trained_on(pm)
    if anonymize and trained_on and trained_on.get("calibration"):  # the patient's own file names: withheld
        trained_on["calibration"] = {k: v for k, v in trained_on["calibration"].items()
                                     if k not in ("files", "file_sha256", "electrodes")}
    r_map = pm.heldout.r or {}
    clinical = clinical_contacts(regions)
    output = {k: v for k, v in result.to_dict().items() if k not in ("input", "output", "report")}
    output.update(output_file=recording["output_file"], n_clipped_total=recording["clipping"]["total_samples"],
                  notes=recording["notes"])
    summary = strip_paths({
        "ieegrecon_version": __version__,
        "surrogate": True,
        "warning": "These signals are SURROGATES reconstructed from scalp EEG, not recordings.",
        "recording": recording,
        "model_id": pm.model_id,
        "method": pm.method,
        "model_sha256": pm.sha256,
        "trained_on": trained_on,
        "simulated_training_data": pm.provenance.calibrated_on_simulated or pm.provenance.pretrained_on_simulated,
        "provenance": provenance_lines(pm, anonymize=anonymize),
        "evaluation": pm.heldout.evaluation,
        "zero_shot": bool(pm.heldout.zero_shot),
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
                      "n_clipped": result.n_clipped.get(c, 0), **({"clinical": clinical.get(c)} if clinical else {})}
                     for i, c in enumerate(model.contacts.ch_names)],
    })
    traces = trace_data(recon, result, input_rec, recording["scalp_channels_used"],
                         pm.preprocessing)
    write_json_atomic(summary, report_dir / "report.json")
    # atomic like every output: a symlink planted at regions.tsv is replaced, its target never written
    write_text_atomic(report_dir / "regions.tsv",
                      pd.DataFrame(regions).to_csv(sep="\t", index=False, na_rep="n/a"))
    page = render_html(summary, model, traces, Path(folder) / HOLDOUT_NAME if folder else None, r_map)
    write_text_atomic(html_path, page)
    return html_path


# --------------------------------------------------------------------------- traces
