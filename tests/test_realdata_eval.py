"""The evaluation on real archives' forms: subject discovery, trial pieces in splits and predictions."""

from __future__ import annotations

import pytest

from ieegrecon.errors import InputError
from ieegrecon.evaluation.data import discover_subjects


def _channels(folder, rows):
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["name\ttype\tunits\tstatus"] + [f"{n}\t{t}\tuV\tgood" for n, t in rows]
    (folder / f"{folder.parent.parent.name}_{folder.parent.name}_task-x_channels.tsv").write_text("\n".join(lines))


def test_discover_mixed_file_sessions(tmp_path):
    """HUP: ieeg/ alone whose channels.tsv lists 10-20 scalp electrodes (typed SEEG) is paired;
    an iEEG-only session is not."""
    _channels(tmp_path / "sub-A" / "ses-presurgery" / "ieeg", [("LA1", "SEEG"), ("CZ", "SEEG"), ("EKG1", "SEEG")])
    _channels(tmp_path / "sub-B" / "ses-01" / "ieeg", [("LA1", "SEEG"), ("LA2", "SEEG")])
    _channels(tmp_path / "sub-C" / "ses-01" / "ieeg", [("LA1", "SEEG")])
    (tmp_path / "sub-C" / "ses-01" / "eeg").mkdir()
    assert discover_subjects(tmp_path) == {"A": [tmp_path / "sub-A" / "ses-presurgery"],
                                           "C": [tmp_path / "sub-C" / "ses-01"]}
    with pytest.raises(InputError, match="one file with scalp and intracranial"):
        discover_subjects(tmp_path / "sub-B")
