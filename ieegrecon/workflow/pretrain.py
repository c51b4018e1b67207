"""Cross-subject training: load a cohort of paired BIDS sessions, pretrain, run LOSO.

``ieegrecon pretrain`` is a thin CLI over :func:`pretrain_cohort`. Works the
same on simulated cohorts (``ieegrecon simulate``) and on real datasets laid
out like OpenNeuro ds004752 (scalp EEG and iEEG in one session, any rates),
in one process or in several under ``torchrun`` (docs/scale-out.md).
"""

from __future__ import annotations

import datetime as _dt
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from .. import __version__
from ..errors import InputError, UsageError
from ..io.atomic import atomic_dir, write_json_atomic, write_text_atomic
from ..models.base import PairedSegment, ReconModel, get_model_class
from ..metrics import pearson_r
from ..preprocessing import Preprocessing

Say = Callable[[str], None]


@dataclass
class Cohort:
    """Paired sessions of many subjects, preprocessed to one rate."""

    segments: list[PairedSegment]
    sessions: list[str]
    simulated: bool
    roots: list[str]
    quirks: list[str] = field(default_factory=list)

    @property
    def subjects(self) -> list[str]:
        """Subject labels, in first-seen order."""
        return list(dict.fromkeys(s.subject for s in self.segments))


def load_cohort(roots: list[str | Path], *, prep: Preprocessing = Preprocessing(), max_minutes: float | None = None,
                atlas: str = "desikan_killiany", say: Say | None = None) -> Cohort:
    """Read every paired session under BIDS ``roots``.

    Parameters
    ----------
    roots : list of path-like
        BIDS roots (or session folders).
    prep : Preprocessing
        Applied to scalp EEG and iEEG alike.
    max_minutes : float | None
        Use at most this many minutes of each session.
    atlas : str
        Atlas for contact regions.
    say : callable | None
        Progress messages.

    Returns
    -------
    Cohort

    Raises
    ------
    InputError
        When no paired session is found.
    """
    from ..io.bids import find_sessions
    from .inputs import contact_info, is_simulated, load_paired_recordings, make_segment, map_regions

    say = say or (lambda m: None)
    segments, names, quirks = [], [], []
    simulated = False
    for root in roots:
        for ses in find_sessions(root):
            try:
                scalp, intra = load_paired_recordings(ses)
            except InputError as err:
                quirks.append(f"skipped {ses}: {err.message}")
                continue
            seg = make_segment(scalp, intra, contact_info(intra, map_regions(intra, atlas)), prep,
                               subject=_subject_of(ses))
            if max_minutes is not None:
                seg = seg.crop_samples(0, min(seg.scalp.shape[1], int(max_minutes * 60 * prep.sfreq)))
            simulated |= is_simulated(scalp) or is_simulated(intra)
            segments.append(seg)
            names.append(_session_label(ses))  # sub-XX/ses-YY: no directory of this machine
            say(f"loaded {ses} ({seg.scalp.shape[1] / prep.sfreq / 60:.1f} min, {len(seg.scalp_names)} scalp, "
                f"{len(seg.contacts.ch_names)} contacts)")
    if not segments:
        raise InputError("no paired scalp EEG + iEEG session found", ", ".join(map(str, roots)))
    return Cohort(segments, names, simulated, [Path(r).resolve().name for r in roots], quirks)


def _session_label(session: Path) -> str:
    """``sub-XX/ses-YY`` of a BIDS session folder (its name when it has no ``sub-`` part)."""
    parts = Path(session).parts
    first = next((i for i, p in enumerate(parts) if p.startswith("sub-")), len(parts) - 1)
    return "/".join(parts[first:])


def _subject_of(session: Path) -> str:
    for part in reversed(Path(session).parts):
        if part.startswith("sub-"):
            return part
    return Path(session).name


def zero_shot_r(model: ReconModel, seg: PairedSegment) -> np.ndarray:
    """Per-contact Pearson r of a pretrained model decoding ``seg``'s contacts without calibration."""
    model.set_targets(seg.contacts, scalp_names=seg.scalp_names)  # type: ignore[attr-defined]
    return pearson_r(seg.ieeg, model.predict(seg.scalp))


def pretrain_cohort(roots: list[str | Path], out: str | Path, *, method: str = "cast", loso: bool = False,
                    epochs: int = 20, seed: int = 0, device: str | None = None, max_minutes: float | None = None,
                    windows_per_epoch: int | None = None,
                    params: dict[str, Any] | None = None, overwrite: bool = False, say: Say | None = None,
                    command: str | None = None) -> dict[str, Any]:
    """Pretrain a cross-subject model; optionally leave-one-subject-out first.

    With ``loso``, each subject in turn is held out: a model is pretrained
    on the others and written to ``out/folds/fold-<subject>/``, and its
    zero-shot per-contact r on the held-out subject is recorded. The final
    model, trained on every subject, is written to ``out/`` with a
    ``MODEL_CARD.md`` that states the data, the command and the LOSO results.

    Under ``torchrun`` (``WORLD_SIZE`` > 1 in the environment) every process
    runs this function: they join one process group
    (:func:`~ieegrecon.models.training.distributed`: gloo on the CPU, nccl on
    CUDA), each trains on its shard of the subjects with
    DistributedDataParallel, and only rank 0 speaks (``say``) and writes
    ``out`` (atomically, as in one process); the other ranks write nothing.

    Parameters
    ----------
    roots : list of path-like
        BIDS roots with paired sessions.
    out : path-like
        Model folder.
    method : str
        A method with ``supports_pretrain`` (``'cast'``); in a distributed run, one that
        also has ``supports_distributed``.
    loso : bool
        Run leave-one-subject-out folds.
    epochs, seed, device
        Training settings.
    max_minutes : float | None
        Minutes per session to use.
    windows_per_epoch : int | None
        Training windows drawn per epoch (None: all).
    params : dict | None
        Constructor parameters of the model.
    overwrite : bool
        Replace an existing model folder.
    say : callable | None
        Progress messages.
    command : str | None
        The command line to record in the model card.

    Returns
    -------
    dict
        Summary (also written as ``out/pretrain.json``; ``distributed`` names the
        number of processes and the backend of a distributed run).

    Raises
    ------
    UsageError, InputError, OutputError
    """
    from .._checks import check_out_path
    from ..models.training import distributed

    with distributed(device) as (rank, world, device):
        say = (say or (lambda m: None)) if rank == 0 else (lambda m: None)
        out = check_out_path(out, overwrite=overwrite, inputs=roots, kind="model")
        cls = get_model_class(method)
        if not cls.supports_pretrain:
            raise UsageError(f"method {method!r} has no cross-subject pretraining")
        if world > 1 and not cls.supports_distributed:
            raise UsageError(f"method {method!r} has no distributed pretraining; run it in one process")
        # everything is built in a temporary folder beside out, published whole (the old model kept until then)
        with _output_folder(out, overwrite, rank) as work:
            summary = _pretrain_into(work, roots, method=method, loso=loso, epochs=epochs, seed=seed, device=device,
                                     max_minutes=max_minutes, windows_per_epoch=windows_per_epoch, params=params,
                                     say=say, command=command, world=world)
    return summary


@contextmanager
def _output_folder(out: Path, overwrite: bool, rank: int) -> Iterator[Path]:
    """Rank 0: the atomic model folder beside ``out``; other ranks: a private temporary folder, discarded."""
    from .._checks import check_own_model

    if rank == 0:
        with atomic_dir(out, overwrite=overwrite, check=check_own_model) as work:
            yield work
    else:
        with tempfile.TemporaryDirectory(prefix=f"ieegrecon-rank{rank}-") as tmp:
            yield Path(tmp)


def _pretrain_into(work: Path, roots: list[str | Path], *, method: str, loso: bool, epochs: int, seed: int,
                   device: str | None, max_minutes: float | None, windows_per_epoch: int | None,
                   params: dict[str, Any] | None, say: Say, command: str | None, world: int) -> dict[str, Any]:
    """Load the cohort, run the LOSO folds and the final pretraining, write everything into ``work``."""
    from ..models.io import save_model

    cls = get_model_class(method)
    prep = Preprocessing()
    cohort = load_cohort(roots, prep=prep, max_minutes=max_minutes, say=say)
    subjects = cohort.subjects
    if loso and len(subjects) < 2:
        raise UsageError(f"the 'loso' parameter needs at least 2 subjects, found {len(subjects)}")
    described = {
        "simulated": cohort.simulated,
        "description": (f"{len(cohort.segments)} paired sessions of {len(subjects)} subjects "
                        f"({'SIMULATED by ieegrecon simulate' if cohort.simulated else 'real recordings'}) "
                        f"from {', '.join(cohort.roots)}"),
        "subjects": subjects,
        "sessions": cohort.sessions,
        "max_minutes_per_session": max_minutes,
    }
    train_kw = dict(epochs=epochs, seed=seed, device=device, max_windows_per_epoch=windows_per_epoch,
                    progress=_epoch_say(say))
    folds = loso_folds(cohort, described, work / "folds", method=method, params=params, say=say,
                       **train_kw) if loso else []
    say(f"pretraining on all {len(subjects)} subjects" + (f" in {world} processes" if world > 1 else ""))
    model = cls(**(params or {}))
    info = _pretrain(model, cohort.segments, **train_kw)
    model.trained_on = {"pretrain": described}
    summary = {
        "ieegrecon_version": __version__,
        "method": method,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": command or " ".join(sys.argv),
        "epochs": epochs,
        "windows_per_epoch": windows_per_epoch,
        "seed": seed,
        "data": described,
        "pretrain": _jsonable(info),
        "loso": folds,
        "quirks": cohort.quirks,
    }
    if world > 1:
        import torch.distributed as dist

        summary["distributed"] = {"world_size": world, "backend": dist.get_backend()}
    save_model(model, work, overwrite=True, kind="pretrained-model",
               extra={"pretrain": summary["pretrain"], "loso": folds})
    write_json_atomic(summary, work / "pretrain.json")
    write_text_atomic(work / "MODEL_CARD.md", model_card(summary, model))
    return summary


def loso_folds(cohort: Cohort, described: dict[str, Any], folder: Path, *, method: str,
               params: dict[str, Any] | None, say: Say, **train_kw: Any) -> list[dict[str, Any]]:
    """Leave-one-subject-out: pretrain without each subject, save the fold model, measure zero-shot r on it.

    Returns
    -------
    list of dict
        One per held-out subject: ``held_out``, ``n_contacts``, ``mean_r`` (and by depth class; None for
        methods without zero-shot decoding, with a ``note``).
    """
    from ..models.io import save_model

    cls = get_model_class(method)
    subjects = cohort.subjects
    folds = []
    for k, subj in enumerate(subjects):
        say(f"LOSO fold {k + 1}/{len(subjects)}: holding out {subj}")
        train = [s for s in cohort.segments if s.subject != subj]
        test = [s for s in cohort.segments if s.subject == subj]
        model = cls(**(params or {}))
        info = _pretrain(model, train, **train_kw)
        model.trained_on = {"pretrain": {**described, "subjects": [s for s in subjects if s != subj],
                                         "held_out": subj}}
        save_model(model, folder / f"fold-{subj}", overwrite=True,
                   extra={"pretrain": _jsonable(info), "held_out": subj})
        if not model.supports_zero_shot:
            folds.append({"held_out": subj, "n_contacts": sum(len(s.contacts.ch_names) for s in test),
                          "mean_r": None, "mean_r_superficial": None, "mean_r_deep": None,
                          "note": f"{method} has no zero-shot decoding; fold model saved for calibration"})
            continue
        r_all = np.concatenate([zero_shot_r(model, seg) for seg in test])
        depth = np.concatenate([np.array(seg.contacts.depth_class) for seg in test])
        folds.append({"held_out": subj, "n_contacts": int(r_all.size),
                      "mean_r": float(np.nanmean(r_all)),
                      "mean_r_superficial": _nanmean(r_all[depth == "superficial"]),
                      "mean_r_deep": _nanmean(r_all[depth == "deep"])})
        say(f"  zero-shot mean r on {subj}: {folds[-1]['mean_r']:.3f}")
    return folds


def _pretrain(model: ReconModel, segments: list[PairedSegment], **kwargs: Any) -> dict[str, Any]:
    """Call ``model.pretrain`` with the keyword arguments its method accepts (device is optional)."""
    import inspect

    accepted = inspect.signature(model.pretrain).parameters
    optional = ("device", "max_windows_per_epoch", "progress")
    return model.pretrain(segments, **{k: v for k, v in kwargs.items() if k in accepted or k not in optional})


def _epoch_say(say: Say) -> Callable[[int, float, float], None]:
    return lambda ep, tr, va: say(f"  epoch {ep + 1}: train loss {tr:.4f}, validation loss {va:.4f}")


def _nanmean(x: np.ndarray) -> float | None:
    return float(np.nanmean(x)) if x.size and np.isfinite(x).any() else None


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        return None if not np.isfinite(obj) else float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def model_card(summary: dict[str, Any], model: ReconModel) -> str:
    """A MODEL_CARD.md: data, command, architecture, LOSO results, limits."""
    d = summary["data"]
    lines = [
        f"# {summary['method']} model card",
        "",
        f"- ieegrecon {summary['ieegrecon_version']}, created {summary['created']}",
        f"- **Training data: {d['description']}.**",
    ]
    if d["simulated"]:
        lines.append("- The training data are **SIMULATED** (TVB neural-mass digital twins on real ds004752 "
                     "electrode layouts, see docs/simulation.md). Nothing here was learned from real iEEG.")
    lines += [
        f"- Subjects: {', '.join(d['subjects'])}",
        f"- Minutes per session used: {d['max_minutes_per_session'] or 'all'}",
        (f"- Epochs (max): {summary['epochs']}, windows per epoch: {summary.get('windows_per_epoch') or 'all'}, "
         f"seed: {summary['seed']}" if getattr(model, "net", None) is not None else
         "- Fitted in closed form (no epochs, no random seed)"),
        f"- Architecture: `{model.get_params()}`",
    ]
    prior = (summary.get("pretrain") or {}).get("lag_prior") or {}
    if prior.get("used"):
        lines.append(f"- Calibration lag prior: pooled from {prior['filters']} within-subject ridge filters of "
                     f"{prior['segments']} training sessions (first {prior['minutes_per_segment']:g} min of each; "
                     "docs/cast.md)")
    lines += [
        "",
        "## Command",
        "",
        "```bash",
        summary["command"],
        "```",
        "",
    ]
    if summary["loso"]:
        lines += ["## Leave-one-subject-out, zero-shot (no calibration), mean per-contact Pearson r", "",
                  "| held-out subject | contacts | all | superficial | deep |", "|---|---|---|---|---|"]
        for f in summary["loso"]:
            lines.append(f"| {f['held_out']} | {f['n_contacts']} | {_fmt(f['mean_r'])} | "
                         f"{_fmt(f['mean_r_superficial'])} | {_fmt(f['mean_r_deep'])} |")
        m = np.array([f["mean_r"] for f in summary["loso"] if f["mean_r"] is not None])
        if m.size:
            lines += ["", f"Mean over folds: {m.mean():.3f} ± {m.std(ddof=1) if len(m) > 1 else 0:.3f} (SD).", ""]
    lines += ["## Limits", "",
              "- Surrogates from this model are estimates, not recordings; read the per-region reliability "
              "in each reconstruction's report.",
              f"- Calibrate on the patient (`ieegrecon calibrate --method {summary['method']} --model ...`) before "
              "relying on it.",
              ""]
    return "\n".join(lines)


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3f}"
