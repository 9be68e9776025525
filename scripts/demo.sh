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
# The where language: dimensions, record fields, times, bind values.
step "$BUTLER" query-datasets "$REPO" raw --where "band IN ('i', 'y') AND exposure.observation_type = 'science'"
step "$BUTLER" query-datasets "$REPO" raw --where "exposure.timespan.begin > T'2024-01-01' AND instrument = :cam" --bind cam=LSSTCam --order-by -exposure
step "$BUTLER" query-data-ids "$REPO" exposure --where "instrument = 'LATISS'"
step "$BUTLER" query-dimension-records "$REPO" detector --where "instrument = 'LSSTComCam' AND detector < 3"
# Tag a selection; certify a calibration and find the one valid at an exposure's time.
step "$BUTLER" associate "$REPO" u/demo/science --collections 'LSSTCam/raw/all' --where "exposure.observation_type = 'science'"
printf 'file,detector\nlsst/latiss-AT_O_20230321_000053.fits,0\n' > "$REPO/bias-table.csv"
step "$BUTLER" ingest-files "$REPO" bias LATISS/calib/bias-2023 "$REPO/bias-table.csv" --data-id instrument=LATISS --prefix Fixtures/raw -t copy
step "$BUTLER" certify-calibrations "$REPO" LATISS/calib/bias-2023 LATISS/calib bias --begin-date 2023-01-01 --end-date 2024-01-01
step "$BUTLER" find-dataset "$REPO" bias:instrument=LATISS,detector=0,exposure=2023032100053 --collections LATISS/defaults
# A bad expression says where and why.
"$BUTLER" query-datasets "$REPO" raw --where "exposure = 'AT_O_20230321_000053'" || true
