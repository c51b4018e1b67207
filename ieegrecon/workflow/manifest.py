"""The batch manifest: which recordings an archive run reconstructs, and where each one stands.

Two files, both in the batch's output folder:

- ``batch_manifest.tsv``: one row per input (:data:`COLUMNS`): input, output
  EDF, report folder, the input's sha256, the patient model's weights sha256,
  ``status`` (``pending``, ``done``, ``failed``), the exit code and one-line
  error of a failure, the seconds it took and the output's sha256. Rewritten
  atomically (:func:`write_state`) when a run starts and when it ends.
- ``.batch_journal.jsonl``: one JSON line appended (and fsynced) per finished
  task while a run goes (:func:`append_journal`), so that a run killed at any
  moment loses no finished task; :func:`read_state` replays it over the TSV.

A rerun reconstructs only what is not finished (:func:`needs_run`).
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Iterator

from ..errors import InputError
from ..io.atomic import output_errors, write_text_atomic

#: The state of an archive run, in its output folder.
STATE_NAME = "batch_manifest.tsv"
#: Finished tasks of the run in progress (replayed over the state by a rerun).
JOURNAL_NAME = ".batch_journal.jsonl"
#: The run's summary (counts, worst exit code, failures).
SUMMARY_NAME = "batch_summary.json"
#: Columns a user's input manifest may have (``input`` is required; paths relative to the manifest's folder).
INPUT_COLUMNS = ("input", "output", "report")


@dataclass
class Task:
    """One recording of the archive and where it stands (a row of ``batch_manifest.tsv``).

    Attributes
    ----------
    input : str
        The scalp EEG file (absolute path).
    output : str
        The surrogate EDF to write (absolute path).
    report : str
        The report folder ('' for none).
    input_sha256, model_sha256, output_sha256 : str
        Of the input file, of the patient model's weights, of the output EDF ('' when unknown).
    status : str
        ``pending``, ``done`` or ``failed``.
    exit_code : int
        0, or the exit code of the failure (``ieegrecon.errors``; 1 for an internal error).
    error : str
        The failure's one-line message.
    seconds : float
        Wall-clock time of the task, in s.
    """

    input: str
    output: str
    report: str = ""
    input_sha256: str = ""
    model_sha256: str = ""
    status: str = "pending"
    exit_code: int = 0
    error: str = ""
    seconds: float = 0.0
    output_sha256: str = ""

    def update(self, result: dict[str, Any]) -> None:
        """Take over the fields a task's result carries."""
        for f in fields(self):
            if f.name in result:
                setattr(self, f.name, result[f.name])


#: Columns of ``batch_manifest.tsv``, in order.
COLUMNS = tuple(f.name for f in fields(Task))


def read_inputs(manifest: str | Path) -> list[dict[str, str]]:
    """Read a user's input manifest: a TSV whose header names ``input`` (and optionally ``output``, ``report``).

    Blank lines and lines starting with ``#`` are ignored; relative paths are
    taken relative to the manifest's folder. A ``batch_manifest.tsv`` written
    by a previous run is a valid input manifest too.

    Returns
    -------
    rows : list of dict
        ``{'input': str, 'output': str, 'report': str}`` (absolute paths; '' when not given).

    Raises
    ------
    InputError
        Unreadable file, no ``input`` column, or no row.
    """
    manifest = Path(manifest)
    try:
        text = manifest.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the manifest: {exc.strerror or exc}", manifest) from None
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    reader = csv.DictReader(lines, delimiter="\t")
    if "input" not in (reader.fieldnames or []):
        raise InputError("a manifest is a TSV whose header has an 'input' column "
                         f"(and optionally {', '.join(repr(c) for c in INPUT_COLUMNS[1:])})", manifest)
    base = manifest.resolve().parent
    rows = []
    for k, row in enumerate(reader, start=2):
        if not (row.get("input") or "").strip():
            raise InputError(f"row {k} has no input", manifest)
        rows.append({c: str(base / row[c].strip()) if (row.get(c) or "").strip() else "" for c in INPUT_COLUMNS})
    if not rows:
        raise InputError("the manifest lists no input", manifest)
    return rows


def read_state(folder: str | Path) -> dict[str, Task]:
    """The tasks recorded in ``folder`` by previous runs (TSV, then the journal replayed over it), by input.

    A missing or unreadable state is empty (everything is then to do); a
    journal line cut short by a kill is ignored.
    """
    folder = Path(folder)
    tasks: dict[str, Task] = {}
    try:
        with open(folder / STATE_NAME, encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                task = _task(row)
                if task is not None:
                    tasks[task.input] = task
    except (OSError, csv.Error):
        pass
    for rec in _journal(folder / JOURNAL_NAME):
        task = _task(rec)
        if task is not None:
            tasks[task.input] = task
    return tasks


def _task(row: dict[str, Any]) -> Task | None:
    """A Task from a TSV row or journal record (None when malformed)."""
    try:
        kw = {c: row[c] for c in COLUMNS}
        kw["exit_code"] = int(kw["exit_code"])
        kw["seconds"] = float(kw["seconds"])
        return Task(**{k: v if k in ("exit_code", "seconds") else str(v) for k, v in kw.items()})
    except (KeyError, TypeError, ValueError):
        return None


def _journal(path: Path) -> Iterator[dict[str, Any]]:
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        return
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:  # a line cut short by a kill
            continue
        if isinstance(rec, dict):
            yield rec


def write_state(folder: str | Path, tasks: list[Task]) -> Path:
    """Write ``batch_manifest.tsv`` atomically (one line per task; tabs and newlines in errors become spaces)."""
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter="\t", lineterminator="\n")
    writer.writerow(COLUMNS)
    for t in tasks:
        writer.writerow([" ".join(str(v).split()) if isinstance(v, str) else v for v in asdict(t).values()])
    path = Path(folder) / STATE_NAME
    write_text_atomic(path, buf.getvalue(), overwrite=True)
    return path


def append_journal(folder: str | Path, task: Task) -> None:
    """Append one finished task to the journal and fsync it (a kill after this loses nothing)."""
    path = Path(folder) / JOURNAL_NAME
    with output_errors(path), open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(asdict(task), allow_nan=False) + "\n")
        f.flush()
        os.fsync(f.fileno())


def clear_journal(folder: str | Path) -> None:
    """Remove the journal once the TSV holds everything it said."""
    try:
        (Path(folder) / JOURNAL_NAME).unlink()
    except FileNotFoundError:
        pass


def needs_run(task: Task, old: Task | None, input_sha256: str | None, output_sha256: str | None,
              report_done: bool) -> bool:
    """Whether ``task`` must be (re)done, given what a previous run recorded for its input.

    A task is finished, and skipped, when the previous run recorded it
    ``done`` for the same output, report and model, the input's sha256 is
    unchanged, the output still has the recorded sha256 and the report (if
    any) is still there. Failed and pending tasks are always retried.
    """
    if old is None or old.status != "done":
        return True
    same = (old.output, old.report, old.model_sha256) == (task.output, task.report, task.model_sha256)
    return not (same and input_sha256 == old.input_sha256 and output_sha256 == old.output_sha256 and report_done)
