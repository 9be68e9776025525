#!/usr/bin/env bash
# Runs every ```sh block of README.md, in order, as written, in one scratch folder, with the built binary as `butler`
# on PATH, so that the README's examples can never drift from what the binary does.
#
#   scripts/readme-blocks.sh [BUTLER]        (default .build/debug/butler; run from the package root)
#
# A preamble provides what the examples name and does not make (README "Workflow" says so): the raws of Fixtures/raw
# under data/, the demo pipeline's steps as ./isr and ./pvi, small config files, a small skymap config, the YAML files
# and the `record` document the README shows. Paths of the examples are relative to the scratch folder; their absolute
# /shared/ and /local/ folders are folders of the scratch area. Blocks that need a server run against the throwaway ones `make test` starts (scripts/with-postgres.sh,
# with-s3.sh, with-slurm.sh): their example URLs are replaced by the test servers' ($BUTLER_TEST_POSTGRES,
# $S3_ENDPOINT_URL and $BUTLER_TEST_S3_BUCKET); without those servers such a block fails, it is never skipped.
# The first block (`make demo`, `make test`) is the one not run: it is what runs this script.
# Exit 0 when every block ran; otherwise each failure is reported with its README line and the exit code is 1.
set -uo pipefail
ROOT=$(pwd)
README="$ROOT/README.md"
BIN=$(realpath "${1:-.build/debug/butler}")
[ -x "$BIN" ] || { echo "readme-blocks: $BIN is not an executable (build first)" >&2; exit 1; }
STEP=$(dirname "$BIN")/demo-step
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/readme-blocks.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT
mkdir -p "$SCRATCH/bin" "$SCRATCH/blocks"
ln -s "$BIN" "$SCRATCH/bin/butler"
export PATH="$SCRATCH/bin:$PATH" HOME="$SCRATCH/home"
mkdir -p "$HOME"
cd "$SCRATCH/work" 2>/dev/null || { mkdir -p "$SCRATCH/work" && cd "$SCRATCH/work"; }

# ---- Preamble: the inputs the examples name -------------------------------------------------------------------------
# Raws: data/2025-06-09 (LATISS and LSSTCam science), data/night (ComCam and an LSSTCam calibration exposure), raw1-3
# (DECam, HSC, MegaPrime; raw3 gzip-compressed, raw2 a plain FITS file named .fz: files are read by their contents), lab/data (a LabCam raw for labcam.yaml), data/calibs (a bias file).
L="$ROOT/Fixtures/raw/lsst" O="$ROOT/Fixtures/raw/other"
mkdir -p data/2025-06-09 data/night data/calibs lab/data
cp "$L"/latiss-*.fits "$L"/lsstCam-MC_O_*.fits data/2025-06-09/
cp "$L"/comCam-*.fits "$L"/lsstCam-MC_C_*.fits data/night/
cp "$O"/fitsheader-decam.fits raw1.fits
cp "$O"/fitsheader-hsc.fits raw2.fits.fz
gzip -c "$O"/fitsheader-megaprime.fits > raw3.fits.gz
cp "$L"/lsstCam-MC_C_20250425_000031_R01_S01.fits data/calibs/bias-R22_S11.fits
python3 - lab/data/lab-000123.fits <<'PY'
import sys
cards = [("SIMPLE", "T"), ("BITPIX", "8"), ("NAXIS", "0"), ("INSTRUME", "'LabCam  '"), ("EXPNUM", "123"),
         ("FILTER", "'g-lab   '"), ("DATE-OBS", "'2025-06-09'"), ("UT", "'03:00:00.5'"), ("EXPTIME", "12.5"),
         ("IMAGETYP", "'OBJECT  '"), ("RA", "'01:00:00'"), ("DEC", "'-10:30:00'")]
text = "".join(f"{k:<8}= {v:>20}".ljust(80) for k, v in cards) + "END".ljust(80)
open(sys.argv[1], "wb").write(text.ljust(2880 * ((len(text) + 2879) // 2880)).encode("ascii"))
PY
# Files shown in the README as ```yaml or ```python blocks whose first line is `# NAME` are written under NAME.
awk '
  /^```(yaml|python)[[:space:]]*$/ { inb = 1; first = 1; next }
  /^```/ && inb { inb = 0; if (file) close(file); file = ""; next }
  inb && first { first = 0; if (match($0, /^# [A-Za-z0-9_.-]+\.(yaml|py)/)) file = substr($0, 3, RLENGTH - 2) }
  inb && file { print > file }
' "$README"
printf 'datastore:\n  checksum: sha256\n' > seed.yaml
cp "$ROOT"/Sources/ButlerKit/Resources/dimensions.yaml my-universe.yaml
printf 'config.transfer = "copy"\nconfig.failFast = True\n' > ingest.py
printf 'doBias: true\noverscan: median\n' > isr.yaml
printf 'astrometry: gaia_dr3\n' > calibrate.yaml
printf 'numpy==2.1.0\nlsst-ip-isr==30.0.1\n' > requirements.txt
printf 'name: stack\ndependencies:\n  - numpy=2.1.0\n  - lsst-ip-isr=30.0.1\n' > environment.yml
# ./isr and ./pvi: the demo pipeline's steps (Sources/demo-step): isr RAW BIAS FLAT OUT METRICS, pvi IN OUT METRICS.
for step in isr pvi; do
  printf '#!/bin/bash\nexec "%s" %s "$@"\n' "$STEP" "$step" > "$step" && chmod +x "$step"
done
# quanta.json: the `butler record` document shown in the README (its first JSON block with "quanta"), with the config
# and output file it names.
awk '/^```json[[:space:]]*$/ { inb = 1; text = ""; next } /^```/ && inb { inb = 0; if (!done && text ~ /"quanta"/) { printf "%s", text > "quanta.json"; done = 1 } next }
     inb { text = text $0 "\n" }' "$README"
# makeSkyMap.py: a small rings skymap under the README's name (Rubin's full hsc_rings_v1, shown in the README, has
# 1.9 million patches and takes minutes to register: `make bench` times it).
printf '%s\n' 'config.name = "hsc_rings_v1"' 'config.skyMap.name = "rings"' 'config.skyMap["rings"].numRings = 12' \
  'config.skyMap["rings"].projection = "TAN"' 'config.skyMap["rings"].tractOverlap = 1.0/60' 'config.skyMap["rings"].pixelScale = 2.0' > makeSkyMap.py
mkdir -p configs out && cp isr.yaml configs/isr.yaml && cp "$L"/latiss-AT_O_20230321_000053.fits out/isr-0.fits
cp "$L"/latiss-AT_O_20240624_000106_R00_S00.fits calexp.fits
# src/ip_isr: a source checkout for --code (its commit is recorded).
mkdir -p src/ip_isr && printf 'isr\n' > src/ip_isr/README && git -C src/ip_isr init -q && git -C src/ip_isr add README \
  && git -C src/ip_isr -c user.name=readme -c user.email=readme@localhost commit -qm 'ip_isr' 

# ---- The blocks ------------------------------------------------------------------------------------------------------
# Each block becomes blocks/N.sh (its README line numbers kept in a map), run with `set -e` in the work folder.
awk -v dir="$SCRATCH/blocks" '
  /^```sh[[:space:]]*$/ { n++; inb = 1; file = sprintf("%s/%02d.sh", dir, n); print NR + 1 > (file ".line"); next }
  /^```/ && inb { inb = 0; close(file); next }
  inb { print > file }
' "$README"

failed=0 ran=0
for block in "$SCRATCH"/blocks/*.sh; do
  n=$(basename "$block" .sh)
  first=$(cat "$block.line")
  if grep -q '^make demo' "$block"; then continue; fi
  script="$SCRATCH/blocks/run-$n.sh"
  {
    echo 'set -eEo pipefail'
    echo "trap 'echo \"README.md line \$((LINENO - 3 + $first)): exit \$?: \$BASH_COMMAND\" >&2' ERR"
    echo 'shopt -s expand_aliases'
    cat "$block"
  } > "$script"
  mkdir -p "$SCRATCH/shared" "$SCRATCH/local"
  # Example servers -> the test servers.
  if [ -n "${BUTLER_TEST_POSTGRES:-}" ]; then
    base=${BUTLER_TEST_POSTGRES%%\?*}
    sed -i -E "s#postgresql://pipeline@db\.example\.org(:5432)?/butler#$base#g" "$script"
  fi
  if [ -n "${S3_ENDPOINT_URL:-}" ] && [ -n "${BUTLER_TEST_S3_BUCKET:-}" ]; then
    sed -i -E -e "s#^export S3_ENDPOINT_URL=.*#: endpoint from the test server#" \
      -e "s#^export AWS_ACCESS_KEY_ID=.*#: credentials from the test server#" \
      -e "s#s3://rubin-dr1/#s3://$BUTLER_TEST_S3_BUCKET/readme-$$-dr1/#g" \
      -e "s#s3://rubin-raw/#s3://$BUTLER_TEST_S3_BUCKET/readme-$$-raw/#g" "$script"
    # The bucket of raws the example ingests in place: this folder's raws, uploaded once through the server's S3 API
    # (a file put into the server's folder behind its back may stay unlisted for minutes: rclone caches listings).
    if [ -z "${readme_raws_uploaded:-}" ] && grep -q "readme-$$-raw/" "$script"; then
      RCLONE_CONFIG_READMES3_TYPE=s3 RCLONE_CONFIG_READMES3_PROVIDER=Other RCLONE_CONFIG_READMES3_ENDPOINT="$S3_ENDPOINT_URL" \
        RCLONE_CONFIG_READMES3_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" RCLONE_CONFIG_READMES3_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY" \
        RCLONE_CONFIG_READMES3_REGION="${AWS_REGION:-us-east-1}" \
        "${BUTLER_TEST_RCLONE:?the S3 block needs scripts/with-s3.sh (BUTLER_TEST_RCLONE)}" copy -q data/2025-06-09 \
        "readmes3:$BUTLER_TEST_S3_BUCKET/readme-$$-raw/2025-06-09" \
        || { echo "readme-blocks: could not upload the raws of the S3 example" >&2; exit 1; }
      readme_raws_uploaded=1
    fi
  fi
  # The examples' absolute folders (a shared file system, a local disk) are folders of the scratch area.
  sed -i -E -e "s#(^|[ '\"])/shared/#\1$SCRATCH/shared/#g" -e "s#(^|[ '\"])/local/#\1$SCRATCH/local/#g" "$script"
  ran=$((ran + 1))
  if ! (bash "$script" < /dev/null > "$SCRATCH/blocks/$n.out" 2>&1); then
    failed=$((failed + 1))
    echo "readme-blocks: the block at README.md line $first failed:" >&2
    tail -5 "$SCRATCH/blocks/$n.out" | sed 's/^/    /' >&2
  fi
done
echo "readme-blocks: $((ran - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
