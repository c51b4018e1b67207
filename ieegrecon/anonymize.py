"""Strip free text from annotations before they leave with a surrogate (``anonymize=True``).

Clinical annotations are free text typed at the bedside and often hold the
patient's name, birth date or record number ("Pt John Doe DOB 23.07.1961").
With ``anonymize=True`` (``reconstruct --anonymize``) every input annotation keeps its onset and
duration, but its text is replaced by the allow-listed event words it
contains (:data:`EVENT_WORDS`, matched as whole words, case-insensitively,
written in the list's spelling, in order of appearance), or by
:data:`REDACTED` when it contains none. Nothing else of the text survives:
"MRN-4711-0815 seizure" becomes "seizure". Annotations are kept rather than
dropped so that the timing of clinical events stays with the surrogate.
"""

from __future__ import annotations

import re

#: Event words and phrases that may survive anonymization (EEG event vocabulary; EDF+ sleep-stage
#: texts; the marks ieegrecon writes itself). Matched whole-word, case-insensitively.
EVENT_WORDS = (
    "SEIZURE_ONSET", "SEIZURE_END", "SEIZURE_OFFSET", "seizure onset", "seizure end", "seizure", "onset",
    "offset", "aura", "spike", "sharp wave", "spike-wave", "spike and wave", "IED", "interictal", "ictal",
    "postictal", "Sleep stage W", "Sleep stage N1", "Sleep stage N2", "Sleep stage N3", "Sleep stage R",
    "Sleep stage ?", "N1", "N2", "N3", "REM", "awake", "asleep", "sleep", "arousal",
    "eyes open", "eyes closed", "eyes opened", "photic", "photic stimulation", "hyperventilation", "HV",
    "post HV", "artifact", "artefact", "movement", "muscle", "electrode", "impedance", "calibration",
    "start", "end", "stop", "pause", "resume", "recording start", "recording end",
    "SURROGATE", "GAP", "PADDING", "CLIPPED", "SIMULATED",
)
#: Text that replaces an annotation holding no allow-listed word.
REDACTED = "ANNOTATION"

# longest phrases first, so "seizure onset" wins over "seizure"
_PATTERN = re.compile(
    r"(?<![A-Za-z0-9_])(" + "|".join(re.escape(w) for w in sorted(EVENT_WORDS, key=len, reverse=True))
    + r")(?![A-Za-z0-9_])",
    re.IGNORECASE,
)
_CANON = {w.lower(): w for w in EVENT_WORDS}


def anonymize_text(text: str) -> str:
    """An annotation text reduced to its allow-listed event words.

    Parameters
    ----------
    text : str
        The annotation as written in the input.

    Returns
    -------
    str
        The allow-listed words and phrases found in ``text`` (list spelling,
        order of appearance, joined by spaces), or :data:`REDACTED`.

    Examples
    --------
    >>> anonymize_text("MRN-4711-0815 seizure")
    'seizure'
    >>> anonymize_text("Pt John Doe DOB 23.07.1961")
    'ANNOTATION'
    """
    found = [_CANON[m.group(1).lower()] for m in _PATTERN.finditer(text)]
    return " ".join(found) if found else REDACTED


#: An absolute path inside free text (POSIX or Windows), up to the next blank, quote, bracket or separator.
_ABS_PATH = re.compile(r"(?<![\w.~/<-])(?:[A-Za-z]:[\\/]|/)(?:[^\s/\\'\"<>,;()\[\]]+[\\/])*[^\s/\\'\"<>,;()\[\]]+")


def _short(match: re.Match) -> str:
    parts = [p for p in re.split(r"[\\/]", match.group(0)) if p and not p.endswith(":")]
    return "/".join(parts[-2:]) if parts[-1].startswith("ses-") and len(parts) > 1 else parts[-1]


def strip_paths(obj):
    """``obj`` (str, or lists/dicts of them) with every absolute path reduced to its last part.

    A BIDS session path keeps its last two parts (``sub-XX/ses-YY``). Model
    provenance and reports travel with the surrogate; the folders of whoever
    trained, calibrated or ran the model (user names, patient folders) must not.
    """
    if isinstance(obj, str):
        return _ABS_PATH.sub(_short, obj)
    if isinstance(obj, dict):
        return {k: strip_paths(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strip_paths(v) for v in obj]
    return obj
