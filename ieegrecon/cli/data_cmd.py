"""``ieegrecon info``, ``ieegrecon import`` and ``ieegrecon map``: parse, call, render."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from ..errors import OutputError, UsageError
from ..io.atomic import write_text_atomic
from .app import command, out_console, print_json


#: Annotations listed in ``info``'s table (``--json`` lists all).
ANN_ROWS = 20


def _rec_summary(rec) -> dict:
    return dict(
        source=rec.source_path, sfreq=rec.sfreq, n_times=rec.n_times, duration_s=round(rec.duration, 3),
        n_channels=len(rec.ch_names), types=dict(Counter(rec.ch_types)),
        channels=[dict(name=n, type=t) for n, t in zip(rec.ch_names, rec.ch_types)],
        renamed=rec.renamed, coord_frame=rec.coord_frame,
        annotations=[dict(onset=a.onset, duration=a.duration, description=a.description, wall_onset=a.wall)
                     for a in rec.annotations],
        gaps=[dict(onset=g, duration=d) for g, d in rec.gaps],
        meas_date=rec.meas_date.isoformat() if rec.meas_date else None, sha256=rec.source_sha256,
        quirks=rec.quirks,
    )


def _info_obj(path: Path, ieeg_channels: str | None) -> dict:
    from ..io.bids import find_sessions, read_bids_session
    from ..io.read import read_recording

    if not path.is_dir():
        return dict(kind="file", **_rec_summary(read_recording(path, ieeg_channels=ieeg_channels)))
    sessions = []
    for ses in find_sessions(path):
        s = read_bids_session(ses)
        sidecar = {k: dict(n_channels=len(v), types=dict(Counter(r["type"] for r in v.values())))
                   for k, v in s.channels.items()}
        sessions.append(dict(
            subject=s.subject, session=s.session, path=str(ses), sidecar_channels=sidecar,
            scalp=_rec_summary(s.scalp) if s.scalp else None, ieeg=_rec_summary(s.ieeg) if s.ieeg else None,
            n_electrodes=len(s.electrodes.names) if s.electrodes else 0, quirks=s.quirks))
    return dict(kind="bids", root=str(path), n_sessions=len(sessions), sessions=sessions)


class _PlainTable(Table):
    """A rich Table whose cells are shown as written (labels and annotations may contain '[...]')."""

    def add_row(self, *cells, **kw):  # type: ignore[override]
        super().add_row(*(escape(c) if isinstance(c, str) else c for c in cells), **kw)


def _print_rec(title: str, r: dict) -> None:
    t = _PlainTable(title=escape(title), show_header=True)
    for c in ("field", "value"):
        t.add_column(c)
    t.add_row("sfreq", f"{r['sfreq']:g} Hz")
    t.add_row("duration", f"{r['duration_s']:g} s ({r['n_times']} samples)")
    t.add_row("channels", ", ".join(f"{k}: {v}" for k, v in r["types"].items()))
    by_type: dict[str, list[str]] = {}
    for c in r["channels"]:
        by_type.setdefault(c["type"], []).append(c["name"])
    for k, v in by_type.items():
        t.add_row(f"  {k}", " ".join(v))
    anns = r["annotations"]
    t.add_row("annotations", f"{len(anns)}" + (" (onset s on the samples; wall clock when a gap precedes)"
                                                if r.get("gaps") else ""))
    for a in anns[:ANN_ROWS]:
        wall = f" (wall clock {a['wall_onset']:g} s)" if abs(a["wall_onset"] - a["onset"]) > 1e-9 else ""
        t.add_row("", f"{a['onset']:g} s{wall}: {a['description']}")
    if len(anns) > ANN_ROWS:
        t.add_row("", f"... {len(anns) - ANN_ROWS} more (--json lists all)")
    for g in r.get("gaps", []):
        t.add_row("gap", f"{g['duration']:g} s missing at {g['onset']:g} s")
    t.add_row("meas_date", str(r["meas_date"]))
    out_console.print(t)


@command("info")
def info(
    path: Path = typer.Argument(..., help="A signal file (EDF/BDF/BrainVision/FIF/EEGLAB) or a BIDS folder."),
    ieeg_channels: str | None = typer.Option(None, "--ieeg-channels", help="Regex of intracranial labels."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
) -> None:
    """Channels, types, sfreq, duration, annotations and every quirk found."""
    obj = _info_obj(path, ieeg_channels)
    if as_json:
        print_json(obj)
        return
    if obj["kind"] == "file":
        _print_rec(str(path), obj)
        for q in obj["quirks"]:
            out_console.print(f"quirk: {q}", markup=False)
        return
    for s in obj["sessions"]:
        out_console.print(f"[bold]sub-{escape(str(s['subject']))} ses-{escape(str(s['session'] or '-'))}[/bold]  "
                          f"{escape(s['path'])}")
        for part in ("scalp", "ieeg"):
            if s[part]:
                _print_rec(part, s[part])
        for k, v in s["sidecar_channels"].items():
            out_console.print(f"  {k}/channels.tsv: {v['n_channels']} channels {v['types']}", markup=False)
        out_console.print(f"  electrodes: {s['n_electrodes']}")
        for q in s["quirks"]:
            out_console.print(f"  quirk: {q}", markup=False)


@command("import")
def import_(
    inputs: list[Path] = typer.Argument(..., help="Signal files and/or BIDS folders."),
    out: Path = typer.Option(..., "--out", help="HDF5 store to write (.h5)."),
    ieeg_channels: str | None = typer.Option(None, "--ieeg-channels",
                                                help="Regex of intracranial labels in mixed files."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing store."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
) -> None:
    """Import files or BIDS sessions into one HDF5 store (scalp and iEEG kept apart)."""
    from ..io.read import read_recording
    from ..io.store import open_store, write_store

    from .._checks import check_out_path, input_bytes

    # before reading anything: not an input, not inside one, ours to replace, room for about 2x the inputs
    check_out_path(out, overwrite=overwrite, inputs=inputs, kind="hdf5", need_bytes=2 * input_bytes(inputs))
    items = [p if p.is_dir() else read_recording(p, ieeg_channels=ieeg_channels) for p in inputs]
    write_store(items, out, overwrite=overwrite)
    summary = []
    with open_store(out) as st:
        for e in st.entries:
            summary.append(dict(entry=e, parts={p: list(st.data(e, p).shape) for p in st.parts(e)},
                                renamed=st.renamed(e), quirks=st.quirks(e)))
    if as_json:
        print_json(dict(store=str(out), entries=summary))
        return
    t = Table(title=f"{out}")
    for c in ("entry", "parts (n_channels x n_times)", "renamed", "quirks"):
        t.add_column(c)
    for s in summary:
        t.add_row(s["entry"], ", ".join(f"{k} {v[0]}x{v[1]}" for k, v in s["parts"].items()) or "(electrodes only)",
                  str(len(s["renamed"])), str(len(s["quirks"])))
    out_console.print(t)


@command("map")
def map_(
    electrodes: Path = typer.Argument(..., help="BIDS electrodes.tsv, a BIDS session folder, or a FIF with contacts."),
    out: Path | None = typer.Option(None, "--out", help="regions.tsv to write (+ a regions.json sidecar)."),
    atlas: str = typer.Option("desikan_killiany", "--atlas", help="desikan_killiany or aal3."),
    max_distance: float = typer.Option(5.0, "--max-distance", help="Search radius (mm) for the nearest label."),
    trans: Path | None = typer.Option(None, "--trans", help="FIF only: head->MRI -trans.fif."),
    subjects_dir: Path | None = typer.Option(None, "--subjects-dir", help="FIF only: FreeSurfer subjects folder."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing outputs."),
    as_json: bool = typer.Option(False, "--json", help="Print the table and atlas provenance as JSON."),
) -> None:
    """Map every contact to an MNI atlas region (hemisphere, distance to label and scalp, depth class)."""
    from ..atlas import (
        ATLASES,
        DEPTH_RULE,
        PROBABILITY_NOTE,
        list_atlases,
        map_contacts,
    )
    from ..io.electrodes import read_electrodes

    from .._checks import check_option, check_out_path, marker

    if out is None and not as_json:
        raise UsageError("give the 'out' parameter (a regions.tsv) and/or the 'as_json' parameter")
    if out is not None:
        if out.suffix.lower() != ".tsv":  # the .json sidecar is written beside it: never the same file
            raise UsageError(f"Invalid value for the 'out' parameter: must end in .tsv (its .json sidecar is "
                             f"written beside it), but got {str(out)!r} instead.")
        if not out.parent.is_dir():
            raise OutputError("output folder does not exist", out.parent)
        for p, kind in ((out, "regions"), (out.with_suffix(".json"), "json")):
            check_out_path(p, overwrite=overwrite, inputs=(electrodes, trans, subjects_dir), kind=kind)
    check_option("atlas", atlas, tuple(ATLASES))
    el = read_electrodes(electrodes, trans=trans, subjects_dir=subjects_dir)
    df = map_contacts(el.names, el.positions, atlas=atlas, max_distance_mm=max_distance)
    meta = dict(
        source=str(electrodes), atlas=[a for a in list_atlases() if a["name"] == atlas][0],
        max_distance_mm=max_distance, depth_rule=DEPTH_RULE, atlas_probability=PROBABILITY_NOTE,
        coordinates="MNI, mm (x, y, z)", distance_to_scalp="unsigned, mm, to MNE's fsaverage head surface",
        quirks=el.quirks, n_contacts=len(df), n_assigned=int((df["region_key"] != "unknown").sum()),
    )
    rows = json.loads(df.to_json(orient="records"))
    if out is not None:
        side = out.with_suffix(".json")
        write_text_atomic(out, df.to_csv(sep="\t", index=False, na_rep="n/a", float_format="%.2f"))
        write_text_atomic(side, json.dumps({**meta, "written_by": marker("regions")}, indent=2) + "\n")
    if as_json:
        print_json(dict(meta, contacts=rows))
        return
    title = f"{electrodes.name}: {meta['n_assigned']}/{len(df)} contacts within {max_distance:g} mm of a {atlas} region"
    if out is not None:  # the table is in the file; say where, not all of it again
        out_console.print(f"{title}; wrote {out} and {out.with_suffix('.json')}", markup=False)
        for q in el.quirks:
            out_console.print(f"quirk: {q}", markup=False)
        return
    t = Table(title=title)
    for c in ("name", "region", "region_key", "dist label", "dist scalp", "depth"):
        t.add_column(c)
    for r in rows:
        t.add_row(r["name"], r["region"], r["region_key"], str(r["distance_to_label_mm"]),
                  str(r["distance_to_scalp_mm"]), r["depth_class"])
    out_console.print(t)
    for q in el.quirks:
        out_console.print(f"quirk: {q}", markup=False)
