#!/usr/bin/env bash
# The main job on a real clinical scalp EEG, offline:
#   1. calibrate a patient model (xs-ridge, shipped cross-subject model) on a short paired recording
#      (here: SIMULATED, see PROVENANCE.md),
#   2. reconstruct intracranial surrogates from the real scalp EDF (MB0400FU.EDF, EDF+D, T3..T6 names),
#   3. write out/example/recon.edf and the per-region confidence report out/example/report/.
# Run from anywhere; needs `ieegrecon` on PATH (see the README's first command).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${IEEGRECON_EXAMPLE_OUT:-$(cd "$here/.." && pwd)/out/example}"
mkdir -p "$out"

# xs-ridge starts from the shipped cross-subject model models/xs-ridge-sim9 (fitted on SIMULATED subjects,
# see its MODEL_CARD.md): on the sealed cohort it equals cast (models/cast-sim9, the same training data plus a
# network) within 0.0013 r at 0.25-1 min of calibration (docs/results.md §2c), at ridge's speed.
# IEEGRECON_METHOD=cast|ridge|source|flow picks another method.
ieegrecon calibrate "$here/calibration/sub-01/ses-01" \
    --method "${IEEGRECON_METHOD:-xs-ridge}" --minutes 2 \
    --out "$out/patient_model" --overwrite

ieegrecon reconstruct "$here/MB0400FU.EDF" \
    --model "$out/patient_model" \
    --out "$out/recon.edf" --report "$out/report" --overwrite

echo "surrogate: $out/recon.edf"
echo "report:    $out/report/report.html"
