"""The validators (ieegrecon/_checks.py): one wording, naming the function's parameter (issue #15).

The output policy itself (what is refused, what is replaced) is tested in
tests/test_output_policy.py; here only the messages' convention.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from ieegrecon._checks import (
    PARAMETER_WORDING,
    check_option,
    check_out_path,
    check_positive,
    check_range,
    parameter,
)
from ieegrecon.errors import OVERWRITE_HINT, OutputError, UsageError

ROOT = Path(__file__).resolve().parents[1]


def test_parameter_wording_is_mnes():
    assert parameter("line_freq") == "the 'line_freq' parameter"
    assert PARAMETER_WORDING.fullmatch(parameter("line_freq")).group(1) == "line_freq"
    assert PARAMETER_WORDING.search("the '--line-freq' parameter") is None  # names, never flags


def test_check_option_wording():
    assert check_option("line_freq", 60, (50, 60)) == 60
    with pytest.raises(UsageError) as err:
        check_option("line_freq", 55, (50, 60))
    assert str(err.value) == ("Invalid value for the 'line_freq' parameter: allowed values are 50, 60, "
                              "but got 55 instead.")
    assert err.value.exit_code == 2


@pytest.mark.parametrize("call,message", [
    (lambda: check_positive("tr", -1.0), "Invalid value for the 'tr' parameter: must be > 0, but got -1.0 instead."),
    (lambda: check_positive("tr", 0.0), "Invalid value for the 'tr' parameter: must be > 0, but got 0.0 instead."),
    (lambda: check_positive("minutes", -0.5, allow_zero=True),
     "Invalid value for the 'minutes' parameter: must be >= 0, but got -0.5 instead."),
    (lambda: check_range("duration", 0.5, low=0.8, low_inclusive=False),
     "Invalid value for the 'duration' parameter: must be > 0.8, but got 0.5 instead."),
    (lambda: check_range("q", 2.0, low=0, high=1),
     "Invalid value for the 'q' parameter: must be >= 0 and <= 1, but got 2.0 instead."),
])
def test_check_range_wording(call, message):
    with pytest.raises(UsageError) as err:
        call()
    assert str(err.value) == message and err.value.exit_code == 2


def test_check_range_accepts_bounds_and_refuses_nan():
    assert check_positive("minutes", 0.0, allow_zero=True) == 0.0
    assert check_range("q", 1.0, low=0, high=1) == 1.0
    with pytest.raises(UsageError, match="got nan instead"):
        check_positive("tr", math.nan)


def test_check_out_path_names_the_overwrite_parameter(tmp_path):
    out = tmp_path / "x.h5"
    out.write_bytes(b"not ours")
    with pytest.raises(OutputError) as err:
        check_out_path(out, overwrite=False, kind="hdf5")
    assert str(err.value) == f"{out}: already exists; set the 'overwrite' parameter to replace it"
    assert OVERWRITE_HINT == "set the 'overwrite' parameter to replace it"
    with pytest.raises(OutputError, match="even with the 'overwrite' parameter set"):
        check_out_path(out, overwrite=True, kind="hdf5")
    with pytest.raises(UsageError, match="Invalid value for the 'kind' parameter"):
        check_out_path(out, overwrite=True, kind="nope")


def test_library_messages_never_name_flags():
    """No ``raise ...("--flag ...")`` outside ieegrecon/cli/ in the modules of this layer (io, validators, fmri)."""
    files = [*sorted((ROOT / "ieegrecon" / "io").glob("*.py")),
             *(ROOT / "ieegrecon" / f for f in ("_checks.py", "errors.py", "recording.py", "channels.py",
                                                "preprocessing.py", "anonymize.py", "fmri/pipeline.py",
                                                "fmri/io.py", "fmri/evaluate.py"))]
    import re

    flag_in_message = re.compile(r"""(Error|Exception)\(\s*f?["'][^"']*--[a-z]""")
    bad = [f"{f.name}: {m.group(0)}" for f in files for m in flag_in_message.finditer(f.read_text())]
    assert not bad, bad


def test_no_typer_outside_cli():
    """typer is the CLI's: a library module importing it would drag it (and its error policy) into the library."""
    code = ("import sys, importlib, pkgutil, ieegrecon\n"
            "for m in ('ieegrecon.io.read', 'ieegrecon.io.bids', 'ieegrecon.io.electrodes', 'ieegrecon.io.store',"
            " 'ieegrecon._checks', 'ieegrecon.fmri.evaluate', 'ieegrecon.fmri.pipeline'):\n"
            "    importlib.import_module(m)\n"
            "print('typer' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT).stdout.strip()
    assert out == "False"
