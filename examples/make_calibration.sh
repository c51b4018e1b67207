#!/usr/bin/env bash
# How examples/calibration/ was made (SIMULATED data on the real ds004752 sub-01 ses-01 layout).
# iEEG is written at 250 Hz (not the simulator's default 2000 Hz) to keep the repository small;
# the ground-truth HDF5 (derivatives/) is dropped for the same reason.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
rm -rf "$here/calibration"
ieegrecon simulate --layout "$here/../../shared/data/ds004752/sub-01/ses-01" \
    --subjects 1 --sessions 1 --minutes 3 --seed 7 --ieeg-sfreq 250 --out "$here/calibration"
rm -rf "$here/calibration/derivatives"
