"""ieegrecon: reconstruct intracranial EEG surrogates from scalp EEG.

Data flow: files -> :class:`~ieegrecon.recording.Recording` -> windows -> model
-> surrogate ``Recording`` -> EDF files and per-region confidence report.
All signals are in volts (V) internally; microvolts (µV) only at the edges.
"""

__version__ = "0.1.0"
