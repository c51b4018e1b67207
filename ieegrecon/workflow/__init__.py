"""The workflow layer: files -> Recording -> segments -> model -> surrogate -> EDF + report.

Each step has a module named after it (see ``docs/architecture.md``); the
protocols shared with :mod:`ieegrecon.evaluation` live here once:
:mod:`.confidence` (held-out protocol, reliability classes),
:mod:`.chunking` (chunked prediction with context) and :mod:`.factory`
(new, pretrained or calibrated models by method name).
"""
