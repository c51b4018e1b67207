"""A tiny simulated cohort shared by the evaluation test files (simulated once per test session)."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import DS004752, need

_COHORTS: dict[str, Path] = {}


def sim_cohort(tmp_path_factory) -> Path:
    """2 subjects x 2 sessions x 0.5 min simulated on ds004752's layouts (seed 11), built once per session."""
    key = str(tmp_path_factory.getbasetemp())
    if key not in _COHORTS:
        from ieegrecon.simulate import simulate_dataset

        root = tmp_path_factory.mktemp("evcohort") / "bids"
        simulate_dataset(need(DS004752), root, n_subjects=2, minutes=0.5, seed=11, n_sessions=2)
        _COHORTS[key] = root
    return _COHORTS[key]


def one_session_copy(cohort: Path, dst: Path) -> Path:
    """``cohort`` without its second sessions and its ground truth."""
    root = dst / "one"
    shutil.copytree(cohort, root, ignore=shutil.ignore_patterns("ses-02", "derivatives"))
    return root
