"""Shared fixtures: paths to the real data and small paired datasets."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

if os.environ.get("PYTEST_XDIST_WORKER"):
    # ``pytest -n N`` runs N workers on the machine's cores: one thread each (torch, BLAS, OpenMP), or
    # every worker's pools spin against the others' (one flow test took 292 s instead of 80 s on 2 cores).
    os.environ.setdefault("IEEGRECON_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

if os.environ.get("PYTEST_XDIST_WORKER"):
    from ieegrecon._threads import apply_thread_policy

    apply_thread_policy()

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
DS004752 = SHARED / "ds004752"
MB0400FU = SHARED / "scalp_eeg" / "MB0400FU.EDF"
EXAMPLES = ROOT / "examples"


def need(path: Path) -> Path:
    """Skip the test (with the reason) when real data are not beside the project."""
    if not path.exists():
        pytest.skip(f"real data not found: {path} (expected ../shared/data beside the project)")
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return need(SHARED)


@pytest.fixture(scope="session")
def mb0400fu() -> Path:
    """The real clinical EDF+D (19 channels, T3..T6 names, 200 Hz, 29 s)."""
    return need(MB0400FU)


def make_linear_bids_session(root: Path, layout_session: Path, *, seconds: float = 150.0, seed: int = 0,
                             n_sources: int = 4) -> Path:
    """A BIDS session with the real sidecars of ``layout_session`` and linear synthetic signals.

    Scalp (200 Hz) and iEEG (2000 Hz) are random linear mixtures of the same
    smooth sources plus noise, so a linear method can be checked against a
    known answer. Not a physical simulation (see ``ieegrecon simulate``).
    """
    from scipy.signal import resample_poly

    import pandas as pd

    from ieegrecon.io.edf import write_edf

    rel = layout_session.relative_to(layout_session.parents[1])
    dst = root / rel
    shutil.copytree(layout_session, dst)
    eeg_ch = pd.read_csv(next((dst / "eeg").glob("*_channels.tsv")), sep="\t")
    ieeg_ch = pd.read_csv(next((dst / "ieeg").glob("*_channels.tsv")), sep="\t")
    rng = np.random.default_rng(seed)
    n = int(seconds * 200)
    src = np.cumsum(rng.normal(size=(n_sources, n)), axis=1)
    src -= np.linspace(src[:, :1], src[:, -1:], n, axis=1)[..., 0]
    src /= src.std(axis=1, keepdims=True)
    scalp = rng.normal(size=(len(eeg_ch), n_sources)) @ src * 10e-6 + 2e-6 * rng.normal(size=(len(eeg_ch), n))
    mix = rng.normal(size=(len(ieeg_ch), n_sources)) @ src
    ieeg = resample_poly(mix, 10, 1, axis=1) * 30e-6 + 10e-6 * rng.normal(size=(len(ieeg_ch), n * 10))
    stem = next((dst / "eeg").glob("*_channels.tsv")).name.replace("_channels.tsv", "")
    write_edf(dst / "eeg" / f"{stem}_eeg.edf", scalp, 200.0, list(eeg_ch["name"]))
    istem = next((dst / "ieeg").glob("*_channels.tsv")).name.replace("_channels.tsv", "")
    write_edf(dst / "ieeg" / f"{istem}_ieeg.edf", ieeg, 2000.0, list(ieeg_ch["name"]))
    return dst


@pytest.fixture(scope="session")
def linear_session(tmp_path_factory) -> Path:
    """ds004752 sub-01 ses-01 layout (19 scalp channels, 48 contacts) with linear signals."""
    return make_linear_bids_session(tmp_path_factory.mktemp("lin19"), need(DS004752 / "sub-01" / "ses-01"))


@pytest.fixture(scope="session")
def linear_session_8ch(tmp_path_factory) -> Path:
    """ds004752 sub-02 ses-01 layout (8 scalp channels F3 F4 C3 C4 O1 O2 A1 A2) with linear signals."""
    return make_linear_bids_session(tmp_path_factory.mktemp("lin8"), need(DS004752 / "sub-02" / "ses-01"),
                                    seed=1)


@pytest.fixture(scope="session")
def cohort(tmp_path_factory) -> Path:
    """A tiny simulated cohort for the evaluation tests: 2 subjects x 2 sessions x 0.5 min on
    ds004752's layouts (seed 11), built once per test session."""
    from ieegrecon.simulate import simulate_dataset

    root = tmp_path_factory.mktemp("evcohort") / "bids"
    simulate_dataset(need(DS004752), root, n_subjects=2, minutes=0.5, seed=11, n_sessions=2)
    return root


@pytest.fixture()
def one_session(cohort: Path, tmp_path: Path) -> Path:
    """``cohort`` without its second sessions and its ground truth."""
    root = tmp_path / "one"
    shutil.copytree(cohort, root, ignore=shutil.ignore_patterns("ses-02", "derivatives"))
    return root
