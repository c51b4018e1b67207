"""Write simulated sessions as a BIDS dataset shaped like ds004752, plus ground truth in HDF5.

Layout of the output (``XX`` subject, ``YY`` session)::

    dataset_description.json  participants.tsv  participants.json  README
    sub-XX/ses-YY/eeg/sub-XX_ses-YY_task-sim_run-01_{eeg.edf,eeg.json,channels.tsv}
    sub-XX/ses-YY/eeg/sub-XX_ses-YY_space-MNIColin27_{electrodes.tsv,coordsystem.json}
    sub-XX/ses-YY/ieeg/sub-XX_ses-YY_task-sim_run-01_{ieeg.edf,ieeg.json,channels.tsv}
    sub-XX/ses-YY/ieeg/sub-XX_ses-YY_space-MNI152NLin2009aSym_{electrodes.tsv,coordsystem.json}
    derivatives/ieegrecon-sim/sub-XX/ses-YY/sub-XX_ses-YY_groundtruth.h5

Every file is written to a temporary name in its folder and renamed into place.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .. import __version__
from ..io.atomic import atomic_path, write_text_atomic
from ..io.edf import write_edf
from ..io.edf_verify import verify_edf
from ..recording import Annotation
from .core import SimulatedSession

TASK = "sim"
IEEG_SPACE = "MNI152NLin2009aSym"
EEG_SPACE = "MNIColin27"
DERIV = "ieegrecon-sim"


def _json(path: Path, obj: dict) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2) + "\n")


def _tsv(path: Path, header: list[str], rows: list[list]) -> None:
    lines = ["\t".join(header)] + ["\t".join(str(v) for v in r) for r in rows]
    write_text_atomic(path, "\n".join(lines) + "\n")


def _mm(v: float) -> str:
    return f"{v * 1000.0:.10g}"


def write_dataset_files(root: Path, subjects: list[dict]) -> None:
    """Top-level BIDS files: dataset_description.json, participants.tsv/.json, README."""
    _json(root / "dataset_description.json", {
        "Name": "ieegrecon simulated paired scalp EEG / iEEG (digital twins of real layouts)",
        "BIDSVersion": "1.8.0", "DatasetType": "raw", "License": "CC0",
        "Authors": ["ieegrecon simulate"],
        "GeneratedBy": [{"Name": "ieegrecon", "Version": __version__,
                         "Description": "TVB Jansen-Rit dynamics, MNE sphere model (scalp), infinite-medium dipoles (iEEG)"}],
    })
    hdr = ["participant_id", "layout", "layout_electrodes", "seed", "alpha_hz", "head_radius_mm"]
    _tsv(root / "participants.tsv", hdr, [[s[h] for h in hdr] for s in subjects])
    _json(root / "participants.json", {
        "layout": {"Description": "name of the real layout this subject's contacts come from"},
        "layout_electrodes": {"Description": "the electrodes.tsv of that layout"},
        "seed": {"Description": "master seed of the simulation"},
        "alpha_hz": {"Description": "target alpha frequency of the cortical neural masses", "Units": "Hz"},
        "head_radius_mm": {"Description": "scalp radius of the sphere head model", "Units": "mm"},
    })
    write_text_atomic(root / "README", "SIMULATED data written by `ieegrecon simulate`; not recordings of people.\n"
                 "See derivatives/ieegrecon-sim for the ground truth and docs/simulation.md for the model.\n")
    (root / "derivatives" / DERIV).mkdir(parents=True, exist_ok=True)
    _json(root / "derivatives" / DERIV / "dataset_description.json", {
        "Name": "ieegrecon simulation ground truth", "BIDSVersion": "1.8.0", "DatasetType": "derivative",
        "GeneratedBy": [{"Name": "ieegrecon", "Version": __version__}],
    })


def write_session(root: Path, sim: SimulatedSession, sub: str, ses: str, *, overwrite: bool = False) -> Path:
    """Write one simulated session (EDFs, sidecars, ground truth); return the session folder."""
    sdir = root / f"sub-{sub}" / f"ses-{ses}"
    stem = f"sub-{sub}_ses-{ses}_task-{TASK}_run-01"
    note = (f"SIMULATED: ieegrecon digital twin, seed {sim.seed}, subject {sim.subject_index}, "
            f"session {sim.session_index}, layout {sim.layout.name}")
    ann = [Annotation(0.0, 0.0, note)] + [Annotation(float(t), 0.3, "IED (simulated interictal discharge)")
                                          for t in sim.spike_times]
    for kind, data, sfreq, names in (("eeg", sim.scalp, sim.scalp_sfreq, sim.scalp_names),
                                     ("ieeg", sim.ieeg, sim.ieeg_sfreq, sim.contact_names)):
        d = sdir / kind
        d.mkdir(parents=True, exist_ok=True)
        edf = d / f"{stem}_{kind}.edf"
        write_edf(edf, data, sfreq, names, annotations=ann, recording_additional=["SIMULATED", "ieegrecon"],
                  overwrite=overwrite)
        verify_edf(edf, names, data.shape[1], sfreq, data)
        typ = "EEG" if kind == "eeg" else "SEEG"
        if sim.world.get("name", "v1") == "v1":
            _tsv(d / f"{stem}_channels.tsv",
                 ["name", "type", "units", "low_cutoff", "high_cutoff", "sampling_frequency", "status"],
                 [[n, typ, "µV", "n/a", "n/a", f"{sfreq:g}", "good"] for n in names])
        else:
            st = sim.channel_status
            _tsv(d / f"{stem}_channels.tsv",
                 ["name", "type", "units", "low_cutoff", "high_cutoff", "sampling_frequency", "status",
                  "status_description"],
                 [[n, typ, "µV", "n/a", "n/a", f"{sfreq:g}", "bad" if n in st else "good", st.get(n, "n/a")]
                  for n in names])
            _write_events(d / f"{stem}_events.tsv", sim.events, kind)
        side = {"TaskName": TASK, "SamplingFrequency": sfreq, "PowerLineFrequency": 50,
                "SoftwareFilters": "n/a", "RecordingDuration": data.shape[1] / sfreq,
                "RecordingType": "continuous", "Manufacturer": "ieegrecon (simulated)",
                "TaskDescription": note}
        if kind == "eeg":
            side.update({"EEGReference": _scalp_reference_text(sim),
                         "EEGChannelCount": len(names), "EEGGround": "n/a"})
        else:
            side.update({"iEEGReference": sim.ieeg_reference,
                         "SEEGChannelCount": len(names), "ECOGChannelCount": 0})
        _json(d / f"{stem}_{kind}.json", side)
    # electrodes + coordinate systems
    ie = sdir / "ieeg"
    lay = sim.layout
    hdr = ["name", "x", "y", "z"] + list(lay.extra_columns) + (["AnatomicalLocation"] if lay.anatomical else [])
    rows = []
    for i, n in enumerate(sim.contact_names):
        r = [n] + [_mm(v) for v in sim.contact_pos[i]] + [lay.extra_columns[c][i] or "n/a" for c in lay.extra_columns]
        if lay.anatomical:
            r.append(lay.anatomical[i] or "n/a")
        rows.append(r)
    _tsv(ie / f"sub-{sub}_ses-{ses}_space-{IEEG_SPACE}_electrodes.tsv", hdr, rows)
    _json(ie / f"sub-{sub}_ses-{ses}_space-{IEEG_SPACE}_coordsystem.json", {
        "iEEGCoordinateSystem": IEEG_SPACE, "iEEGCoordinateUnits": "mm",
        "iEEGCoordinateSystemDescription": "MNI template space; contact positions copied from the real layout "
                                           f"{lay.electrodes_tsv.name}",
        "iEEGCoordinateProcessingDescription": "none (copied)"})
    ee = sdir / "eeg"
    _tsv(ee / f"sub-{sub}_ses-{ses}_space-{EEG_SPACE}_electrodes.tsv", ["name", "x", "y", "z"],
         [[n] + [_mm(v) for v in sim.scalp_pos[i]] for i, n in enumerate(sim.scalp_names)])
    _json(ee / f"sub-{sub}_ses-{ses}_space-{EEG_SPACE}_coordsystem.json", {
        "EEGCoordinateSystem": EEG_SPACE, "EEGCoordinateUnits": "mm",
        "EEGCoordinateSystemDescription": "MNE colin27_1005 montage positions of the 10-05 names"})
    _tsv(sdir / f"sub-{sub}_ses-{ses}_scans.tsv", ["filename"],
         [[f"eeg/{stem}_eeg.edf"], [f"ieeg/{stem}_ieeg.edf"]])
    gdir = root / "derivatives" / DERIV / f"sub-{sub}" / f"ses-{ses}"
    gdir.mkdir(parents=True, exist_ok=True)
    write_groundtruth(gdir / f"sub-{sub}_ses-{ses}_groundtruth.h5", sim)
    return sdir


def _scalp_reference_text(sim: SimulatedSession) -> str:
    """``EEGReference`` of the scalp sidecar."""
    ref = sim.scalp_reference
    if ref == "average":
        return ref
    if ref == "linked_ears":
        return "linked ears (A1+A2)/2, as the layout states"
    if sim.world.get("scalp_reference_from_layout") and ref not in ("FCz", "CPz"):
        return f"{ref} (as the layout states, not recorded)"
    return f"{ref} (electrode near the vertex, not recorded)"


#: Columns of the events.tsv of world v2 (ground truth).
EVENT_COLUMNS = ["onset", "duration", "trial_type", "channels", "peak_uv", "scalp_peak_uv", "region"]


def _write_events(path: Path, events: list[dict], kind: str) -> None:
    """BIDS events.tsv (+ .json) of the events that concern ``kind`` (``'eeg'``/``'ieeg'``)."""
    rows = []
    for e in events:
        if e.get("datatype", "both") not in ("both", kind):
            continue
        row = []
        for c in EVENT_COLUMNS:
            v = e.get(c, "n/a")
            row.append(f"{v:.6g}" if isinstance(v, float) else (v if v != "" else "n/a"))
        rows.append(row)
    _tsv(path, EVENT_COLUMNS, rows)
    _json(path.with_suffix(".json"), {
        "trial_type": {"Description": "simulated ground truth", "Levels": {
            "IED": "interictal epileptiform discharge (spike/sharp wave + slow wave) of the irritative zone",
            "artifact/pop": "electrode pop on one channel", "artifact/movement": "movement burst",
            "artifact/dropout_flat": "channel flat from onset on", "artifact/dropout_noise": "channel noise from onset on",
            "state/drowsy": "drowsy segment (alpha down, theta up)"}},
        "channels": {"Description": "channels the event concerns (comma-separated; IED: contacts whose near-field "
                                    "peak is at least 40 µV)"},
        "peak_uv": {"Description": "largest absolute deflection on those channels", "Units": "µV"},
        "scalp_peak_uv": {"Description": "IED: largest absolute scalp deflection it causes (noise-free)",
                          "Units": "µV"},
        "region": {"Description": "IED: TVB region of the irritative zone"},
    })


def write_groundtruth(path: Path, sim: SimulatedSession) -> None:
    """Write the ground truth of one session to HDF5 (h5py), atomically.

    Groups: ``sources`` (region moments in A·m), ``dipoles`` (MNI m),
    ``scalp`` and ``ieeg`` (forward matrices in V/(A·m), noise components in V),
    ``events``; attributes hold the subject parameters as JSON.
    """
    import h5py

    str_dt = h5py.string_dtype()
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["description"] = ("ieegrecon simulation ground truth. scalp = scalp/forward @ "
                                  "sources/moments_scalp_rate + scalp/noise + scalp/artifacts; "
                                  "ieeg = resample_poly(ieeg/forward @ sources/moments) + ieeg/local + ieeg/noise")
        f.attrs["params_json"] = json.dumps(sim.params)
        f.attrs["seed"] = sim.seed
        f.attrs["subject_index"] = sim.subject_index
        f.attrs["session_index"] = sim.session_index
        f.attrs["ieegrecon_version"] = __version__
        g = f.create_group("sources")
        g.attrs["units"] = "A*m (current dipole moment)"
        g.attrs["sfreq"] = sim.source_sfreq
        g.attrs["scalp_sfreq"] = sim.scalp_sfreq
        g.create_dataset("moments", data=sim.sources)
        g.create_dataset("moments_scalp_rate", data=sim.sources_scalp)
        g.create_dataset("labels", data=sim.dipoles.labels, dtype=str_dt)
        g.create_dataset("aal_regions", data=sim.dipoles.aal, dtype=str_dt)
        g = f.create_group("dipoles")
        g.attrs["frame"] = "MNI, metres"
        g.create_dataset("pos", data=sim.dipoles.pos)
        g.create_dataset("ori", data=sim.dipoles.ori)
        g.create_dataset("region", data=sim.dipoles.region)
        g.create_dataset("weight", data=sim.dipoles.weight)
        g = f.create_group("scalp")
        g.attrs["sfreq"] = sim.scalp_sfreq
        g.attrs["reference"] = sim.scalp_reference
        g.attrs["units"] = "V; forward in V/(A*m)"
        g.create_dataset("ch_names", data=sim.scalp_names, dtype=str_dt)
        g.create_dataset("pos", data=sim.scalp_pos)
        g.create_dataset("forward", data=sim.scalp_forward)
        g.create_dataset("forward_dipoles", data=sim.scalp_forward_dipoles)
        g.create_dataset("noise", data=sim.scalp_noise)
        g.create_dataset("artifacts", data=sim.scalp_artifacts)
        g = f.create_group("ieeg")
        g.attrs["sfreq"] = sim.ieeg_sfreq
        g.attrs["reference"] = "infinity"
        g.attrs["units"] = "V; forward in V/(A*m)"
        g.create_dataset("ch_names", data=sim.contact_names, dtype=str_dt)
        g.create_dataset("pos", data=sim.contact_pos)
        g.create_dataset("depth", data=sim.contact_depth)
        g.create_dataset("forward", data=sim.ieeg_forward)
        g.create_dataset("forward_dipoles", data=sim.ieeg_forward_dipoles)
        g.create_dataset("local", data=sim.ieeg_local.astype(np.float32))
        g.create_dataset("noise", data=sim.ieeg_noise.astype(np.float32))
        g = f.create_group("events")
        g.create_dataset("spike_times", data=np.asarray(sim.spike_times, float))
        g.attrs["spike_region"] = sim.spike_region
        if sim.world.get("name", "v1") != "v1":
            _groundtruth_v2(f, sim)


def _groundtruth_v2(f, sim: SimulatedSession) -> None:
    """World v2 additions: nonlinear term, reference, actual cap position, events as JSON."""
    f.attrs["world_json"] = json.dumps(sim.world)
    f.attrs["description"] = ("ieegrecon simulation ground truth (world v2). scalp = scalp/forward @ "
                              "sources/moments_scalp_rate + scalp/noise + scalp/artifacts; ieeg = "
                              "resample_poly(ieeg/forward @ sources/moments) + ieeg/local + ieeg/noise + "
                              "ieeg/nonlinear (all referenced and gain-scaled as recorded; ieeg/local holds the "
                              "IED near field, ieeg/noise the iEEG artifacts and dropout)")
    g = f["ieeg"]
    g.attrs["reference"] = sim.ieeg_reference
    g.create_dataset("reference_weights", data=sim.ieeg_reference_weights)
    if sim.ieeg_nonlinear is not None:
        g.create_dataset("nonlinear", data=sim.ieeg_nonlinear.astype(np.float32))
    if sim.scalp_pos_actual is not None:
        f["scalp"].create_dataset("pos_actual", data=sim.scalp_pos_actual)
    f["events"].attrs["events_json"] = json.dumps(sim.events)
