"""The EDF/BDF header check (ieegrecon/io/edf_header.py), stage by stage, called directly.

End to end (``read_recording``, ``info``, ``reconstruct``) every header case is in
tests/test_broken_inputs.py; random header fields in tests/test_hypothesis_edf.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ieegrecon.errors import InputError
from ieegrecon.io.edf import write_edf
from ieegrecon.io.edf_header import check_edf_header, control_characters, edf_kind, signal_field_spans

NAMES = ["Fp1", "Fp2", "C3"]


@pytest.fixture()
def edf(tmp_path) -> Path:
    p = tmp_path / "x.edf"
    write_edf(p, np.random.default_rng(0).normal(0, 20e-6, (3, 2000)), 200.0, NAMES)
    return p


def _patch(path: Path, offset: int, text: str, width: int) -> Path:
    b = bytearray(path.read_bytes())
    b[offset:offset + width] = text.ljust(width).encode("latin-1")
    path.write_bytes(bytes(b))
    return path


def _signal_offset(path: Path, field: int, i: int) -> tuple[int, int]:
    """(offset, width) of the ``field``-th per-signal field (0: label ... 8: samples per record) of signal ``i``."""
    head = path.read_bytes()
    ns = int(head[252:256])
    return signal_field_spans(head)[field * ns + i]


def test_a_valid_file_has_no_quirk(edf):
    assert check_edf_header(edf) == []


def test_kind_and_labels_helpers():
    assert edf_kind(b"\xffBIOSEMI") == "BDF" and edf_kind(b"0       ") == "EDF"
    assert control_characters("A\x00B\x7f") == ["'\\x00'", "'\\x7f'"] and control_characters("Fp1") == []


def test_fixed_header_stage(edf):
    _patch(edf, 184, "512", 8)
    with pytest.raises(InputError, match=r"number of header bytes is 512, but 4 signals need 256 \* \(4 \+ 1\)"):
        check_edf_header(edf)


def test_signal_stage_digital_range(edf):
    off, width = _signal_offset(edf, 6, 0)  # digital maximum of signal 1
    _patch(edf, off, "99999", width)
    with pytest.raises(InputError, match=r"signal 1 \('Fp1'\) digital range \[-32768, 99999\] exceeds the EDF"):
        check_edf_header(edf)


def test_label_stage_duplicates_after_normalization(edf):
    off, width = _signal_offset(edf, 0, 1)
    _patch(edf, off, "EEG FP1-Ref", width)
    with pytest.raises(InputError, match="duplicate channel labels"):
        check_edf_header(edf)


def test_size_stage(edf):
    size = edf.stat().st_size
    edf.write_bytes(edf.read_bytes() + b"\x00\x00")
    with pytest.raises(InputError, match=r"size mismatch: .* \(\+2\)"):
        check_edf_header(edf)
    edf.write_bytes(edf.read_bytes()[: size - 100])
    with pytest.raises(InputError, match="truncated: the header announces"):
        check_edf_header(edf)


def test_unclosed_recording_is_a_quirk(edf):
    n_records = int(edf.read_bytes()[236:244])
    _patch(edf, 236, "-1", 8)
    (q,) = check_edf_header(edf)
    assert q == f"number of data records is -1 (recording not closed); {n_records} complete record(s) read from " \
                "the file size"
