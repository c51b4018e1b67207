"""The CLI's error mapping (ieegrecon/cli/app.py): library messages name parameters, the CLI shows flags."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from typer.testing import CliRunner

from ieegrecon.cli import app
from ieegrecon.cli.app import flag_wording

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_SCALP = next((ROOT / "examples" / "calibration" / "sub-01" / "ses-01" / "eeg").glob("*_eeg.edf"))
runner = CliRunner()


def cli(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def _option(name, *opts, is_flag=False):
    return SimpleNamespace(name=name, opts=list(opts), param_type_name="option", is_flag=is_flag)


COMMAND = SimpleNamespace(params=[
    _option("line_freq", "--line-freq"), _option("overwrite", "--overwrite", is_flag=True),
    _option("as_json", "--json", is_flag=True), _option("method", "--method", "-m"),
    SimpleNamespace(name="patient", opts=["patient"], param_type_name="argument"),
])


def test_parameter_becomes_the_commands_flag():
    msg = "Invalid value for the 'line_freq' parameter: allowed values are 50, 60, but got 55 instead."
    assert flag_wording(msg, COMMAND) == "Invalid value for --line-freq: allowed values are 50, 60, but got 55 instead."
    assert flag_wording("the 'method' parameter", COMMAND) == "--method"  # the first flag, not -m
    assert flag_wording("give the 'as_json' parameter", COMMAND) == "give --json"  # the flag, not the name


def test_set_an_on_off_flag_reads_pass():
    assert flag_wording("already exists; set the 'overwrite' parameter to replace it", COMMAND) == \
        "already exists; pass --overwrite to replace it"
    assert flag_wording("set the 'line_freq' parameter to 50", COMMAND) == "set --line-freq to 50"


def test_other_names_are_kept():
    """Arguments, and parameters the running command does not have, keep the library's wording."""
    for msg in ("the 'patient' parameter", "the 'report_dir' parameter", "no parameter here"):
        assert flag_wording(msg, COMMAND) == msg
    assert flag_wording("the 'line_freq' parameter") == "the 'line_freq' parameter"  # no command running


def test_library_error_under_a_command_shows_the_flag():
    """read_recording names 'ieeg_channels'; under `ieegrecon info` the user reads --ieeg-channels."""
    res = cli("info", EXAMPLE_SCALP, "--ieeg-channels", "(")
    assert res.exit_code == 3, res.output
    line = res.stderr.strip()
    assert line.startswith("ieegrecon: error: ") and "Invalid value for --ieeg-channels: not a regular expression" \
        in line and "'ieeg_channels'" not in line, line


def test_output_policy_under_a_command_says_pass_overwrite(tmp_path):
    out = tmp_path / "x.h5"
    out.write_bytes(b"")
    res = cli("import", EXAMPLE_SCALP, "--out", out)
    assert res.exit_code == 5
    assert res.stderr.strip() == f"ieegrecon: error: {out}: already exists; pass --overwrite to replace it"


def test_cli_range_checks_show_flags(tmp_path):
    res = cli("simulate", "--layout", tmp_path, "--out", tmp_path / "sim", "--minutes", "0")
    assert res.exit_code == 2
    assert res.stderr.strip() == "ieegrecon: error: Invalid value for --minutes: must be > 0, but got 0.0 instead."
    res = cli("fmri-simulate", tmp_path / "f", "--tr", "1", "--duration", "0.5")
    assert res.exit_code == 2 and "Invalid value for --duration: must be > 1" in res.stderr, res.stderr
