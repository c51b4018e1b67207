"""Re-referencing of iEEG, moved to :mod:`ieegrecon.montages` (imported here so existing imports work)."""

from ..montages import bipolar, common_average, reference_weights, shaft_of, shafts

__all__ = ["bipolar", "common_average", "reference_weights", "shaft_of", "shafts"]
