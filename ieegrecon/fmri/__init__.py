"""EEG-conditioned BOLD frames on fsaverage5 with null-space completion (issue #8).

Data flow: scalp EEG -> band-power features convolved with a bank of HRFs and
slower kernels -> reduced-rank ridge map to 68 Desikan-Killiany parcels
(:class:`~ieegrecon.fmri.model.FmriModel`) -> vertices -> completion with
measured frames kept exactly
(:func:`~ieegrecon.fmri.completion.complete`) -> GIFTI / NIfTI
(:func:`~ieegrecon.fmri.io.write_bold`). Training data come from
:func:`~ieegrecon.fmri.simulate.simulate_subject` (TVB Stuart-Landau network
plus theta/beta/gamma activity -> MNE sphere-model EEG and multi-band,
region-specific Balloon-Windkessel BOLD with physiological noise and drift,
:mod:`~ieegrecon.fmri.coupling`). Outputs are SURROGATES.
See ``docs/fmri.md``.
"""

from .completion import complete, linear_interpolation, parse_frames
from .io import read_bold_gifti, write_bold
from .mesh import load_fsaverage5
from .metrics import mse, pearson_r, ssim
from .model import FmriModel
from .pipeline import eeg_to_bold

__all__ = ["FmriModel", "complete", "eeg_to_bold", "linear_interpolation", "load_fsaverage5", "mse",
           "parse_frames", "pearson_r", "read_bold_gifti", "ssim", "write_bold"]
