"""Leave-one-subject-out benchmark of reconstruction methods (``ieegrecon evaluate``).

Protocol (per test subject, per method, per calibration length M; the text
written into ``stats.json`` is :data:`ieegrecon.evaluation.protocol.PROTOCOL`):

1. Calibrate on the first M minutes of the subject's first session
   (``ses-01``); M = 0 is zero-shot for methods that support it.
2. Confidence, fixed before the test data are seen: Pearson r of the
   calibrated model on the rest of the calibration session (the held-out
   tail, when ≥ :data:`ieegrecon.workflow.confidence.MIN_HOLDOUT_S`), otherwise blocked
   5-fold cross-validation within the M minutes (as ``ieegrecon calibrate``).
3. Test on the subject's second session (``ses-02``). A subject with one
   session is tested on the part after the LARGEST requested M, or after
   ``limit_minutes`` when at least 10 s remain after it (so every M and the
   ridge-limit ceiling are tested on the same samples), and its confidence
   tail stops where the test part starts.
4. Metrics per contact (:mod:`ieegrecon.metrics`), aggregated per region, per
   subject and overall; "all contacts" always, the "viable" subset
   (confidence r ≥ ``viable_r``) and superficial/deep beside it.

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
