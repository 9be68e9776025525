#!/usr/bin/env bash
# Crash safety: kills `butler ingest-raws`, `butler run` and `butler transfer-datasets` (with everything they started) with SIGKILL at random
# moments, and checks after each kill that `butler verify` passes (no registry row without its file, no file without
# its row, no half-recorded step) and that re-running the same command completes the work.
#   scripts/crash-test.sh BUTLER sqlite|postgresql [TRIALS] [folder|bucket]
#   (postgresql needs BUTLER_TEST_POSTGRES; bucket puts every datastore in the bucket BUTLER_TEST_S3_BUCKET of the
#   S3 server scripts/with-s3.sh starts)
set -euo pipefail
BUTLER=$(realpath "$1"); BACKEND=$2; TRIALS=${3:-20}; DATASTORE=${4:-folder}
MAKE_RAWS=$(dirname "$BUTLER")/make-raws
WORK=$(mktemp -d /tmp/butler-crash.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
RAWS=60
"$MAKE_RAWS" Fixtures/raw/lsst/lsstCam-MC_O_20250609_000578_R01_S01.fits "$WORK/raws" $RAWS 64 6 100 >/dev/null
fail() { echo "crash-test ($BACKEND, trial $trial): $*" >&2; exit 1; }
verify() {
  local out
  out=$("$BUTLER" verify "$1" 2>&1) || fail "verify failed after $2:"$'\n'"$out"
}
# Starts a command in its own process group, kills the whole group after a random delay of 0 to $1 ms.
kill_after_random() {
  local max=$1; shift
  setsid "$@" >/dev/null 2>&1 &
  local pid=$!
  sleep "$(awk -v m="$max" -v r="$RANDOM" 'BEGIN { printf "%.3f", (r % (m + 1)) / 1000 }')"
  kill -9 -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
killed_ingests=0; killed_runs=0; killed_transfers=0
# The datastore option of a new repository (a fresh prefix of the test bucket, or the repository's own folder).
datastore_args() {
  if [ "$DATASTORE" = bucket ]; then echo "--datastore s3://${BUTLER_TEST_S3_BUCKET:?run through scripts/with-s3.sh}/$1-$RANDOM$RANDOM"; fi
}
# Where a repository's journals are: in its datastore folder, or in the repository folder for a bucket.
journal_folder() {
  if [ "$DATASTORE" = bucket ]; then echo "$1/.butler-journal"; else echo "$1/datastore/.butler-journal"; fi
}
for trial in $(seq "$TRIALS"); do
  REPO="$WORK/repo-$trial"
  if [ "$BACKEND" = postgresql ]; then
    "$BUTLER" create "$REPO" --registry "$BUTLER_TEST_POSTGRES?schema=crash_${RANDOM}_$trial" $(datastore_args repo) >/dev/null
  else
    "$BUTLER" create "$REPO" $(datastore_args repo) >/dev/null
  fi
  "$BUTLER" register-dataset-type "$REPO" postISRCCD ExposureF instrument detector exposure >/dev/null
  # 1. ingest-raws, killed somewhere between start-up and the end.
  kill_after_random 700 "$BUTLER" ingest-raws "$REPO" "$WORK/raws" -t copy --processes 2
  verify "$REPO" "a killed ingest-raws"
  leftovers=$(find "$(journal_folder "$REPO")" -name "*.journal" 2>/dev/null | wc -l || true)
  [ "$leftovers" = 0 ] || fail "journals left after verify: $leftovers"
  n=$("$BUTLER" query-datasets "$REPO" raw --format csv 2>/dev/null | tail -n +2 | grep -c . || true)
  [ "$n" -lt $RAWS ] && killed_ingests=$((killed_ingests + 1))
  "$BUTLER" ingest-raws "$REPO" "$WORK/raws" -t copy >/dev/null 2>&1 || fail "re-running ingest-raws failed"
  n=$("$BUTLER" query-datasets "$REPO" raw --format csv 2>/dev/null | tail -n +2 | grep -c . || true)
  [ "$n" = $RAWS ] || fail "expected $RAWS raws after the re-run, found $n"
  verify "$REPO" "re-running ingest-raws"
  # 2. run, killed while the step or the recording runs.
  DATAID=instrument=LSSTCam,detector=$((trial % 6)),exposure=2025060100001
  RUN=("$BUTLER" run "$REPO" --run u/crash --task isr --collections LSSTCam/raw/all --input "raw=raw:$DATAID"
       --output "out=postISRCCD:$DATAID" --skip-existing -- /bin/sh -c "sleep 0.0$((RANDOM % 3)); cp {raw} {out}")
  kill_after_random 400 "${RUN[@]}"
  verify "$REPO" "a killed run"
  "$BUTLER" find-dataset "$REPO" "postISRCCD:$DATAID" --collections u/crash >/dev/null 2>&1 || killed_runs=$((killed_runs + 1))
  "${RUN[@]}" >/dev/null 2>&1 || fail "re-running run failed"
  "$BUTLER" find-dataset "$REPO" "postISRCCD:$DATAID" --collections u/crash >/dev/null 2>&1 || fail "no output after re-running run"
  verify "$REPO" "re-running run"
  # 3. transfer-datasets of every raw into a second repository, killed while files are copied or registered.
  DEST="$WORK/dest-$trial"
  if [ "$BACKEND" = postgresql ]; then
    "$BUTLER" create "$DEST" --registry "$BUTLER_TEST_POSTGRES?schema=crashdest_${RANDOM}_$trial" $(datastore_args dest) >/dev/null
  else
    "$BUTLER" create "$DEST" $(datastore_args dest) >/dev/null
  fi
  TRANSFER=("$BUTLER" transfer-datasets "$REPO" "$DEST" raw --collections LSSTCam/raw/all --register-dataset-types)
  kill_after_random 500 "${TRANSFER[@]}"
  verify "$DEST" "a killed transfer-datasets"
  n=$("$BUTLER" query-datasets "$DEST" raw --format csv 2>/dev/null | tail -n +2 | grep -c . || true)
  [ "$n" -lt $RAWS ] && killed_transfers=$((killed_transfers + 1))
  "${TRANSFER[@]}" >/dev/null 2>&1 || fail "re-running transfer-datasets failed"
  n=$("$BUTLER" query-datasets "$DEST" raw --format csv 2>/dev/null | tail -n +2 | grep -c . || true)
  [ "$n" = $RAWS ] || fail "expected $RAWS raws after the re-run transfer, found $n"
  out=$("$BUTLER" verify "$DEST" --checksums 2>&1) || fail "verify --checksums failed after re-running transfer-datasets:"$'\n'"$out"
  rm -rf "$REPO" "$DEST"
done
echo "crash-test ($BACKEND, $DATASTORE datastore): $TRIALS trials passed; SIGKILL interrupted $killed_ingests ingest(s), $killed_runs run(s) and $killed_transfers transfer(s) before they finished"
