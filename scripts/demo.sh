#!/usr/bin/env bash
# The main job on the embedded SQLite default: create a repository, ingest real raws from several cameras,
# define visits, register dataset types, build a chain of collections, and list what is there.
set -euo pipefail
BUTLER=${1:-.build/debug/butler}
REPO=${DEMO_REPO:-demo-repo}
rm -rf "$REPO"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

step "$BUTLER" create "$REPO"
# Real raw headers from LATISS, LSSTCam, LSSTComCam, DECam, HSC and MegaPrime (Fixtures/raw).
step "$BUTLER" ingest-raws "$REPO" Fixtures/raw --transfer copy
step "$BUTLER" ingest-raws "$REPO" Fixtures/raw --transfer copy   # again: nothing changes
step "$BUTLER" query-datasets "$REPO" raw
step "$BUTLER" define-visits "$REPO" LSSTCam
step "$BUTLER" register-dataset-type "$REPO" calexp ExposureF instrument visit detector
step "$BUTLER" register-dataset-type "$REPO" bias ExposureF instrument detector --is-calibration
step "$BUTLER" query-dataset-types "$REPO" --verbose
step "$BUTLER" register-collection "$REPO" LATISS/calib --type CALIBRATION
step "$BUTLER" collection-chain "$REPO" LATISS/defaults LATISS/raw/all LATISS/calib
step "$BUTLER" collection-chain "$REPO" u/demo LATISS/defaults LSSTCam/raw/all
step "$BUTLER" query-collections "$REPO"
step "$BUTLER" query-collections "$REPO" u/demo --format json
step "$BUTLER" query-datasets "$REPO" raw --collections u/demo --find-first --show-uri --format json
