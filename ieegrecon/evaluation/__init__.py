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

Modules, in the order a run uses them:

- :mod:`.config`: :class:`EvalConfig` and its check, :class:`EvalResult`, shared names;
- :mod:`.data`: BIDS subjects, calibration and test segments (two sessions or one), the test cap;
- :mod:`.protocol`: one subject, every method and length: fit, confidence, contact rows;
- :mod:`.ceilings`: the ground-truth ``oracle`` and the ``ridge-limit``;
- :mod:`.posterior`: band coverage and draw metrics of sampling methods;
- :mod:`.stats`: subject, region and summary tables, bootstrap CIs, Wilcoxon and Spearman tests;
- :mod:`.cache`: per-subject results reused by ``resume``;
- :mod:`.run`: :func:`run_evaluation` and :func:`write_results`;
- :mod:`.report`: the HTML report.
"""

from .ceilings import groundtruth_oracle, groundtruth_path, oracle_weights
from .config import LIMIT, ORACLE, SUBSETS, EvalConfig, EvalResult
from .data import Subject, discover_subjects, load_subject
from .posterior import posterior_metrics
from .protocol import evaluate_subject, fit_model
from .report import write_report
from .run import run_evaluation, write_results
from .stats import bootstrap_ci, summarize

__all__ = ["EvalConfig", "EvalResult", "LIMIT", "ORACLE", "SUBSETS", "Subject", "bootstrap_ci",
           "discover_subjects", "evaluate_subject", "fit_model", "groundtruth_oracle", "groundtruth_path",
           "load_subject", "oracle_weights", "posterior_metrics", "run_evaluation", "summarize", "write_report",
           "write_results"]
