"""A synthetic paired segment with a known lagged linear map, shared by the model tests."""

from __future__ import annotations

import numpy as np

from ieegrecon.models import ContactInfo, PairedSegment

NAMES19 = ["Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T3", "C3", "Cz", "C4", "T4", "T5", "P3", "Pz", "P4",
           "T6", "O1", "O2"]


def lagged_segment(seconds=120, lag=3, seed=0, n_contacts=6):
    """19 scalp channels and ``n_contacts`` contacts driven by 5 sources, the contacts ``lag`` samples later."""
    rng = np.random.default_rng(seed)
    n = int(seconds * 200)
    s = rng.normal(size=(5, n))
    x = rng.normal(size=(19, 5)) @ s + 0.5 * rng.normal(size=(19, n))
    y = rng.normal(size=(n_contacts, 5)) @ np.roll(s, lag, axis=1) + 0.5 * rng.normal(size=(n_contacts, n))
    contacts = ContactInfo([f"c{i}" for i in range(n_contacts)], rng.normal(size=(n_contacts, 3)) * 0.03)
    return PairedSegment(x * 1e-5, y * 1e-4, 200.0, NAMES19, contacts)
