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
                   progress: Progress | None = None, jobs: int = 1) -> EvalResult:
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
    jobs : int
        Subjects evaluated at once, each in its own process (1: one after
        the other, in this process). The rows, tables and statistics do not
        depend on it (each subject is computed exactly as with 1; the tables
        keep the subjects' order); the CPUs (:func:`ieegrecon._threads.available_cpus`)
        are shared out between the processes' BLAS pools. Memory grows with it
        (one subject's data and models per process).

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
    if jobs < 1:
        raise UsageError(f"Invalid value for the 'jobs' parameter: must be >= 1, but got {jobs!r} instead.")
    t0 = time.perf_counter()
    frames = []
    for label, (frame, s, n) in _subject_frames(root, subjects, cfg, out, resume, say, jobs):
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


def _subject_frames(root: Path, subjects: dict[str, list[Path]], cfg: EvalConfig, out: Path | None,
                    resume: bool, say: Progress, jobs: int):
    """Yield ``(label, (frame, skipped, notes))`` per subject in ``subjects`` order: reused from ``out``
    with ``resume``, else computed (``jobs`` processes at once) and saved there as soon as it is done."""
    todo: dict[str, list[Path]] = {}
    done = {}
    for label, sessions in subjects.items():
        cached = load_subject_rows(out, label, cfg) if (resume and out is not None) else None
        if cached is not None:
            say(f"sub-{label}: reusing {PER_SUBJECT}/sub-{label}.tsv (resume)")
            done[label] = cached
        else:
            todo[label] = sessions
    if jobs == 1 or len(todo) < 2:
        for label in subjects:
            yield label, done[label] if label in done else _save(out, label, cfg,
                                                                  compute_subject(root, label, todo[label], cfg, say))
        return
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from .._threads import available_cpus

    n = min(jobs, len(todo))
    threads = max(1, available_cpus() // n)
    say(f"evaluating {len(todo)} subjects, {n} at once ({threads} thread(s) each)")
    with ProcessPoolExecutor(n, mp_context=get_context("spawn")) as pool:
        futures = {label: pool.submit(_compute_in_worker, root, label, sessions, cfg, threads)
                   for label, sessions in todo.items()}
        for label in subjects:
            if label not in done:
                result, messages = futures[label].result()
                for msg in messages:
                    say(msg)
                done[label] = _save(out, label, cfg, result)
            yield label, done[label]


def compute_subject(root: Path, label: str, sessions: list[Path], cfg: EvalConfig, say: Progress):
    """One subject's contact rows (a DataFrame), skipped items and notes.

    Parameters
    ----------
    root : Path
        BIDS root.
    label : str
        Subject label without ``sub-``.
    sessions : list of Path
        Its session folders (:func:`~ieegrecon.evaluation.data.discover_subjects`).
    cfg : EvalConfig
    say : callable
        Progress messages.

    Returns
    -------
    frame : pandas.DataFrame
    skipped, notes : list of str
    """
    import pandas as pd

    say(f"sub-{label}: reading {len(sessions)} session(s)")
    sub = load_subject(label, sessions, cfg)
    rows, skipped = evaluate_subject(sub, root, cfg, say)
    return pd.DataFrame(rows), skipped, sub.notes


def _compute_in_worker(root: Path, label: str, sessions: list[Path], cfg: EvalConfig, threads: int):
    """:func:`compute_subject` in a worker process with ``threads`` worker threads; its messages returned."""
    from .._threads import apply_thread_policy

    apply_thread_policy(threads)
    messages: list[str] = []
    return compute_subject(root, label, sessions, cfg, messages.append), messages


def _save(out: Path | None, label: str, cfg: EvalConfig, result):
    """Save one subject's computed rows in ``out`` (for ``resume``); return them."""
    if out is not None:
        save_subject(out, label, cfg, *result)
    return result


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
