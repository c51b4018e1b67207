"""Channel names: normalization to 10-20/10-10, and channel typing.

Clinical files label the same electrode ``'EEG Fp1-Ref'``, ``'Fp1.'``,
``'FP1'`` or (old nomenclature) ``T3`` for ``T7``. :func:`normalize_ch_name`
maps all of them onto the names of MNE's ``colin27_1005`` montage (the 10-05 system on the MNI Colin27 head), and
:func:`normalize_ch_names` reports every change so that nothing is silent.
"""

from __future__ import annotations

import re
from functools import lru_cache

#: Old 10-20 names -> modern 10-10 names (American Clinical Neurophysiology
#: Society guideline 2006). Applied after case normalization.
OLD_TO_NEW = {"T3": "T7", "T4": "T8", "T5": "P7", "T6": "P8"}

#: The 19 electrodes of the international 10-20 system (modern names).
STANDARD_1020_19 = (
    "Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3", "Cz",
    "C4", "T8", "P7", "P3", "Pz", "P4", "P8", "O1", "O2",
)

#: Ear / mastoid electrodes: recording references, not scalp sites. Calibration leaves
#: them out of a patient model's scalp set, so that the model applies to recordings
#: (10-10 caps, HUP's SEEG files) that have the 10-20 sites but no ear electrodes.
REFERENCE_NAMES = ("A1", "A2", "M1", "M2")

_PREFIX = re.compile(r"^(EEG|EKG|ECG|EMG|EOG|POL|SEEG|ECOG)[\s_\-:]+", re.IGNORECASE)
_SUFFIX = re.compile(r"([\s_\-]*(-?REF|-?AVG|-?LE|-?AR|-?A1A2|-?M1M2)$)|(\.+$)", re.IGNORECASE)


@lru_cache(maxsize=1)
def _standard_names() -> dict[str, str]:
    """Upper-case name -> canonical spelling for every ``colin27_1005`` electrode."""
    import mne

    names = mne.channels.make_standard_montage("colin27_1005").ch_names
    out = {n.upper(): n for n in names}
    # ear / mastoid references are EEG electrodes too, but not on that montage
    out.update({"A1": "A1", "A2": "A2", "M1": "M1", "M2": "M2"})
    return out


def normalize_ch_name(name: str, *, old_to_new: bool = True) -> str:
    """Return the standard 10-05 spelling of a scalp label, or the stripped label.

    Parameters
    ----------
    name : str
        A label as found in a file, e.g. ``'EEG Fp1-Ref'``, ``'Fc5.'``, ``'T3'``.
    old_to_new : bool
        Also map old 10-20 names (T3/T4/T5/T6) to T7/T8/P7/P8.

    Returns
    -------
    str
        The canonical name if the label is a known scalp electrode, else the
        label with whitespace stripped (intracranial contact names are kept).
    """
    raw = name.strip()
    core = strip_label(raw)
    std = _standard_names()
    key = core.upper()
    if key in OLD_TO_NEW and old_to_new:
        return OLD_TO_NEW[key]
    if key in std:
        return std[key]
    return raw


def normalize_ch_names(names: list[str], *, old_to_new: bool = True) -> tuple[list[str], dict[str, str]]:
    """Normalize a list of labels, keeping them unique.

    Parameters
    ----------
    names : list of str
        Labels as found in a file.
    old_to_new : bool
        Map T3/T4/T5/T6 to T7/T8/P7/P8.

    Returns
    -------
    new_names : list of str
        Normalized labels, same order and length.
    renamed : dict
        Original -> new for every label that changed.

    Notes
    -----
    If two labels normalize to the same name (``'Fp1'`` and ``'FP1.'``), the
    second one keeps its original label, so no channel is lost or merged.
    """
    new_names: list[str] = []
    renamed: dict[str, str] = {}
    seen: set[str] = set()
    for n in names:
        cand = normalize_ch_name(n, old_to_new=old_to_new)
        if cand in seen:
            cand = n.strip()
        if cand in seen:
            cand = n
        seen.add(cand)
        new_names.append(cand)
        if cand != n:
            renamed[n] = cand
    return new_names, renamed


def strip_label(name: str) -> str:
    """The label without vendor prefix and reference suffix (``'EEG mAHL1-Ref'`` -> ``'mAHL1'``).

    Parameters
    ----------
    name : str
        A label as found in a file.

    Returns
    -------
    str
        The core label, case kept (for matching contact names to an electrodes file).
    """
    return _SUFFIX.sub("", _PREFIX.sub("", name.strip())).strip()


def is_reference_name(name: str) -> bool:
    """Whether a label names an ear or mastoid reference electrode (:data:`REFERENCE_NAMES`)."""
    return normalize_ch_name(name) in REFERENCE_NAMES


def scalp_1020_name(name: str) -> str | None:
    """The modern name of a 10-20 scalp electrode (the 19, plus A1/A2/M1/M2), whatever the case; else None.

    ``'FP1'`` -> ``'Fp1'``, ``'T3'`` -> ``'T7'``, ``'CZ'`` -> ``'Cz'``; ``'LA1'`` -> None. Used to find scalp
    electrodes stored among intracranial channels (HUP, OpenNeuro ds004100, types them ``SEEG``).
    """
    norm = normalize_ch_name(name)
    return norm if norm in STANDARD_1020_19 or norm in REFERENCE_NAMES else None


def non_contact_type(name: str, declared: str) -> str:
    """The type of a channel declared intracranial whose name is a 10-20 scalp electrode or an ECG lead.

    HUP (OpenNeuro ds004100) stores scalp electrodes (``FP1``, ``CZ``, ``T3``)
    and ``EKG1``/``EKG2`` in its SEEG files, all typed ``SEEG``: by name
    (case-insensitive, old and new 10-20 names, :func:`scalp_1020_name`), they
    are ``'eeg'`` and ``'ecg'``; other channels keep ``declared``.
    """
    if declared not in ("seeg", "ecog", "dbs"):
        return declared
    if re.fullmatch(r"(EKG|ECG)\s*\d*", strip_label(name), re.IGNORECASE):
        return "ecg"
    return "eeg" if scalp_1020_name(name) else declared


def is_scalp_name(name: str) -> bool:
    """Whether a (normalized or raw) label names a standard scalp electrode."""
    return normalize_ch_name(name) in _standard_names().values()


# --------------------------------------------------------------------------
# Channel typing
# --------------------------------------------------------------------------

#: Vendor prefixes that mark a non-contact, non-scalp channel -> MNE type.
#: A label with one of these prefixes is never taken for an intracranial
#: contact (Nihon Kohden's ``'POL E'``, ``'POL PG1'``, ``'ECG ECG1'``...).
VENDOR_PREFIX_TYPES = {
    "POL": "misc", "ECG": "ecg", "EKG": "ecg", "EMG": "emg", "EOG": "eog",
    "SAO2": "misc", "SPO2": "misc", "RESP": "misc", "DC": "misc", "TRIG": "stim",
    "STI": "stim", "STATUS": "stim", "PHOTIC": "stim", "EVENT": "stim",
}
_VENDOR = re.compile(r"^(?P<pfx>[A-Za-z0-9]+)[\s_:]+(?P<rest>\S.*)$")
#: Shape of an intracranial contact label: letters then a contact number
#: (``'mAHL1'``, ``'LA3'``, ``'G12'``, ``'ECOG_RIGHT_0'``).
CONTACT_PATTERN = re.compile(r"^[A-Za-z][A-Za-z_'\-]*?[_\-]?\d{1,3}$")
#: BIDS channels.tsv ``type`` -> MNE channel type.
BIDS_TYPES = {
    "EEG": "eeg", "SEEG": "seeg", "ECOG": "ecog", "DBS": "dbs", "EOG": "eog",
    "HEOG": "eog", "VEOG": "eog", "ECG": "ecg", "EMG": "emg", "MISC": "misc",
    "TRIG": "stim", "REF": "eeg", "AUDIO": "misc", "PD": "misc", "RESP": "misc",
    "SYSCLOCK": "misc", "GSR": "misc", "TEMP": "misc", "PUPIL": "misc",
}

#: The channel-typing rule, in words (used in docs and ``info``).
TYPING_RULE = (
    "1) an explicit ch_types entry wins; 2) else the BIDS channels.tsv type; "
    "3) else a label matching the ieeg_channels regex (``--ieeg-channels``; searched in the original label) is 'seeg'; "
    "4) else a non-EEG type already stored in the file (FIF/BrainVision: ecog, seeg, misc...) is kept; "
    "5) else a standard 10-05 scalp label (after stripping vendor prefix/suffix) is 'eeg'; "
    "6) else a label with a vendor prefix (POL, ECG, EMG, EOG, SaO2, DC...) takes that prefix's type "
    "(POL -> misc), so 'POL E' or 'POL PG1' never become contacts; "
    "7) else a label shaped like a contact (letters + number, e.g. 'mAHL1', 'LA3') is 'seeg'; "
    "8) anything else is 'misc'."
)


def guess_ch_type(name: str, *, file_type: str = "eeg", ieeg_pattern: "re.Pattern[str] | None" = None) -> str:
    """Channel type of one label by :data:`TYPING_RULE` (steps 3-8).

    Parameters
    ----------
    name : str
        Label as found in the file (not normalized).
    file_type : str
        Type the reader (MNE) assigned; EDF readers say ``'eeg'`` for all.
    ieeg_pattern : compiled regex | None
        Labels it matches (``re.search``) are intracranial (``'seeg'``).

    Returns
    -------
    str
        An MNE channel type.
    """
    raw = name.strip()
    if ieeg_pattern is not None and ieeg_pattern.search(raw):
        return "seeg"
    if file_type not in ("eeg",):
        return file_type
    if is_scalp_name(raw):
        return "eeg"
    m = _VENDOR.match(raw)
    if m:
        pfx = m.group("pfx").upper()
        if pfx in VENDOR_PREFIX_TYPES:
            return VENDOR_PREFIX_TYPES[pfx]
        if pfx == "EEG":  # 'EEG X1-Ref': an EEG input that is not a 10-05 site
            return "misc"
    if raw.upper() in VENDOR_PREFIX_TYPES:
        return VENDOR_PREFIX_TYPES[raw.upper()]
    if CONTACT_PATTERN.match(raw):
        return "seeg"
    return "misc"
