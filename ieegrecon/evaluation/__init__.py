"""Leave-one-subject-out benchmark of reconstruction methods (``ieegrecon evaluate``).

Protocol: :data:`ieegrecon.evaluation.protocol.PROTOCOL` (calibrate on the first M minutes of
``ses-01``; confidence by the calibrate command's held-out protocol; test on ``ses-02``; metrics
per contact, region, subject and overall). That text is also written into ``stats.json``.

Cross-subject methods (``supports_pretrain``) never pretrain here: with
``loso`` each test subject ``XX`` takes the pretrained model folder
``PRETRAINED/fold-sub-XX/`` (written by ``ieegrecon pretrain --loso``);
otherwise ``PRETRAINED`` is one model folder that must not list the test
subject among its pretraining subjects. A method whose pretraining is
optional (``flow``) and that is given no pretrained folder is trained
from scratch on the test subject's calibration minutes only.

The entry point is :func:`run_evaluation` (what ``ieegrecon evaluate`` calls); without named
methods the CLI evaluates :func:`default_methods`.

Modules, in the order a run uses them:

- :mod:`.config`: :class:`EvalConfig` and its check, :class:`EvalResult`, shared names;
- :mod:`.data`: BIDS subjects, calibration and test segments (two sessions or one), the test cap;
- :mod:`.protocol`: one subject, every method and length: fit, confidence, contact rows;
- :mod:`.ceilings`: the ground-truth ``oracle`` and the ``ridge-limit``;
- :mod:`.posterior`: band coverage and draw metrics of sampling methods;
- :mod:`.scoring`, :mod:`.selection`, :mod:`.events`: the scored montage, CAST's contact selection
  (``selected_r``) and the IED event metrics;
- :mod:`.stats`: subject, region and summary tables, bootstrap CIs, Wilcoxon and Spearman tests, the
  strongest-linear row (:func:`strongest_linear`) and every method against it (:func:`versus_strongest`);
- :mod:`.regions`: the per-region table (``by_region.tsv``);
- :mod:`.cache`: per-subject results reused by ``resume``;
- :mod:`.run`: :func:`run_evaluation` and :func:`write_results`;
- :mod:`.report`: the HTML report.
"""

from .ceilings import groundtruth_oracle, groundtruth_path, oracle_weights, ridge_limit
from .ceilings import label as method_label
from .config import (DEFAULT_METHODS, IED_METRIC_COLS, LIMIT, METRIC_COLS, ORACLE, SELECTION_COLS, SUBSETS, EvalConfig,
                     EvalResult, default_methods)
from .data import Subject, discover_subjects, load_subject
from .events import IED_COLS, reference_columns
from .posterior import posterior_metrics
from .protocol import PROTOCOL, evaluate_subject, fit_model
from .regions import region_detail
from .report import write_report
from .run import run_evaluation, write_results
from .selection import selection_threshold
from .stats import (STRONGEST, bootstrap_ci, rank_biserial, strongest_linear, summarize, versus_strongest,
                    wilcoxon_tests)

__all__ = ["DEFAULT_METHODS", "EvalConfig", "EvalResult", "IED_COLS", "IED_METRIC_COLS", "LIMIT", "METRIC_COLS",
           "ORACLE", "PROTOCOL", "SELECTION_COLS", "STRONGEST", "SUBSETS", "Subject", "bootstrap_ci",
           "default_methods", "discover_subjects", "evaluate_subject", "fit_model", "groundtruth_oracle",
           "groundtruth_path", "load_subject", "method_label", "oracle_weights", "posterior_metrics", "rank_biserial",
           "reference_columns", "region_detail", "ridge_limit", "run_evaluation", "selection_threshold",
           "strongest_linear", "summarize", "versus_strongest", "wilcoxon_tests", "write_report", "write_results"]
