"""The leave-one-subject-out run: every subject in turn, the statistics, and the results folder."""

from __future__ import annotations

import time
from pathlib import Path

from .._checks import check_not_input
from ..errors import OutputError, UsageError
from ..ied import K1
from .cache import PER_SUBJECT, load_subject_rows, save_subject
from .config import EvalConfig, EvalResult, Progress, check_config, jsonable
from .data import discover_subjects, load_subject
from .events import IED_TOL_S
from .protocol import PROTOCOL, evaluate_subject
from .regions import region_detail
from .stats import summarize

#: How the IED columns were computed, as ``stats.json`` states it.
IED_NOTE = (f"detector: Janča et al. 2015 (ieegrecon.ied.detect_ieds, k1 = {K1}), run identically on the true "
            f"iEEG (ied_*_ieeg), each surrogate (ied_*) and the scalp alone (ied_*_scalp: scalp events count "
            f"on every contact); a detection matches a ground-truth IED (events.tsv) within {IED_TOL_S} s of "
            "its onset; NaN without ground truth")
#: How ``selected_r`` was computed.
SELECTION_NOTE = ("CAST protocol: contacts with confidence r >= a threshold chosen on the calibration held-out "
                  "predictions (split-half; ieegrecon.evaluation.selection); selected_r = their test r, "
                  "selected_fraction = the fraction selected; threshold per row in selection_threshold")

#: Tables written by :func:`write_results` (``NAME.tsv``), in order.
TABLES = ("contacts", "subjects", "regions", "summary", "by_region")


def run_evaluation(root: str | Path, cfg: EvalConfig, out: str | Path | None = None, *,
                   overwrite: bool = False, report: bool = True, resume: bool = False,
                   progress: Progress | None = None) -> EvalResult:
    """Run the leave-one-subject-out benchmark on a BIDS dataset.

    Parameters
    ----------
    root : path-like
        BIDS root laid out like ds004752 (``sub-XX/ses-YY/{eeg,ieeg}``); scalp
        and iEEG may have different sampling rates (both are resampled to
        ``cfg.prep.sfreq``).
    cfg : EvalConfig
    out : path-like | None
        Results folder: ``contacts.tsv``, ``subjects.tsv``, ``regions.tsv``,
        ``summary.tsv``, ``by_region.tsv``, ``stats.json`` and ``report.html``.
    overwrite : bool
        Replace results in an existing non-empty folder.
    report : bool
        Write the HTML report.
    resume : bool
        Reuse per-subject results in ``out/per_subject/`` computed with the
        same configuration (each subject's rows are saved there as soon as
        it is done), so an interrupted run, or one over a cohort that grows,
        only computes what is missing.
    progress : callable | None
        Called with one-line messages.

    Returns
    -------
    EvalResult

    Raises
    ------
    InputError, UsageError, OutputError
    """
    import pandas as pd

    say = progress or (lambda msg: None)
    root = Path(root)
    check_config(cfg)
    if out is not None:
        out = Path(out)
        _check_out(out, root, cfg, overwrite=overwrite, resume=resume)
    subjects = _select_subjects(root, cfg)
    skipped: list[str] = []
    notes: dict[str, list[str]] = {}
    t0 = time.perf_counter()
    frames = []
    for label, sessions in subjects.items():
        frame, s, n = _subject_frame(root, label, sessions, cfg, out, resume, say)
        frames.append(frame)
        notes[label] = n
        skipped += s
    contacts = pd.concat(frames, ignore_index=True)
    contacts["subject"] = contacts["subject"].astype(str)
    subj, regions, summary, stats = summarize(contacts, cfg)
    stats.update({
        "protocol": PROTOCOL, "config": cfg.to_dict(), "root": str(root), "subjects": sorted(subjects),
        "skipped": skipped, "notes": notes, "elapsed_s": round(time.perf_counter() - t0, 1),
        "metrics": "see ieegrecon.metrics; band-power error is |log10(P_hat/P)| in decades",
        "ieeg_reference": cfg.ieeg_reference, "ied_events": IED_NOTE, "selection": SELECTION_NOTE,
    })
    result = EvalResult(contacts, subj, regions, summary, stats, by_region=region_detail(contacts))
    if out is not None:
        write_results(result, out, report=report)
        result.out = out
    return result


def _check_out(out: Path, root: Path, cfg: EvalConfig, *, overwrite: bool, resume: bool) -> None:
    """Refuse a results folder inside the dataset or a model, or a non-empty one without overwrite/resume."""
    check_not_input(out, (root, *cfg.pretrained.values()))  # never into the dataset or a model
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (overwrite or resume))):
        raise OutputError("results folder exists and is not empty; set the 'overwrite' parameter to replace it",
                          out)


def _select_subjects(root: Path, cfg: EvalConfig) -> dict[str, list[Path]]:
    """The dataset's paired subjects (:func:`discover_subjects`), restricted to ``cfg.subjects``."""
    subjects = discover_subjects(root)
    if cfg.subjects:
        missing = [s for s in cfg.subjects if s not in subjects]
        if missing:
            raise UsageError(f"subjects {missing} not found in {root} (have {sorted(subjects)})")
        subjects = {s: subjects[s] for s in cfg.subjects}
    return subjects


def _subject_frame(root: Path, label: str, sessions: list[Path], cfg: EvalConfig, out: Path | None,
                   resume: bool, say: Progress):
    """One subject's rows, skipped items and notes: reused from ``out`` with ``resume``, else computed
    (and saved there)."""
    import pandas as pd

    cached = load_subject_rows(out, label, cfg) if (resume and out is not None) else None
    if cached is not None:
        say(f"sub-{label}: reusing {PER_SUBJECT}/sub-{label}.tsv (resume)")
        return cached
    say(f"sub-{label}: reading {len(sessions)} session(s)")
    sub = load_subject(label, sessions, cfg)
    rows, skipped = evaluate_subject(sub, root, cfg, say)
    frame, notes = pd.DataFrame(rows), sub.notes
    del sub
    if out is not None:
        save_subject(out, label, cfg, frame, skipped, notes)
    return frame, skipped, notes


def write_results(result: EvalResult, out: Path, *, report: bool = True) -> None:
    """Write the tables (TSV), ``stats.json`` and ``report.html`` atomically, file by file."""
    from ..io.atomic import atomic_path, write_json_atomic
    from .report import write_report

    out.mkdir(parents=True, exist_ok=True)
    for name in TABLES:
        if getattr(result, name) is None:
            continue
        with atomic_path(out / f"{name}.tsv") as tmp:
            getattr(result, name).to_csv(tmp, sep="\t", index=False, na_rep="n/a", float_format="%.6g")
    write_json_atomic(jsonable(result.stats), out / "stats.json")
    if report:
        write_report(result, out / "report.html")
