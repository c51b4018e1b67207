"""evaluation.config: settings are checked before any data are read; messages name parameters, not flags."""

import json

import numpy as np
import pytest

from ieegrecon.errors import UsageError
from ieegrecon.evaluation.config import EvalConfig, check_config, jsonable


@pytest.mark.parametrize("cfg, match", [
    (EvalConfig(methods=[]), "the 'methods' parameter is empty"),
    (EvalConfig(methods=["nope"]), "nope"),
    (EvalConfig(methods=["cast"]), "set the 'pretrained' parameter"),
    (EvalConfig(methods=["ridge"], calibration_minutes=[]), "the 'calibration_minutes' parameter"),
    (EvalConfig(methods=["ridge"], calibration_minutes=[1.0, -1.0]), "the 'calibration_minutes' parameter"),
    (EvalConfig(methods=["ridge"], ieeg_reference="laplacian"), "the 'ieeg_reference' parameter"),
])
def test_check_config_names_the_parameter(cfg, match):
    with pytest.raises(UsageError, match=match) as exc:
        check_config(cfg)
    assert "--" not in str(exc.value)


def test_valid_config_passes_and_serializes(tmp_path):
    cfg = EvalConfig(methods=["ridge", "cast"], pretrained={"cast": tmp_path}, calibration_minutes=[0, 1])
    check_config(cfg)
    d = json.loads(json.dumps(jsonable(cfg.to_dict())))
    assert d["pretrained"] == {"cast": str(tmp_path)} and d["prep"]["sfreq"] == cfg.prep.sfreq
    assert d["ieeg_reference"] == "recorded" and d["ied"] is True


def test_metric_columns_include_selection_and_ied():
    from ieegrecon.evaluation.config import METRIC_COLS

    for c in ("selected_r", "selected_fraction", "ied_sensitivity", "ied_precision", "ied_f1", "ied_f1_ieeg",
              "ied_f1_scalp"):
        assert c in METRIC_COLS
    assert len(set(METRIC_COLS)) == len(METRIC_COLS)


def test_jsonable():
    assert jsonable({1: (np.float64(np.nan), np.int64(3), 2.5)}) == {"1": [None, 3, 2.5]}


def test_default_methods_add_cross_subject_methods_given_a_pretrained_model():
    from ieegrecon.evaluation.config import DEFAULT_METHODS, default_methods

    assert default_methods() == list(DEFAULT_METHODS)
    assert {"ridge", "ridge0", "ridge-cv", "ridge-prior", "ridge-gauss", "source"} == set(DEFAULT_METHODS)
    assert default_methods(["xs-ridge", "ridge"]) == [*DEFAULT_METHODS, "xs-ridge"]  # ridge: already there
    assert default_methods(["cast", "flow"])[-2:] == ["cast", "flow"]


def test_cli_default_methods_need_a_named_pretrained_folder(tmp_path):
    """Without --methods no default method is cross-subject: a bare --pretrained DIR names no method."""
    from typer.testing import CliRunner

    from ieegrecon.cli.app import app

    res = CliRunner().invoke(app, ["evaluate", str(tmp_path / "none"), "--out", str(tmp_path / "o"),
                                   "--pretrained", str(tmp_path / "m")])
    assert res.exit_code == 2 and "name the method (METHOD=DIR)" in res.output
