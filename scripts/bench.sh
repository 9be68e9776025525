#!/usr/bin/env bash
# Benchmarks, run by `make bench` on the release build. Figures go to stdout (and bench-out/results.txt).
#   BENCH_FILES (default 5000) synthetic 256x256 LSSTCam raws over several nights, exposures and detectors;
#   BENCH_MEMORY_FILES (default 50000) small raws to check that peak memory does not grow with N.
set -euo pipefail
BUTLER=$(realpath "${1:-.build/release/butler}")
MAKE_RAWS=$(dirname "$BUTLER")/make-raws
MAKE_REGISTRY=$(dirname "$BUTLER")/make-registry
# BENCH_ONLY=ingest|query|provenance|batch|lineage|interchange|sky|s3|reproduce runs one part (s3 needs scripts/with-s3.sh's server) (BENCH_INTERCHANGE_N datasets, default 100000;
# BENCH_BATCH_QUANTA staged records merged, default 1000000; BENCH_SCALE=10 adds a 10x data release to the lineage part).
# BENCH_BACKEND=postgresql puts every registry on the server at BUTLER_TEST_POSTGRES (scripts/with-postgres.sh).
ONLY=${BENCH_ONLY:-all}
BACKEND=${BENCH_BACKEND:-sqlite}
OUT=${BENCH_OUT:-bench-out}
if [ "$BACKEND" = postgresql ]; then
  OUT="$OUT/postgresql"
  # The server is a throwaway one: registries made by an earlier run are gone with it.
  rm -rf "$OUT/registry-1m" "$OUT/release-1m" "$OUT"/release-*x "$OUT"/registry-batch-*
fi
# A new repository at $1, on the backend under test.
create_repo() {
  local repo=$1; shift
  if [ "$BACKEND" = postgresql ]; then
    "$BUTLER" create "$repo" --registry "$(registry_url "$repo")" "$@"
  else
    "$BUTLER" create "$repo" "$@"
  fi
}
registry_url() { echo "$BUTLER_TEST_POSTGRES?schema=b_$(basename "$1" | tr -c 'a-z0-9\n' _)_${RANDOM}${RANDOM}"; }
# Generators read BENCH_REGISTRY (empty: SQLite): `env "$(generator_registry REPO)" TOOL REPO ...`.
generator_registry() {
  if [ "$BACKEND" = postgresql ]; then echo "BENCH_REGISTRY=$(registry_url "$1")"; else echo "BENCH_REGISTRY="; fi
}
# Counts rows of a registry table.
count_rows() {
  if [ "$BACKEND" = postgresql ]; then
    local url schema
    url=$(grep -o 'postgresql://[^"]*' "$1/butler.yaml"); schema=${url##*schema=}
    psql -qtA "${url%%\?*}" -c "SET search_path TO $schema; SELECT COUNT(*) FROM $2" | tail -1
  else
    sqlite3 "$1/gen3.sqlite3" "SELECT COUNT(*) FROM $2"
  fi
}
FILES=${BENCH_FILES:-5000}
MEMORY_FILES=${BENCH_MEMORY_FILES:-50000}
TEMPLATE=Fixtures/raw/lsst/lsstCam-MC_O_20250609_000578_R01_S01.fits
mkdir -p "$OUT"
exec > >(tee "$OUT/results.txt")

# The base of an engine floor: the registry of repository $1 as it is now, at $2 (its files copied on SQLite, without
# the datastore; on PostgreSQL, where a copied repository shares its registry, the generator run again with the
# arguments after $2 into a registry of its own).
floor_base() {
  local src=$1 dest=$2; shift 2
  rm -rf "$dest"
  if [ "$BACKEND" = postgresql ]; then
    env "$(generator_registry "$dest")" BENCH_FILE_RECORDS=1 "$MAKE_REGISTRY" "$dest" "$@" >/dev/null
  else
    mkdir -p "$dest/datastore" && cp "$src/butler.yaml" "$src"/gen3.sqlite3* "$dest/"
  fi
}
# The engine floor of a bulk command that wrote RUN $3 into repository $1 in $4 seconds ($2: its floor_base): the same
# rows inserted straight through the database API (make-registry --engine-floor), and the command's time as a ratio.
engine_floor() {
  local line
  line=$("$MAKE_REGISTRY" --engine-floor "$1" "$2" "$3" 2>"$OUT/floor.err" | tail -1)
  awk -v r="${line% *}" -v s="${line#* }" -v c="$4" -v how="$([ "$BACKEND" = postgresql ] && echo COPY || echo "prepared statements")" \
    'BEGIN { printf "  engine floor: the same %d rows by %s in one transaction: %.2f s (%.0f rows/s); the command took %.1fx the floor\n", r, how, s, r / s, c / s }'
  rm -rf "$2"
}

# Wall seconds and peak RSS (kB) of one command: prints "SECONDS KB".
measure() {
  local t0 t1 rss
  sync  # start each measurement without the previous one's dirty pages
  t0=$(date +%s%N)
  rss=$( { /usr/bin/time -f '%M' "$@" >/dev/null 2>"$OUT/cmd.err"; } 2>&1 | tail -1 )
  t1=$(date +%s%N)
  rss=$(tail -1 "$OUT/cmd.err")
  # A command that fails has no figure: the bench stops, showing why.
  if grep -q '^Command exited with non-zero status' "$OUT/cmd.err"; then
    echo "bench: failed: $*" >&2; tail -5 "$OUT/cmd.err" >&2; exit 1
  fi
  awk -v a="$t0" -v b="$t1" -v r="$rss" 'BEGIN { printf "%.3f %s\n", (b - a) / 1e9, r }'
}

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

echo "== backend: $BACKEND"
echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "== start-up (release build, median of 20 runs)"
echo "butler --help: $(median_ms 20 "$BUTLER" --help) ms"
rm -rf "$OUT/startup"
create_repo "$OUT/startup" >/dev/null
echo "butler query-collections (empty repository): $(median_ms 20 "$BUTLER" query-collections "$OUT/startup") ms"
rm -rf "$OUT/startup"

if [ "$ONLY" = all ] || [ "$ONLY" = ingest ]; then
echo
echo "== raw ingest: $FILES synthetic LSSTCam raws, 256x256 int16 ($(( FILES / 9 )) exposures x 9 detectors, 100 exposures a night)"
RAWS="$OUT/raws-$FILES"
if [ "$(find "$RAWS" -name '*.fits' 2>/dev/null | wc -l)" != "$FILES" ]; then
  rm -rf "$RAWS"
  t=$(measure "$MAKE_RAWS" "$TEMPLATE" "$RAWS" "$FILES" 256 9 100)
  echo "writing the raws through the FITS layer: ${t% *} s"
fi
echo "data: $(du -sh "$RAWS" | cut -f1)"
sync
# Ingests the raws into a fresh repository RUNS times (alternating with nothing else) and prints the median.
ingest() {  # runs mode [options...]
  local runs=$1 mode=$2; shift 2
  local results=()
  for _ in $(seq "$runs"); do
    rm -rf "$OUT/repo" "$OUT/copy-floor"
    create_repo "$OUT/repo" >/dev/null
    local r
    r=$(measure "$BUTLER" ingest-raws "$OUT/repo" "$RAWS" -t "$mode" "$@")
    local n
    n=$("$BUTLER" query-datasets "$OUT/repo" raw --format csv | tail -n +2 | wc -l)
    [ "$n" = "$FILES" ] || { echo "ingest $mode $*: expected $FILES datasets, found $n" >&2; cat "$OUT/cmd.err" >&2; exit 1; }
    results+=("$r")
  done
  printf '%s\n' "${results[@]}" | sort -n | awk -v m="$mode $*" -v n="$FILES" -v k="$runs" '
    { s[NR] = $1; r[NR] = $2 } END { i = int((NR + 1) / 2); printf "%-36s %7.2f s %8.0f files/s   peak RSS %6.1f MB   (median of %d)\n", m, s[i], n / s[i], r[i] / 1024, k }'
}
ingest 3 direct --no-track-file-attrs
ingest 3 direct
ingest 1 symlink --no-track-file-attrs
ingest 1 symlink
ingest 3 copy --no-track-file-attrs
ingest 3 copy
cps=()
for _ in 1 2 3; do
  rm -rf "$OUT/copy-floor" "$OUT/repo"
  t=$(measure cp -r "$RAWS" "$OUT/copy-floor")
  cps+=("${t% *}")
done
printf '%s\n' "${cps[@]}" | sort -n | awk -v n="$FILES" '{ s[NR] = $1 } END { printf "%-36s %7.2f s %8.0f files/s   (the floor for copy; median of 3)\n", "cp -r", s[2], n / s[2] }'
rm -rf "$OUT/copy-floor" "$OUT/repo"

echo
echo "== peak memory against N (direct, no checksums, 32x32 raws, 9000 a night)"
for n in 5000 "$MEMORY_FILES"; do
  SMALL="$OUT/small-$n"
  if [ "$(find "$SMALL" -name '*.fits' 2>/dev/null | wc -l)" != "$n" ]; then rm -rf "$SMALL"; "$MAKE_RAWS" "$TEMPLATE" "$SMALL" "$n" 32 9 1000 >/dev/null; fi
  rm -rf "$OUT/repo"
  create_repo "$OUT/repo" >/dev/null
  r=$(measure "$BUTLER" ingest-raws "$OUT/repo" "$SMALL" -t direct --no-track-file-attrs)
  awk -v n="$n" -v s="${r% *}" -v m="${r#* }" 'BEGIN { printf "%6d files: %7.2f s %8.0f files/s   peak RSS %6.1f MB\n", n, s, n / s, m / 1024 }'
  rm -rf "$OUT/repo"
done
fi

if [ "$ONLY" = all ] || [ "$ONLY" = query ]; then
echo
REG="$OUT/registry-1m"
if [ ! -f "$REG/butler.yaml" ]; then
  rm -rf "$REG"
  t=$(measure env "$(generator_registry "$REG")" "$MAKE_REGISTRY" "$REG" 20000 10 300)
  echo "== queries on a registry of 1,000,000 datasets (5 types x 20,000 exposures x 10 detectors, 300 runs under bench/all); generated in ${t% *} s"
else
  echo "== queries on a registry of 1,000,000 datasets (5 types x 20,000 exposures x 10 detectors, 300 runs under bench/all)"
fi
[ "$BACKEND" = sqlite ] && echo "registry file: $(du -h "$REG/gen3.sqlite3" | cut -f1)"
EXP=2025051000042
echo "query-datasets, one exposure and detector, over the chain: $(median_ms 20 "$BUTLER" query-datasets "$REG" raw --collections bench/all --where "instrument = 'BenchCam' AND exposure = $EXP AND detector = 3") ms (median of 20)"
echo "query-datasets, same, all five types:                     $(median_ms 20 "$BUTLER" query-datasets "$REG" --collections bench/all --where "instrument = 'BenchCam' AND exposure = $EXP AND detector = 3") ms"
echo "query-collections bench/all:                               $(median_ms 20 "$BUTLER" query-collections "$REG" bench/all) ms"
echo "query-collections, all 301 collections as JSON:            $(median_ms 20 "$BUTLER" query-collections "$REG" --format json) ms"
r=$(measure "$BUTLER" query-datasets "$REG" calexp --collections bench/all --find-first --format json)
rows=$("$BUTLER" query-datasets "$REG" calexp --collections bench/all --find-first --format csv | tail -n +2 | wc -l)
awk -v s="${r% *}" -v m="${r#* }" -v n="$rows" 'BEGIN { printf "find-first calexp over 300 runs, %d rows as JSON:       %.2f s, peak RSS %.1f MB\n", n, s, m / 1024 }'
r=$(measure "$BUTLER" query-datasets "$REG" calexp --collections bench/all --find-first --format json --limit 20000)
awk -v s="${r% *}" -v m="${r#* }" 'BEGIN { printf "same, first 20,000 rows:                                   %.2f s, peak RSS %.1f MB\n", s, m / 1024 }'
echo "query-data-ids exposure over one night (where day_obs):   $(median_ms 5 "$BUTLER" query-data-ids "$REG" exposure --where "instrument = 'BenchCam' AND day_obs = 20250510") ms"
fi

if [ "$ONLY" = all ] || [ "$ONLY" = provenance ]; then
echo
N=${BENCH_RECORD_QUANTA:-1000000}
echo "== provenance recording: butler record of $N quanta (3 inputs, 1 output each, shared environment and config)"
# The same registry as the batch benchmark's (N data IDs of five dataset types), made once per size.
REG="$OUT/registry-batch-$N"
if [ ! -f "$REG/butler.yaml" ]; then
  t=$(measure env "$(generator_registry "$REG")" BENCH_FILE_RECORDS=1 "$MAKE_REGISTRY" "$REG" $(( (N + 9) / 10 )) 10 100)
  echo "(registry of $((N * 5)) datasets generated in ${t% *} s)"
fi
WORK="$OUT/provenance"
rm -rf "$WORK"; mkdir -p "$WORK"
cp -r "$REG" "$WORK/repo"
"$BUTLER" register-dataset-type "$WORK/repo" benchOutput ExposureF instrument detector exposure >/dev/null 2>&1 || true
for t in raw postISRCCD calexpBackground; do
  "$BUTLER" query-datasets "$WORK/repo" "$t" --collections bench/all --format csv --limit "$N" > "$WORK/$t.csv"
done
echo "fake output" > "$WORK/output.dat"
# The same quanta as one JSON document (spec.json) and as JSON Lines (spec.jsonl, a header line then a quantum a line),
# written a quantum at a time.
python3 - "$WORK" "$N" <<'PY'
import csv, json, sys
work, limit = sys.argv[1], int(sys.argv[2])
ids = {}
for t in ["raw", "postISRCCD", "calexpBackground"]:
    with open(f"{work}/{t}.csv") as f:
        for row in csv.DictReader(f):
            ids.setdefault((row["detector"], row["exposure"]), {})[t] = row["id"]
header = {"run": "bench/provenance", "environments": {"stack": {"packages": {f"pkg{i}": "1.0" for i in range(50)}}},
          "configs": {"step.yaml": {"content": "a: 1\n"}}}
n = 0
with open(f"{work}/spec.json", "w") as doc, open(f"{work}/spec.jsonl", "w") as lines:
    doc.write(json.dumps(header)[:-1] + ', "quanta": [\n')
    # Its own RUN: on PostgreSQL a copied repository shares its registry.
    lines.write(json.dumps(dict(header, run="bench/provenance-lines")) + "\n")
    for (det, exp), inputs in list(ids.items())[:limit]:
        q = json.dumps({"task": "benchStep", "data_id": {"instrument": "BenchCam", "detector": int(det), "exposure": int(exp)},
                        "environment": "stack", "configs": ["step.yaml"], "parameters": {"mode": "bench"},
                        "inputs": [{"role": r, "dataset": i} for r, i in inputs.items()],
                        "outputs": [{"role": "out", "dataset_type": "benchOutput", "transfer": "direct", "file": "output.dat",
                                     "data_id": {"instrument": "BenchCam", "detector": int(det), "exposure": int(exp)}, "metrics": {"seeing": 0.8}}]})
        doc.write(("," if n else "") + q + "\n")
        lines.write(q + "\n")
        n += 1
    doc.write("]}\n")
print(f"(spec: {n} quanta, {sum(len(v) for v in list(ids.values())[:limit])} inputs; {__import__('os').path.getsize(work + '/spec.json') >> 20} MB of JSON)")
PY
cp -r "$WORK/repo" "$WORK/repo-lines"
floor_base "$WORK/repo" "$WORK/floor" $(( (N + 9) / 10 )) 10 100
"$BUTLER" register-dataset-type "$WORK/floor" benchOutput ExposureF instrument detector exposure >/dev/null 2>&1 || true
r=$(measure "$BUTLER" record "$WORK/repo" "$WORK/spec.json")
awk -v n="$N" -v s="${r% *}" -v m="${r#* }" 'BEGIN { printf "butler record, JSON document: %.2f s (%.0f quanta/s), peak RSS %.1f MB\n", s, n / s, m / 1024 }'
sed '$d' "$OUT/cmd.err" | grep -v '^$' | head -3 || true
engine_floor "$WORK/repo" "$WORK/floor" bench/provenance "${r% *}"
r=$(measure "$BUTLER" record "$WORK/repo-lines" "$WORK/spec.jsonl")
awk -v n="$N" -v s="${r% *}" -v m="${r#* }" 'BEGIN { printf "butler record, JSON Lines:    %.2f s (%.0f quanta/s), peak RSS %.1f MB\n", s, n / s, m / 1024 }'
sed '$d' "$OUT/cmd.err" | grep -v '^$' | head -3 || true
echo "  registered: $(count_rows "$WORK/repo" quantum) steps, $(count_rows "$WORK/repo" quantum_input) input edges"
rm -rf "$WORK/repo-lines"
rm -rf "$WORK/small"; create_repo "$WORK/small" >/dev/null
echo "butler run around /bin/true (log only): $(median_ms 10 "$BUTLER" run "$WORK/small" --run bench/noop --task noop -- /bin/true) ms (median of 10)"
[ -n "${BENCH_KEEP:-}" ] || rm -rf "$WORK"
fi

if [ "$ONLY" = all ] || [ "$ONLY" = batch ]; then
echo
N=${BENCH_BATCH_QUANTA:-1000000}
echo "== batch: $N staged quanta (3 inputs, 1 output and a log each) resolved, merged, merged again"
# A registry with N data IDs of five dataset types (N/10 exposures x 10 detectors), made once per size.
REG="$OUT/registry-batch-$N"
if [ ! -f "$REG/butler.yaml" ]; then
  t=$(measure env "$(generator_registry "$REG")" BENCH_FILE_RECORDS=1 "$MAKE_REGISTRY" "$REG" $(( (N + 9) / 10 )) 10 100)
  echo "(registry of $((N * 5)) datasets generated in ${t% *} s)"
fi
WORK="$OUT/batch"
rm -rf "$WORK"; mkdir -p "$WORK"
cp -r "$REG" "$WORK/repo"
"$BUTLER" register-dataset-type "$WORK/repo" benchOutput ExposureF instrument detector exposure >/dev/null 2>&1 || true
r=$(measure "$BUTLER" resolve-inputs "$WORK/repo" "$WORK/jobs.jsonl" --input raw=raw --input bias=postISRCCD --input flat=calexpBackground \
      --output out=benchOutput --collections bench/all)
awk -v n="$N" -v s="${r% *}" -v m="${r#* }" 'BEGIN { printf "resolve-inputs, %d jobs of 3 inputs: %.2f s (%.0f jobs/s), peak RSS %.1f MB\n", n, s, n / s, m / 1024 }'
# A staged run around /bin/true (job 1 of a jobs file without outputs): what each batch job pays for its provenance.
"$BUTLER" resolve-inputs "$WORK/repo" "$WORK/noop.jsonl" --input raw=raw --collections bench/all --where "instrument = 'BenchCam' AND exposure = $(sed -n 2p "$WORK/jobs.jsonl" | grep -o '"exposure":[0-9]*' | head -1 | cut -d: -f2) AND detector = 0" >/dev/null
echo "staged butler run around /bin/true: $(median_ms 20 "$BUTLER" run "$WORK/repo" --jobs "$WORK/noop.jsonl" --job 1 --run bench/noop --task noop --staging "$WORK/noop-staging" -- /bin/true) ms (median of 20)"
# N staged records as N jobs would leave them (written directly, which is faster than running N jobs here).
t0=$(date +%s)
python3 - "$WORK/jobs.jsonl" "$WORK/repo/staged" <<'PY'
import hashlib, json, os, sys, uuid, time
jobs_path, area = sys.argv[1], sys.argv[2]
os.makedirs(area, exist_ok=True)
packages = {f"pkg{i}": "1.0" for i in range(50)}
# The environment's id is its content address (SoftwareEnvironment.id): merge-staged refuses any other.
env_text = "".join(f"{k}=={v}\n" for k, v in sorted(packages.items())) + "commit=\ndirty=\nexecutable=\n"
env = {"id": hashlib.sha256(env_text.encode()).hexdigest(), "packages": packages, "code_commit": None, "code_dirty": None, "executable_hash": None}
config = {"hash": hashlib.sha256(b"a: 1\n").hexdigest(), "format": "yaml", "content": "a: 1\n", "encoding": None}
# The step's config digest (Quantum.configDigest): its config files and parameters, hashed as merge-staged checks.
digest = hashlib.sha256(f"file step.yaml {config['hash']}\nparam mode=bench\n".encode()).hexdigest()
payload = b"fake output\n"
payload_sum = hashlib.sha256(payload).hexdigest()
log = b"step done\n"
log_sum = hashlib.sha256(log).hexdigest()
t = time.time_ns()
with open(jobs_path) as f:
    header = json.loads(f.readline())
    types = dict(header["dataset_types"])
    types["benchStep_log"] = {"storage_class": "TextFile", "dimensions": types["benchOutput"]["dimensions"]}
    for line in f:
        job = json.loads(line)
        q = str(uuid.uuid4())
        out, lg = str(uuid.uuid4()), str(uuid.uuid4())
        d = os.path.join(area, q)
        os.mkdir(d)
        with open(os.path.join(d, "out.dat"), "wb") as o: o.write(payload)
        with open(os.path.join(d, "log.txt"), "wb") as o: o.write(log)
        data_id = job["outputs"][0]["data_id"]
        step = {"id": q, "task_label": "benchStep", "run": "bench/batch", "data_id": ",".join(f"{k}={v}" for k, v in sorted(job["data_id"].items())),
                "host": "node1", "user_name": "bench", "command": "step", "start_time": t, "end_time": t + 1000, "status": "succeeded", "exit_code": 0,
                "environment_id": env["id"], "config_digest": digest, "log_dataset_id": lg, "configs": {"step.yaml": config["hash"]},
                "parameters": {"mode": "bench"}, "inputs": [{"dataset_id": i["id"], "role": i["role"]} for i in job["inputs"]],
                "outputs": [{"dataset_id": out, "role": "out"}, {"dataset_id": lg, "role": "log"}]}
        record = {"format": "butler-staged-quantum", "version": 1, "job": job["job"], "jobs_file": jobs_path, "step": step, "environment": env,
                  "configs": [config], "failure": None, "metrics": {"seeing": 0.8}, "inputs": job["inputs"], "dataset_types": types,
                  "outputs": [{"role": "out", "id": out, "dataset_type": "benchOutput", "data_id": data_id, "file": "out.dat", "size": len(payload), "sha256": payload_sum},
                              {"role": "log", "id": lg, "dataset_type": "benchStep_log", "data_id": data_id, "file": "log.txt", "size": len(log), "sha256": log_sum}]}
        with open(os.path.join(d, "quantum.json"), "w") as o: json.dump(record, o)
PY
echo "($N staged records written in $(( $(date +%s) - t0 )) s)"
floor_base "$WORK/repo" "$WORK/floor" $(( (N + 9) / 10 )) 10 100
"$BUTLER" register-dataset-type "$WORK/floor" benchOutput ExposureF instrument detector exposure >/dev/null 2>&1 || true
r=$(measure "$BUTLER" merge-staged "$WORK/repo")
awk -v n="$N" -v s="${r% *}" -v m="${r#* }" 'BEGIN { printf "merge-staged, %d quanta (%d datasets, files hard-linked and checksummed): %.2f s (%.0f quanta/s), peak RSS %.1f MB\n", n, 2 * n, s, n / s, m / 1024 }'
sed '$d' "$OUT/cmd.err" | grep -v '^$' | head -3 || true
engine_floor "$WORK/repo" "$WORK/floor" bench/batch "${r% *}"
echo "  registered: $(count_rows "$WORK/repo" quantum) steps, $(count_rows "$WORK/repo" quantum_input) input edges"
r=$(measure "$BUTLER" merge-staged "$WORK/repo")
echo "merge-staged again (nothing left): ${r% *} s"
rm -rf "$WORK"
fi
if [ "$ONLY" = all ] || [ "$ONLY" = lineage ]; then
# The same provenance queries on the release at $1; each figure also goes into FIG[$2.key] for the growth ratios.
declare -A FIG
release_queries() {
  local REL=$1 tag=$2 n r rows CAT RAW BIAS
  echo "$(count_rows "$REL" dataset) datasets, $(count_rows "$REL" quantum) quanta, $(count_rows "$REL" quantum_input) input edges"
  FIG[$tag.startup]=$(median_ms 10 "$BUTLER" query-collections "$REL" bench/calib)
  echo "start-up (query-collections of one name): ${FIG[$tag.startup]} ms (median of 10)"
  CAT="deepCoadd_meas:skymap=bench,tract=0,patch=3"
  n=$("$BUTLER" provenance "$REL" "$CAT" --collections bench/coadd | awk 'NR == 1')
  echo "upstream lineage of one coadd catalog ($n)"
  FIG[$tag.coadd]=$(median_ms 10 "$BUTLER" provenance "$REL" "$CAT" --collections bench/coadd)
  echo "  tree:      ${FIG[$tag.coadd]} ms (median of 10; $(awk -v a="${FIG[$tag.coadd]}" -v b="${FIG[$tag.startup]}" 'BEGIN { printf "%.1f", a / b }')x start-up)"
  echo "  json:      $(median_ms 10 "$BUTLER" provenance "$REL" "$CAT" --collections bench/coadd --format json) ms"
  echo "  prov-json: $(median_ms 10 "$BUTLER" provenance "$REL" "$CAT" --collections bench/coadd --format prov-json) ms"
  RAW=$("$BUTLER" query-datasets "$REL" raw --collections bench/raw/all --where "instrument = 'BenchCam' AND exposure = 2025010200050 AND detector = 4" --format csv | tail -1 | cut -d, -f3)
  n=$("$BUTLER" provenance "$REL" "$RAW" --downstream | awk 'NR == 1')
  FIG[$tag.raw]=$(median_ms 10 "$BUTLER" provenance "$REL" "$RAW" --downstream)
  echo "downstream of one raw ($n): ${FIG[$tag.raw]} ms"
  BIAS=$("$BUTLER" query-datasets "$REL" bias --collections bench/calib --where "instrument = 'BenchCam' AND detector = 4" --format csv | tail -1 | cut -d, -f3)
  r=$(measure "$BUTLER" provenance "$REL" "$BIAS" --downstream --format json)
  n=$("$BUTLER" provenance "$REL" "$BIAS" --downstream | awk 'NR == 1')
  FIG[$tag.bias]=$(awk -v s="${r% *}" 'BEGIN { printf "%.1f", s * 1000 }')
  echo "downstream of one bias ($n), JSON: ${r% *} s, peak RSS $(awk -v m="${r#* }" 'BEGIN { printf "%.1f", m / 1024 }') MB"
  r=$(measure "$BUTLER" provenance "$REL" "$BIAS" --downstream)
  echo "  the same as a tree: ${r% *} s, peak RSS $(awk -v m="${r#* }" 'BEGIN { printf "%.1f", m / 1024 }') MB"
  rows=$("$BUTLER" query-datasets "$REL" --produced-with ip_isr=30.0.4 --format csv | grep -vc '^type,\|^$')
  echo "every dataset made with ip_isr 30.0.4 ($rows datasets), whole registry:"
  FIG[$tag.producedAll]=$(median_ms 5 "$BUTLER" query-datasets "$REL" --produced-with ip_isr=30.0.4 --format json)
  echo "  as JSON:   ${FIG[$tag.producedAll]} ms (median of 5)"
  FIG[$tag.producedNight]=$(median_ms 5 "$BUTLER" query-datasets "$REL" calexp --produced-with ip_isr=30.0.4 --where "instrument = 'BenchCam' AND day_obs = 20250301" --format json)
  echo "  calexp only, one night: ${FIG[$tag.producedNight]} ms"
  rows=$("$BUTLER" query-datasets "$REL" --derived-from "$RAW" --format csv | grep -vc '^type,\|^$')
  FIG[$tag.derived]=$(median_ms 5 "$BUTLER" query-datasets "$REL" --derived-from "$RAW" --format json)
  echo "every dataset derived from one raw ($rows): ${FIG[$tag.derived]} ms"
  FIG[$tag.point]=$(median_ms 5 "$BUTLER" query-datasets "$REL" calexp --collections bench/all --where "instrument = 'BenchCam' AND exposure = 2025010200050 AND detector = 4" --format json)
  echo "point query (one calexp by data ID): ${FIG[$tag.point]} ms"
  r=$(measure "$BUTLER" verify "$REL")
  echo "verify (no files, every provenance edge): ${r% *} s"
}
# The release at SCALE times the default size ($1; 1: ~1 M datasets), generated once: prints its folder.
release_at() {
  local scale=$1 REL t
  REL="$OUT/release-${scale}m"
  [ "$scale" = 1 ] || REL="$OUT/release-$((scale))x"
  if [ ! -f "$REL/butler.yaml" ]; then
    rm -rf "$REL"
    t=$(measure env "$(generator_registry "$REL")" "$MAKE_REGISTRY" --release "$REL" $((14500 * scale)))
    echo "(release generated in ${t% *} s)" >&2
  fi
  echo "$REL"
}
echo
echo "== provenance queries on a data release"
release_queries "$(release_at 1)" 1
# BENCH_SCALE=10: the same queries on a release ten times larger (~10 M datasets, ~2.9 M steps, ~9 GB on SQLite),
# with each figure's growth over the 1 M release (run on request: generating it takes minutes).
SCALE=${BENCH_SCALE:-1}
if [ "$SCALE" != 1 ]; then
  echo
  echo "== the same queries on a release ${SCALE}x larger"
  release_queries "$(release_at "$SCALE")" "$SCALE"
  echo "growth (${SCALE}x release / 1x release, same answer where the query names one data ID):"
  for k in startup point coadd raw derived producedNight producedAll bias; do
    awk -v k="$k" -v a="${FIG[$SCALE.$k]}" -v b="${FIG[1.$k]}" 'BEGIN { printf "  %-14s %9.1f ms -> %9.1f ms: %.2fx\n", k, b, a, a / b }'
  done
fi
fi

if [ "$ONLY" = all ] || [ "$ONLY" = interchange ]; then
echo
N=${BENCH_INTERCHANGE_N:-100000}
echo "== export, import, transfer: $N datasets with their provenance ($N steps, 3 inputs each)"
WORK="$OUT/interchange"
rm -rf "$WORK"; mkdir -p "$WORK"
# The source: a generated registry (N data IDs, several dataset types) plus N recorded steps, each with one output file.
t=$(measure env "$(generator_registry "$WORK/source")" "$MAKE_REGISTRY" "$WORK/source" $(( N / 10 )) 10 10)
echo "(source registry generated in ${t% *} s: $(count_rows "$WORK/source" dataset) datasets)"
"$BUTLER" register-dataset-type "$WORK/source" benchOutput StructuredDataDict instrument detector exposure >/dev/null
for t in raw postISRCCD calexpBackground; do
  "$BUTLER" query-datasets "$WORK/source" "$t" --collections bench/all --format csv --limit "$N" > "$WORK/$t.csv"
done
python3 -c 'print("\n".join(f"key{i}: {i}" for i in range(200)))' > "$WORK/output.yaml"
python3 - "$WORK" "$N" <<'PY'
import csv, json, sys
work, limit = sys.argv[1], int(sys.argv[2])
ids = {}
for t in ["raw", "postISRCCD", "calexpBackground"]:
    with open(f"{work}/{t}.csv") as f:
        for row in csv.DictReader(f):
            ids.setdefault((row["detector"], row["exposure"]), {})[t] = row["id"]
quanta = [{"task": "benchStep", "data_id": {"instrument": "BenchCam", "detector": int(d), "exposure": int(e)}, "environment": "stack",
           "configs": ["step.yaml"], "parameters": {"mode": "bench"}, "inputs": [{"role": r, "dataset": i} for r, i in inputs.items()],
           "outputs": [{"role": "out", "dataset_type": "benchOutput", "transfer": "copy", "file": "output.yaml",
                        "data_id": {"instrument": "BenchCam", "detector": int(d), "exposure": int(e)}}]}
          for (d, e), inputs in list(ids.items())[:limit]]
json.dump({"run": "bench/products", "environments": {"stack": {"packages": {f"pkg{i}": "1.0" for i in range(50)}}},
           "configs": {"step.yaml": {"content": "a: 1\n"}}, "quanta": quanta}, open(f"{work}/spec.json", "w"))
PY
(cd "$WORK" && "$BUTLER" record source spec.json >/dev/null)
report() { awk -v what="$1" -v s="${2% *}" -v m="${2#* }" -v n="$N" 'BEGIN { printf "%-58s %7.2f s (%6.0f datasets/s), peak RSS %.1f MB\n", what, s, n / s, m / 1024 }'; }
r=$(measure "$BUTLER" export "$WORK/source" "$WORK/export" benchOutput --collections bench/products -t copy); report "export (export.yaml + files + provenance):" "$r"
echo "  export.yaml $(du -h "$WORK/export/export.yaml" | cut -f1), butler_provenance.json $(du -h "$WORK/export/butler_provenance.json" | cut -f1)"
create_repo "$WORK/imported" >/dev/null
r=$(measure "$BUTLER" import "$WORK/imported" "$WORK/export" -t copy); report "import of that directory, into a new repository:" "$r"
# The same files created by cp at the same moment: creating 20,000 files costs what the file system makes it cost (ext4
# slows down tenfold after many deletions), so the import is read beside it.
r=$(measure cp -r "$WORK/export" "$WORK/export-cp"); report "  cp -r of the export directory, for comparison:" "$r"
rm -rf "$WORK/export-cp"
r=$(measure "$BUTLER" import "$WORK/imported" "$WORK/export" -t copy); report "the same import again (adds nothing):" "$r"
create_repo "$WORK/transferred" >/dev/null
r=$(measure "$BUTLER" transfer-datasets "$WORK/source" "$WORK/transferred" benchOutput --collections bench/products --register-dataset-types)
report "transfer-datasets into a new repository:" "$r"
r=$(measure "$BUTLER" transfer-datasets "$WORK/source" "$WORK/transferred" benchOutput --collections bench/products); report "the same transfer again (adds nothing):" "$r"
create_repo "$WORK/direct" >/dev/null
r=$(measure "$BUTLER" transfer-datasets "$WORK/source" "$WORK/direct" benchOutput --collections bench/products --register-dataset-types -t direct)
report "transfer-datasets -t direct (no bytes move):" "$r"
r=$(measure "$BUTLER" retrieve-artifacts "$WORK/source" "$WORK/zip" -d benchOutput --collections bench/products --zip)
report "retrieve-artifacts --zip:" "$r"
ZIP=$(ls "$WORK"/zip/*.zip)
echo "  Zip $(du -h "$ZIP" | cut -f1)"
create_repo "$WORK/zipped" >/dev/null
r=$(measure "$BUTLER" ingest-zip "$WORK/zipped" "$ZIP" -t copy --transfer-dimensions); report "ingest-zip -t copy (stored whole, every member read):" "$r"
r=$(measure "$BUTLER" verify "$WORK/zipped" --checksums); report "  verify --checksums of it (members read in place):" "$r"
create_repo "$WORK/extracted" >/dev/null
r=$(measure "$BUTLER" ingest-zip "$WORK/extracted" "$ZIP" -t copy --transfer-dimensions --extract); report "ingest-zip --extract (a file per member):" "$r"
# File copy speed against cp -r, on the ingest benchmark's raws.
RAWS="$OUT/raws-$FILES"
[ "$(find "$RAWS" -name '*.fits' 2>/dev/null | wc -l)" = "$FILES" ] || { rm -rf "$RAWS"; "$MAKE_RAWS" "$TEMPLATE" "$RAWS" "$FILES" 256 9 100 >/dev/null; }
if [ -d "$RAWS" ]; then
  create_repo "$WORK/raws" >/dev/null
  "$BUTLER" ingest-raws "$WORK/raws" "$RAWS" -t copy >/dev/null
  create_repo "$WORK/raws-copy" >/dev/null
  sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
  r=$(measure "$BUTLER" transfer-datasets "$WORK/raws" "$WORK/raws-copy" raw --register-dataset-types)
  sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
  c=$(measure cp -r "$WORK/raws/datastore" "$WORK/cp-copy")
  awk -v n="$FILES" -v s="${r% *}" -v c="${c% *}" -v size="$(du -sm "$RAWS" | cut -f1)" 'BEGIN { printf "transfer-datasets of %d raws (%d MB): %.2f s; cp -r of the same files: %.2f s (ratio %.2f)\n", n, size, s, c, s / c }'
fi
# Rubin's butler on the same datasets (its import untimed, then its transfer-datasets timed).
RUBIN=.build/rubin-venv/bin
if [ -x "$RUBIN/butler" ] && [ "$BACKEND" = sqlite ]; then
  export PYTHONPATH="$PWD/scripts/rubin/standins${PYTHONPATH:+:$PYTHONPATH}"
  "$RUBIN/butler" create "$WORK/rubin-a" >/dev/null && "$RUBIN/butler" create "$WORK/rubin-b" >/dev/null
  t=$(measure "$RUBIN/butler" import "$WORK/rubin-a" "$WORK/export" -t copy)
  echo "(Rubin's repository then holds $(sqlite3 "$WORK/rubin-a/gen3.sqlite3" "SELECT COUNT(*) FROM dataset") datasets)"
  grep -E "Error|error" "$OUT/cmd.err" | tail -2 || true
  report "Rubin's butler import of the export (-t copy):" "$t"
  r=$(measure "$RUBIN/butler" transfer-datasets "$WORK/rubin-a" "$WORK/rubin-b" -d benchOutput --collections bench/products --limit 0 --register-dataset-types --transfer-dimensions)
  echo "  (Rubin's destination then holds $(sqlite3 "$WORK/rubin-b/gen3.sqlite3" "SELECT COUNT(*) FROM dataset") datasets)"
  report "Rubin's butler transfer-datasets of the same datasets:" "$r"
  mkdir -p "$WORK/rubin-export"
  r=$(measure "$RUBIN/python" -c '
import sys
from lsst.daf.butler import Butler
butler = Butler(sys.argv[1])
with butler.export(directory=sys.argv[2], format="yaml", transfer="copy") as export:
    export.saveDatasets(butler.query_datasets("benchOutput", collections="bench/products", limit=None))
' "$WORK/rubin-a" "$WORK/rubin-export")
  report "Rubin's Butler.export of the same datasets (-t copy):" "$r"
  echo "  (its directory holds $(find "$WORK/rubin-export" -type f | wc -l) files)"
  r=$(measure "$RUBIN/butler" retrieve-artifacts "$WORK/rubin-a" "$WORK/rubin-zip" -d benchOutput --collections bench/products --zip)
  report "Rubin's butler retrieve-artifacts --zip:" "$r"
  "$RUBIN/butler" create "$WORK/rubin-c" >/dev/null
  r=$(measure "$RUBIN/butler" ingest-zip "$WORK/rubin-c" "$(ls "$WORK"/rubin-zip/*.zip)" --transfer-dimensions -t copy)
  report "Rubin's butler ingest-zip -t copy:" "$r"
fi
[ -n "${BENCH_KEEP:-}" ] || rm -rf "$WORK"  # BENCH_KEEP=1 keeps the repositories, to look at
fi

if [ "$ONLY" = all ] || [ "$ONLY" = sky ]; then
echo
echo "== sky: register-skymap hsc_rings_v1 (18,938 tracts, 1,533,978 patches) and spatial queries against it"
WORK="$OUT/sky"
rm -rf "$WORK"; mkdir -p "$WORK"
create_repo "$WORK/repo" >/dev/null
printf '%s\n' 'config.name = "hsc_rings_v1"' 'config.skyMap.name = "rings"' 'config.skyMap["rings"].numRings = 120' \
  'config.skyMap["rings"].projection = "TAN"' 'config.skyMap["rings"].tractOverlap = 1.0/60' 'config.skyMap["rings"].pixelScale = 0.168' > "$WORK/hsc.py"
r=$(measure "$BUTLER" register-skymap "$WORK/repo" --config "$WORK/hsc.py")
awk -v s="${r% *}" -v m="${r#* }" 'BEGIN { printf "register-skymap hsc_rings_v1 (regions and their HTM index, one transaction): %.1f s (%.0f patches/s), peak RSS %.1f MB\n", s, 1533978 / s, m / 1024 }'
echo "  (rows: $(count_rows "$WORK/repo" patch) patches, $(count_rows "$WORK/repo" patch_skypix_overlap) patch pixels, $(count_rows "$WORK/repo" patch_region_edge) patch edges)"
echo "patches holding COSMOS's centre (POINT): $(median_ms 10 "$BUTLER" query-data-ids "$WORK/repo" patch --where "skymap = 'hsc_rings_v1' AND patch.region OVERLAPS POINT(150.1, 2.2)") ms (median of 10)"
echo "patches within 1 degree of it (CIRCLE): $(median_ms 10 "$BUTLER" query-data-ids "$WORK/repo" patch --where "skymap = 'hsc_rings_v1' AND patch.region OVERLAPS CIRCLE(150.1, 2.2, 1.0)") ms (median of 10)"
echo "  ($("$BUTLER" query-data-ids "$WORK/repo" patch --where "skymap = 'hsc_rings_v1' AND patch.region OVERLAPS CIRCLE(150.1, 2.2, 1.0)" --format csv | tail -n +2 | wc -l) patches)"
rm -rf "$WORK"
fi

if [ "$ONLY" = all ] || [ "$ONLY" = s3 ]; then
echo
N=${BENCH_S3_FILES:-5000}
echo "== S3: ingest of $N synthetic LSSTCam raws (256x256) into a folder and into a bucket of rclone serve s3 on loopback; a 2 GiB file put"
[ -n "${S3_ENDPOINT_URL:-}" ] || { echo "bench s3: S3_ENDPOINT_URL is not set: run through scripts/with-s3.sh (make bench does)" >&2; exit 1; }
WORK="$OUT/s3"
rm -rf "$WORK"; mkdir -p "$WORK"
"$MAKE_RAWS" "$TEMPLATE" "$WORK/raws" "$N" 256 9 100 >/dev/null
MB=$(du -sm "$WORK/raws" | cut -f1)
create_repo "$WORK/folder" >/dev/null
create_repo "$WORK/bucket" --datastore "s3://$BUTLER_TEST_S3_BUCKET/bench-$RANDOM$RANDOM" >/dev/null
for kind in folder bucket; do
  r=$(measure "$BUTLER" ingest-raws "$WORK/$kind" "$WORK/raws" -t copy)
  awk -v k="$kind" -v n="$N" -v mb="$MB" -v s="${r% *}" -v m="${r#* }" 'BEGIN { printf "ingest-raws -t copy into a %-6s %7.2f s (%6.0f files/s, %6.1f MB/s), peak RSS %.1f MB\n", k, s, n / s, mb / s, m / 1024 }'
done
# rclone's own copy of the same files to the same server, for comparison (rclone is the server's program too).
r=$(measure env RCLONE_CONFIG_BENCH_TYPE=s3 RCLONE_CONFIG_BENCH_PROVIDER=Other RCLONE_CONFIG_BENCH_ENDPOINT="$S3_ENDPOINT_URL" \
  RCLONE_CONFIG_BENCH_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY" RCLONE_CONFIG_BENCH_REGION=us-east-1 \
  "$BUTLER_TEST_RCLONE" copy "$WORK/raws" "bench:$BUTLER_TEST_S3_BUCKET/rclone-$RANDOM$RANDOM")
awk -v n="$N" -v mb="$MB" -v s="${r% *}" -v m="${r#* }" 'BEGIN { printf "rclone copy of the same files to the server %7.2f s (%6.0f files/s, %6.1f MB/s), peak RSS %.1f MB\n", s, n / s, mb / s, m / 1024 }'
dd if=/dev/urandom of="$WORK/big.parq" bs=1M count=2048 status=none
for kind in folder bucket; do
  "$BUTLER" register-dataset-type "$WORK/$kind" blob ArrowTable instrument >/dev/null
  r=$(measure "$BUTLER" put "$WORK/$kind" "$WORK/big.parq" --run u/big --dataset-type blob --data-id instrument=LSSTCam)
  awk -v k="$kind" -v s="${r% *}" -v m="${r#* }" 'BEGIN { printf "put of one 2 GiB file into a %-6s %7.2f s (%6.1f MB/s), peak RSS %.1f MB\n", k, s, 2048 / s, m / 1024 }'
done
r=$(measure "$BUTLER" verify "$WORK/bucket" --checksums)
awk -v s="${r% *}" -v m="${r#* }" -v n="$N" 'BEGIN { printf "verify --checksums of the bucket (%d raws and the 2 GiB file, every byte read back): %.2f s, peak RSS %.1f MB\n", n, s, m / 1024 }'
rm -rf "$WORK"
fi

if [ "$ONLY" = all ] || [ "$ONLY" = reproduce ]; then
echo
N=${BENCH_REPRO_N:-500}
echo "== reproduce and compare-runs: $N steps (demo-step pvi on 32x32 raws) in drp/v1, again in drp/v2 with ip_isr 30.0.2 and a worse seeing on half"
WORK="$OUT/reproduce"
STEP=$(dirname "$BUTLER")/demo-step
rm -rf "$WORK"; mkdir -p "$WORK"
"$MAKE_RAWS" "$TEMPLATE" "$WORK/raws" "$N" 32 9 100 >/dev/null
create_repo "$WORK/repo" >/dev/null
"$BUTLER" ingest-raws "$WORK/repo" "$WORK/raws" >/dev/null
"$BUTLER" register-dataset-type "$WORK/repo" calexp ExposureF instrument detector exposure >/dev/null
i=0
t0=$(date +%s%N)
while IFS=, read -r _ _ _ _ det exp; do
  i=$((i + 1))
  id="instrument=LSSTCam,detector=$det,exposure=$exp"
  "$BUTLER" run "$WORK/repo" --run drp/v1 --task pvi --input raw=raw:$id --collections LSSTCam/raw/all --output out=calexp:$id \
    --package ip_isr=30.0.1 -- "$STEP" pvi {raw} {out} {metrics} --seeing 0.8$((i % 10)) >/dev/null
  if [ $((i % 2)) = 0 ]; then v=30.0.2; s=0.9$((i % 10)); else v=30.0.1; s=0.8$((i % 10)); fi
  "$BUTLER" run "$WORK/repo" --run drp/v2 --task pvi --input raw=raw:$id --collections LSSTCam/raw/all --output out=calexp:$id \
    --package ip_isr=$v -- "$STEP" pvi {raw} {out} {metrics} --seeing $s >/dev/null
done < <("$BUTLER" query-datasets "$WORK/repo" raw --format csv | tail -n +2)
t1=$(date +%s%N)
awk -v n="$((2 * i))" -v a="$t0" -v b="$t1" 'BEGIN { printf "butler run (to make them): %d steps in %.1f s, %.1f ms each\n", n, (b - a) / 1e9, (b - a) / 1e6 / n }'
r=$(measure "$BUTLER" reproduce "$WORK/repo" --datasets calexp --collections drp/v1 --run u/repro)
awk -v n="$i" -v s="${r% *}" -v m="${r#* }" 'BEGIN { printf "reproduce %d steps (each run again and its FITS output compared): %.1f s, %.1f ms per step, peak RSS %.1f MB\n", n, s, s * 1000 / n, m / 1024 }'
r=$(measure "$BUTLER" reproduce "$WORK/repo" --datasets calexp --collections drp/v1 --dry-run)
awk -v n="$i" -v s="${r% *}" -v m="${r#* }" 'BEGIN { printf "reproduce --dry-run of the same: %.2f s, peak RSS %.1f MB\n", s, m / 1024 }'
r=$(measure "$BUTLER" compare-runs "$WORK/repo" drp/v1 drp/v2 calexp --plot "$WORK/compare.svg")
awk -v n="$i" -v s="${r% *}" -v m="${r#* }" 'BEGIN { printf "compare-runs over %d pairs, 2 metrics, with the picture: %.2f s, peak RSS %.1f MB\n", n, s, m / 1024 }'
"$BUTLER" compare-runs "$WORK/repo" drp/v1 drp/v2 calexp --metric seeing | grep '^seeing' | sed 's/^/  /'
rm -rf "$WORK"
fi
