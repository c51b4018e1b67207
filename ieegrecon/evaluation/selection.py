"""CAST's protocol: contacts selected by their calibration r, the threshold chosen on calibration data.

CAST (Pham & Tran 2026, arXiv:2605.18897) reports its mean r "with a channel
selection strategy": only contacts the calibration says are reconstructed
well. Here the selection uses nothing but the calibration session's held-out
predictions (:func:`ieegrecon.workflow.confidence.held_out`: the tail after
the M minutes, or blocked 5-fold CV within them), so the test r of the
selected contacts (``selected_r``) is an honest figure.

The threshold τ is chosen from :data:`THRESHOLDS` by split-half validation
on those held-out predictions. Maximising the mean r of the selected
contacts alone would pick the single best contact, so the objective is the
summed excess of held-out r over the usefulness level ``level`` (the
"viable" level, 0.3 by default) of the contacts selected:

    J(τ) = Σ_{c: r_A(c) ≥ τ} (r_B(c) − level) + Σ_{c: r_B(c) ≥ τ} (r_A(c) − level)

with r_A, r_B the contacts' r on the first and second half (in time) of the
held-out samples: a contact is worth selecting when its r on the *other*
half is above the level, which corrects the threshold for the noise of a
short calibration (selection on noisy r picks lucky contacts). The smallest
τ of the largest J wins; when no τ has J > 0 nothing is selected.
Contacts are then selected when their confidence (held-out r over all the
held-out samples) is ≥ τ.
"""

from __future__ import annotations

import numpy as np

from ..metrics import pearson_r

#: Candidate thresholds of the calibration r.
THRESHOLDS = np.round(np.arange(0.0, 0.801, 0.05), 2)


def selection_threshold(y: np.ndarray, y_hat: np.ndarray, level: float) -> float:
    """The selection threshold τ from held-out calibration predictions (see the module's rule).

    Parameters
    ----------
    y, y_hat : ndarray, shape (n_channels, n_times)
        Held-out calibration targets and their reconstruction (V), in the
        montage being scored.
    level : float
        Usefulness level of r.

    Returns
    -------
    float
        τ, or ``inf`` when no threshold selects contacts worth selecting.
    """
    half = y.shape[1] // 2
    if half < 2:
        return float("inf")
    ra = np.nan_to_num(pearson_r(y[:, :half], y_hat[:, :half]), nan=-1.0)
    rb = np.nan_to_num(pearson_r(y[:, half:], y_hat[:, half:]), nan=-1.0)
    gain = np.array([((rb - level) * (ra >= t)).sum() + ((ra - level) * (rb >= t)).sum() for t in THRESHOLDS])
    k = int(np.argmax(gain))
    return float(THRESHOLDS[k]) if gain[k] > 0 else float("inf")


def selection_columns(r: np.ndarray, confidence: np.ndarray | None, threshold: float | None
                      ) -> dict[str, np.ndarray]:
    """``selected_r`` (test r where selected, NaN elsewhere) and ``selected_fraction`` (1/0) per contact.

    Both NaN for rows without a confidence (ceilings).
    """
    n = len(r)
    if confidence is None or threshold is None:
        return {"selected_r": np.full(n, np.nan), "selected_fraction": np.full(n, np.nan)}
    sel = np.nan_to_num(np.asarray(confidence, float), nan=-np.inf) >= threshold
    return {"selected_r": np.where(sel, r, np.nan), "selected_fraction": sel.astype(float)}
