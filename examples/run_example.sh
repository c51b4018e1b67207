#!/usr/bin/env bash
# The main job on a real clinical scalp EEG, offline:
#   1. calibrate a patient model (CAST, shipped pretrained model) on a short paired recording
#      (here: SIMULATED, see PROVENANCE.md),
#   2. reconstruct intracranial surrogates from the real scalp EDF (MB0400FU.EDF, EDF+D, T3..T6 names),
#   3. write out/example/recon.edf and the per-region confidence report out/example/report/.
# Run from anywhere; needs `ieegrecon` on PATH (see the README's first command).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${IEEGRECON_EXAMPLE_OUT:-$(cd "$here/.." && pwd)/out/example}"
mkdir -p "$out"

# cast uses the shipped cross-subject model models/cast-sim9 (pretrained on SIMULATED subjects, see its
# MODEL_CARD.md); IEEGRECON_METHOD=ridge|source|flow picks a within-subject method instead.
ieegrecon calibrate "$here/calibration/sub-01/ses-01" \
    --method "${IEEGRECON_METHOD:-cast}" --minutes 2 \
    --out "$out/patient_model" --overwrite

ieegrecon reconstruct "$here/MB0400FU.EDF" \
    --model "$out/patient_model" \
    --out "$out/recon.edf" --report "$out/report" --overwrite

echo "surrogate: $out/recon.edf"
echo "report:    $out/report/report.html"
