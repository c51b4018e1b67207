"""The workflow layer: files -> Recording -> segments -> model -> surrogate -> EDF + report.

Each step has a module named after it (see ``docs/architecture.md``):

- :mod:`.inputs`: read paired recordings, map contacts, build segments;
- :mod:`.calibrate`: calibrate a patient model (options -> inputs -> segment -> held-out protocol -> publish);
- :mod:`.reconstruct`: reconstruct one scalp file (check inputs -> gap layout -> predict -> write EDF ->
  publish), with the EDF writers in :mod:`.edf_output`;
- :mod:`.report` (+ :mod:`.report_html`, :mod:`.report_figures`): the per-recording report;
- :mod:`.pretrain`: cross-subject pretraining, LOSO folds, model card;
- :mod:`.uncertainty`: posterior band coverage and the uncertainty sidecar;
- :mod:`.results`: what the steps return (CalibrationResult, ReconstructionResult) and shared names.

The protocols shared with :mod:`ieegrecon.evaluation` live here once:
:mod:`.confidence` (held-out protocol, reliability classes),
:mod:`.chunking` (chunked prediction with context) and :mod:`.factory`
(new, pretrained or calibrated models by method name).

Imports go one way: results and the patient model (:mod:`ieegrecon.models.patient`) sit below
report, which sits below calibrate and reconstruct.
"""
