"""The surrogate report's self-contained HTML page (plain HTML, figures as base64 PNG, no network)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np

from .confidence import RELIABILITY_CLASSES, format_r
from .report_figures import HIGH_FREQ_HZ, holdout_figures, png, stack_figure

CLASS_COLORS = {"high": "#1a7f37", "moderate": "#9a6700", "low": "#bc4c00", "unreliable": "#cf222e",
                "not measured": "#57606a"}

ZERO_SHOT_NOTE = ("the model was not calibrated on this patient's intracranial recording, so no contact's "
                  "accuracy is known. Measured leave-one-subject-out on 9 simulated subjects, zero-shot cast "
                  "reaches a mean Pearson r of 0.16 (15 s of calibration: 0.37): do not read waveforms from it.")


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


def figure_html(fig, fid: str, caption: str) -> str:
    return (f"<figure id='{html.escape(fid)}'><img alt='{html.escape(caption)}' src='{png(fig)}'>"
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _e(v: Any) -> str:
    return html.escape(str(v))


def _cls(label: str) -> str:
    return f"<span class='cls' style='color:{CLASS_COLORS.get(label, '#1f2328')}'>{_e(label)}</span>"


def render_html(summary: dict[str, Any], model, traces: dict[str, Any], holdout: Path | None,
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
    clinical = [f"{c['name']} ({c['clinical']})" for c in summary["contacts"] if c.get("clinical")]
    if clinical:
        limits.append("<li><b>Clinically designated contacts</b> (channels.tsv status_description): "
                      + _e(", ".join(clinical)) + ". Their surrogates are estimates from scalp EEG like any "
                      "other: never a substitute for the recorded seizure-onset zone.</li>")
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
        for cap, fig, fid in holdout_figures(holdout, r_map):
            parts.append(figure_html(fig, fid, cap))
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
        left = figure_html(stack_figure(traces["scalp"], traces["scalp_sfreq"], t0, traces["scalp_names"],
                                     "Scalp EEG input (recorded; filtered as the model saw it)", color="#0b3d91"),
                       "traces-scalp", "Scalp EEG input, the channels the model used")
    names = list(model.contacts.ch_names)
    right = []
    for r in summary["regions"]:
        idx = [names.index(c) for c in r["contacts"].split()]
        title = f"SURROGATE — {r['region']}: {r['reliability']} (mean held-out r {format_r(r['mean_r'])})"
        fig = stack_figure(y[idx], fs, t0, [names[i] for i in idx], title,
                            color=CLASS_COLORS.get(r["reliability"], "k"))
        n = r["n_contacts"]
        right.append(figure_html(fig, f"traces-region-{r['region_key']}",
                             f"Surrogate, {r['region']} ({n} contact{'s' if n != 1 else ''})"))
    return head + f"<div class='traces'><div class='scalp'>{left}</div><div>{''.join(right)}</div></div>"


def _fmt(v, nd: int = 2) -> str:
    return "n/a" if v is None else f"{v:.{nd}f}"


