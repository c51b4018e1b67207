"""Per-region confidence reports for every reconstruction.

Writes ``report.json`` (machine-readable), ``regions.tsv`` (one row per
region) and a self-contained ``report.html`` built with :class:`mne.Report`
(figures from matplotlib, inlined). Confidence comes from what was measured
at calibration on held-out data; the report states the thresholds, the data
the model was trained and calibrated on (simulated or real), and that the
output is a surrogate.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .pipeline import (
    HOLDOUT_NAME,
    RELIABILITY_CLASSES,
    ReconstructionResult,
    model_id,
    reliability_class,
)
from .io.atomic import atomic_path, write_json_atomic
from .recording import Recording


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
            names[row["region_key"]] = f"{row.get('region', row['region_key'])}"
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


def provenance_lines(config: dict[str, Any]) -> list[str]:
    """Plain sentences on the data the model saw; never hides simulated data."""
    t = config.get("trained_on", {}) or {}
    cal = t.get("calibration") or {}
    pre = t.get("pretrain")
    lines = []
    if pre:
        kind = "SIMULATED" if pre.get("simulated") else "real"
        lines.append(f"Pretrained across subjects on {kind} data: {pre.get('description', pre)}.")
    if cal:
        kind = "SIMULATED (ieegrecon digital twin)" if cal.get("simulated") else "real"
        lines.append(f"Calibrated on {cal.get('minutes')} min of {kind} paired scalp/iEEG "
                     f"from {', '.join(Path(f).name for f in cal.get('files', []))}.")
    if config.get("extra", {}).get("zero_shot"):
        lines.append("Zero-shot: no calibration on this patient's intracranial data was used to fit the model.")
    if not lines:
        lines.append("No record of the training data was found in the model.")
    return lines


def write_report(report_dir: str | Path, *, config: dict[str, Any], model, result: ReconstructionResult,
                 input_rec: Recording, recon: np.ndarray, overwrite: bool = False) -> Path:
    """Write ``report.json``, ``regions.tsv`` and ``report.html`` into ``report_dir``.

    Parameters
    ----------
    report_dir : path-like
        Folder (created if needed).
    config : dict
        Model config (with ``folder`` and ``sha256``).
    model : ReconModel
    result : ReconstructionResult
        The reconstruction just written.
    input_rec : Recording
        The scalp input.
    recon : ndarray, shape (n_contacts, n_times)
        Reconstructed signals in volts.
    overwrite : bool
        Replace an existing report.

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
    summary = {
        "ieegrecon_version": __version__,
        "surrogate": True,
        "warning": "These signals are SURROGATES reconstructed from scalp EEG, not recordings.",
        "model_id": model_id(config),
        "method": config["method"],
        "model_sha256": config.get("sha256"),
        "trained_on": config.get("trained_on"),
        "simulated_training_data": bool(
            (config.get("trained_on") or {}).get("calibration", {}).get("simulated")
            or ((config.get("trained_on") or {}).get("pretrain") or {}).get("simulated")),
        "provenance": provenance_lines(config),
        "evaluation": config.get("extra", {}).get("evaluation"),
        "reliability_thresholds": {label: lo for lo, label in RELIABILITY_CLASSES if np.isfinite(lo)},
        "input": {"path": result.input, "sha256": input_rec.source_sha256, "sfreq": input_rec.sfreq,
                  "duration_s": input_rec.duration},
        "output": result.to_dict(),
        "regions": regions,
        "contacts": [{"name": c, "region_key": model.contacts.regions[i],
                      "heldout_r": config.get("extra", {}).get("heldout_r", {}).get(c),
                      "reliability": reliability_class(config.get("extra", {}).get("heldout_r", {}).get(c)),
                      "n_clipped": result.n_clipped.get(c, 0)}
                     for i, c in enumerate(model.contacts.ch_names)],
    }
    write_json_atomic(summary, report_dir / "report.json")
    pd.DataFrame(regions).to_csv(report_dir / "regions.tsv", sep="\t", index=False, na_rep="n/a")
    _write_html(html_path, summary, config, model, recon, result.sfreq)
    return html_path


def _write_html(path: Path, summary: dict[str, Any], config: dict[str, Any], model, recon: np.ndarray,
                sfreq: float) -> None:
    import os

    import matplotlib.pyplot as plt
    import mne

    rep = mne.Report(title=f"ieegrecon surrogate report — {summary['model_id']}", verbose=False)
    banner = ("<div style='border:2px solid #b00;padding:8px;background:#fee'><b>SURROGATE.</b> "
              "These channels are reconstructed from scalp EEG by a model; they are not intracranial "
              "recordings. " + " ".join(html.escape(s) for s in summary["provenance"]) + "</div>")
    thr = ", ".join(f"{label}: held-out r ≥ {lo}" for lo, label in RELIABILITY_CLASSES if np.isfinite(lo))
    thr += "; unreliable: below 0.1; not measured: no held-out data."
    rows = "".join(
        f"<tr><td>{html.escape(r['region'])}</td><td>{html.escape(r['region_key'])}</td><td>{r['n_contacts']}</td>"
        f"<td>{_fmt(r['mean_r'])}</td><td>{_fmt(r['min_r'])}–{_fmt(r['max_r'])}</td>"
        f"<td><b>{r['reliability']}</b></td><td>{_fmt(r['mean_distance_to_scalp_mm'], 1)}</td>"
        f"<td>{html.escape(r['depth_class'])}</td><td>{_fmt(r['coverage90'])}</td>"
        f"<td>{html.escape(r['contacts'])}</td></tr>"
        for r in summary["regions"])
    table = ("<table class='table table-sm'><thead><tr><th>region</th><th>key</th><th>n</th><th>mean r</th>"
             "<th>range</th><th>reliability</th><th>distance to scalp (mm)</th><th>depth</th>"
             "<th>90 % band coverage</th><th>contacts</th>"
             f"</tr></thead><tbody>{rows}</tbody></table><p>Reliability classes: {thr} "
             f"Held-out r measured by: {html.escape(str(summary['evaluation']))}. "
             "90 % band coverage (flow models only): fraction of held-out true samples inside the "
             "predicted 5-95 % band; n/a for point-estimate methods.</p>")
    rep.add_html(banner, title="What this is", section="summary")
    rep.add_html(table, title="Per-region confidence", section="summary")
    figs = []
    holdout = Path(config.get("folder", "")) / HOLDOUT_NAME
    if holdout.is_file():
        figs += _holdout_figures(holdout, config)
    figs.append(("Per-region held-out r", _bar_figure(summary["regions"])))
    figs.append(("Spectrum of this reconstruction", _psd_figure(recon, sfreq, model.contacts.ch_names)))
    for title, fig in figs:
        rep.add_figure(fig, title=title, section="figures", image_format="png")
        plt.close(fig)
    with atomic_path(path) as tmp:
        html_tmp = tmp.with_name(tmp.name + ".html")
        try:
            rep.save(html_tmp, open_browser=False, overwrite=True, verbose=False)
            os.replace(html_tmp, tmp)
        finally:
            html_tmp.unlink(missing_ok=True)


def _fmt(v, nd: int = 2) -> str:
    return "n/a" if v is None else f"{v:.{nd}f}"


def _holdout_figures(path: Path, config: dict[str, Any]):
    import h5py
    import matplotlib.pyplot as plt

    with h5py.File(path, "r") as f:
        true, pred, fs = f["true"][()], f["pred"][()], float(f.attrs["sfreq"])
        names = [n.decode() for n in f["ch_names"][()]]
    r_map = config.get("extra", {}).get("heldout_r", {})
    order = sorted(range(len(names)), key=lambda i: -(r_map.get(names[i]) or -9))
    show = order[:3] + order[-2:] if len(order) > 5 else order
    n = min(true.shape[1], int(10 * fs))
    t = np.arange(n) / fs
    fig1, axes = plt.subplots(len(show), 1, figsize=(10, 1.6 * len(show)), sharex=True, squeeze=False)
    for ax, i in zip(axes[:, 0], show):
        ax.plot(t, true[i, :n] * 1e6, "k", lw=0.8, label="true iEEG")
        ax.plot(t, pred[i, :n] * 1e6, "r", lw=0.8, alpha=0.8, label="reconstructed")
        ax.set_ylabel(f"{names[i]}\nµV", fontsize=8)
        ax.set_title(f"{names[i]}: held-out r = {_fmt(r_map.get(names[i]))}", fontsize=8)
    axes[0, 0].legend(fontsize=7, loc="upper right")
    axes[-1, 0].set_xlabel("time (s), held-out calibration segment")
    fig1.tight_layout()
    fig2 = _psd_pair_figure(true, pred, fs)
    return [("True vs reconstructed, held-out calibration segment (best 3 and worst 2 contacts)", fig1),
            ("PSD, held-out calibration segment: true vs reconstructed (mean over contacts)", fig2)]


def _psd(x: np.ndarray, fs: float):
    from mne.time_frequency import psd_array_welch

    n_fft = int(min(x.shape[-1], 2 * fs))
    return psd_array_welch(x.astype(float), fs, fmin=0.5, fmax=fs / 2, n_fft=n_fft, verbose=False)


def _psd_pair_figure(true: np.ndarray, pred: np.ndarray, fs: float):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for x, lab, col in ((true, "true iEEG", "k"), (pred, "reconstructed", "r")):
        p, f = _psd(x, fs)
        ax.semilogy(f, p.mean(axis=0) * 1e12, col, label=lab)
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("PSD (µV²/Hz)")
    ax.legend()
    fig.tight_layout()
    return fig


def _psd_figure(recon: np.ndarray, fs: float, names: list[str]):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    p, f = _psd(recon, fs)
    ax.semilogy(f, p.T * 1e12, lw=0.5, alpha=0.5)
    ax.semilogy(f, p.mean(axis=0) * 1e12, "k", lw=2, label="mean over contacts")
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("PSD (µV²/Hz)")
    ax.legend()
    fig.tight_layout()
    return fig


def _bar_figure(regions: list[dict[str, Any]]):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(4, 0.45 * len(regions) + 2), 3.5))
    vals = [np.nan if r["mean_r"] is None else r["mean_r"] for r in regions]
    colors = {"high": "tab:green", "moderate": "tab:olive", "low": "tab:orange"}
    ax.bar(range(len(regions)), vals, color=[colors.get(r["reliability"], "tab:red") for r in regions])
    ax.set_xticks(range(len(regions)), [r["region_key"] for r in regions], rotation=60, ha="right", fontsize=7)
    for lo, _label in RELIABILITY_CLASSES:
        if np.isfinite(lo):
            ax.axhline(lo, color="gray", lw=0.5, ls="--")
    ax.set_ylabel("mean held-out Pearson r")
    fig.tight_layout()
    return fig
