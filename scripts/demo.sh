#!/usr/bin/env bash
# The main job on the embedded SQLite default: create a repository, register dataset types,
# build a chain of collections and print it as a tree and as JSON.
set -euo pipefail
BUTLER=${1:-.build/debug/butler}
REPO=${DEMO_REPO:-demo-repo}
rm -rf "$REPO"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

step "$BUTLER" create "$REPO"
step "$BUTLER" register-dataset-type "$REPO" raw Exposure instrument detector exposure
step "$BUTLER" register-dataset-type "$REPO" bias ExposureF instrument detector --is-calibration
step "$BUTLER" register-dataset-type "$REPO" calexp ExposureF instrument visit detector
step "$BUTLER" query-dataset-types "$REPO" --verbose
step "$BUTLER" register-collection "$REPO" LATISS/raw/all --type RUN
step "$BUTLER" register-collection "$REPO" LATISS/calib --type CALIBRATION
step "$BUTLER" register-collection "$REPO" u/demo/run1 --type RUN
step "$BUTLER" collection-chain "$REPO" LATISS/defaults LATISS/raw/all LATISS/calib
step "$BUTLER" collection-chain "$REPO" u/demo LATISS/defaults
step "$BUTLER" collection-chain "$REPO" u/demo u/demo/run1 --mode prepend
step "$BUTLER" query-collections "$REPO"
step "$BUTLER" query-collections "$REPO" u/demo --format json
