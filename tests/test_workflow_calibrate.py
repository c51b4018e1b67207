"""workflow.calibrate's first stage: options are checked, in the library's parameter wording, before any reading."""

from __future__ import annotations

import pytest

from ieegrecon.errors import UsageError
from ieegrecon.workflow.calibrate import calibrate, resolve_options
from ieegrecon.preprocessing import Preprocessing


def test_negative_minutes_names_the_parameter(tmp_path):
    with pytest.raises(UsageError, match=r"^the 'minutes' parameter must be ≥ 0, got -1$"):
        calibrate(tmp_path / "nothing-read.edf", method="ridge", minutes=-1, out=tmp_path / "pm")


def test_line_freq_in_mne_wording(tmp_path):
    with pytest.raises(UsageError) as err:
        calibrate(tmp_path / "nothing-read.edf", method="ridge", minutes=1, out=tmp_path / "pm", line_freq=55)
    assert str(err.value) == ("Invalid value for the 'line_freq' parameter: allowed values are 50, 60, "
                              "but got 55 instead.")


def test_options_fill_in_the_mains_source_and_shipped_model(tmp_path):
    opts = resolve_options(tmp_path / "x.edf", method="ridge", minutes=None, out=tmp_path / "pm", ieeg=None,
                           electrodes=None, pretrained=None, prep=Preprocessing(), line_freq=60, overwrite=False)
    assert opts.prep.line_freq == 60 and opts.line_source == "--line-freq" and opts.pretrained is None
    cast = resolve_options(tmp_path / "x.edf", method="cast", minutes=None, out=tmp_path / "pm", ieeg=None,
                           electrodes=None, pretrained=None, prep=Preprocessing(), line_freq=None, overwrite=False)
    assert cast.pretrained is not None and cast.pretrained.name == "cast-sim9" and cast.line_source == "default"
    assert cast.pretrained_config["method"] == "cast"
    xs = resolve_options(tmp_path / "x.edf", method="xs-ridge", minutes=None, out=tmp_path / "pm", ieeg=None,
                         electrodes=None, pretrained=None, prep=Preprocessing(), line_freq=None, overwrite=False)
    assert xs.pretrained is not None and xs.pretrained.name == "xs-ridge-sim9"  # the README example's default
    assert xs.pretrained_config["method"] == "xs-ridge"
