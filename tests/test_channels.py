"""Channel-name normalization and channel typing (ieegrecon.channels)."""

from __future__ import annotations

import re

import pytest

from ieegrecon.channels import (
    OLD_TO_NEW,
    REFERENCE_NAMES,
    STANDARD_1020_19,
    TYPING_RULE,
    guess_ch_type,
    is_reference_name,
    is_scalp_name,
    normalize_ch_name,
    normalize_ch_names,
    strip_label,
)


@pytest.mark.parametrize("old,new", sorted(OLD_TO_NEW.items()))
def test_old_names_become_modern(old, new):
    assert normalize_ch_name(old) == new
    assert normalize_ch_name(f"EEG {old}-Ref") == new
    assert normalize_ch_name(old, old_to_new=False) == old


@pytest.mark.parametrize("raw,norm", [("EEG Fp1-Ref", "Fp1"), ("Fc5.", "FC5"), ("C3..", "C3"), ("FP2", "Fp2"),
                                      ("cz", "Cz"), ("EEG A1-Ref", "A1")])
def test_vendor_prefix_suffix_and_case(raw, norm):
    assert normalize_ch_name(raw) == norm


def test_renames_are_reported_and_unique():
    names, renamed = normalize_ch_names(["EEG T3-Ref", "Fp1", "FP1.", "mAHL1"])
    assert names[0] == "T7" and renamed["EEG T3-Ref"] == "T7"
    assert len(set(names)) == 4  # 'FP1.' keeps its label rather than merging with 'Fp1'
    assert "mAHL1" not in renamed and "Fp1" not in renamed


def test_standard_19_are_scalp_names():
    assert all(is_scalp_name(n) for n in STANDARD_1020_19)
    assert not is_scalp_name("mAHL1")


@pytest.mark.parametrize("label,typ", [
    ("POL E", "misc"), ("POL PG1", "misc"), ("POL $A1", "misc"), ("ECG ECG1", "ecg"), ("SaO2 X9", "misc"),
    ("EEG Fp1-Ref", "eeg"), ("T3", "eeg"), ("mAHL1", "seeg"), ("LA3", "seeg"), ("MOV_RIGHT", "misc"),
])
def test_guess_ch_type(label, typ):
    assert guess_ch_type(label) == typ


def test_regex_and_file_type_take_precedence():
    pat = re.compile(r"^G\d+$")
    assert guess_ch_type("G12", ieeg_pattern=pat) == "seeg"
    assert guess_ch_type("Cz", file_type="ecog") == "ecog"  # a type stored in the file wins
    assert "POL" in TYPING_RULE


@pytest.mark.parametrize("raw,core", [("EEG mAHL1-Ref", "mAHL1"), ("POL LA3", "LA3"), ("Fc5.", "Fc5"),
                                      (" RAFa1 ", "RAFa1")])
def test_strip_label_keeps_case_of_contact_names(raw, core):
    assert strip_label(raw) == core


def test_reference_names_are_ear_and_mastoid_electrodes():
    assert all(is_reference_name(n) for n in ("A1", "EEG A2-Ref", "m1", "M2"))
    assert not any(is_reference_name(n) for n in ("Fp1", "T7", "TP9", "mAHL1"))
    assert set(REFERENCE_NAMES) == {"A1", "A2", "M1", "M2"}
