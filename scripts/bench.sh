#!/usr/bin/env bash
# Benchmarks, run by `make bench` on the release build. Figures go to stdout; paste them into the notes.
set -euo pipefail
BUTLER=${1:-.build/release/butler}
OUT=${BENCH_OUT:-bench-out}
mkdir -p "$OUT"

# Median wall time in milliseconds of N runs of a command.
median_ms() {
  local n=$1; shift
  local times=()
  for _ in $(seq "$n"); do
    local t0 t1
    t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N)
    times+=($(( (t1 - t0) / 1000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.1f", m/1000}'
}

echo "== start-up (release build, median of 20 runs)"
echo "butler --help: $(median_ms 20 "$BUTLER" --help) ms"
rm -rf "$OUT/repo"
"$BUTLER" create "$OUT/repo" >/dev/null
echo "butler create: $(median_ms 1 "$BUTLER" create "$OUT/repo2") ms"
echo "butler query-collections (empty repo): $(median_ms 20 "$BUTLER" query-collections "$OUT/repo") ms"
echo "peak RSS of query-collections: $( { /usr/bin/time -f '%M' "$BUTLER" query-collections "$OUT/repo" >/dev/null; } 2>&1 | tail -1) kB"
rm -rf "$OUT/repo" "$OUT/repo2"
