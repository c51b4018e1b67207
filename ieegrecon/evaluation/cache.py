"""Per-subject results saved as soon as a subject is done, reused by ``resume`` when the settings match.

``OUT/per_subject/sub-XX.tsv`` holds the subject's contact rows and
``sub-XX.json`` the settings key (:func:`cfg_key`), what was skipped and the
notes; a subject whose key differs from the running configuration is
computed again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .config import EvalConfig, jsonable

#: Subfolder of the results folder holding the per-subject files.
PER_SUBJECT = "per_subject"


def cfg_key(cfg: EvalConfig) -> dict[str, Any]:
    """The settings a subject's rows depend on (all but the subject list and the bootstrap size)."""
    d = cfg.to_dict()
    for k in ("subjects", "n_boot"):
        d.pop(k, None)
    return jsonable(d)


def save_subject(out: Path, label: str, cfg: EvalConfig, frame, skipped: list[str], notes: list[str]) -> None:
    """Write one subject's rows (TSV) and its key, skipped items and notes (JSON), atomically."""
    from ..io.atomic import atomic_path, write_json_atomic

    d = Path(out) / PER_SUBJECT
    d.mkdir(parents=True, exist_ok=True)
    with atomic_path(d / f"sub-{label}.tsv") as tmp:
        frame.to_csv(tmp, sep="\t", index=False, na_rep="n/a")
    write_json_atomic({"config": cfg_key(cfg), "skipped": skipped, "notes": notes}, d / f"sub-{label}.json")


def load_subject_rows(out: Path, label: str, cfg: EvalConfig):
    """A subject's saved rows, skipped items and notes, or None when absent or computed with other settings.

    Returns
    -------
    (frame, skipped, notes) : pandas.DataFrame, list of str, list of str; or None
    """
    import pandas as pd

    d = Path(out) / PER_SUBJECT
    tsv, meta = d / f"sub-{label}.tsv", d / f"sub-{label}.json"
    if not (tsv.exists() and meta.exists()):
        return None
    m = json.loads(meta.read_text())
    if m.get("config") != cfg_key(cfg):
        return None
    frame = pd.read_csv(tsv, sep="\t", na_values=["n/a"], keep_default_na=False, dtype={"subject": str})
    frame["confidence_r"] = frame["confidence_r"].astype(float)
    frame["confidence_source"] = frame["confidence_source"].fillna("").astype(str)
    frame["viable"] = frame["viable"].astype(str).str.lower() == "true"
    return frame, m.get("skipped", []), m.get("notes", [])
