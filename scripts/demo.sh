#!/usr/bin/env bash
# The main job on the embedded SQLite default: create a repository, ingest real raws from several cameras,
# define visits, register dataset types, build a chain of collections, and list what is there.
set -euo pipefail
BUTLER=${1:-.build/debug/butler}
STEP=$(dirname "$BUTLER")/demo-step
REPO=${DEMO_REPO:-demo-repo}
rm -rf "$REPO"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

step "$BUTLER" create "$REPO"
# Real raw headers from LATISS, LSSTCam, LSSTComCam, DECam, HSC and MegaPrime (Fixtures/raw).
step "$BUTLER" ingest-raws "$REPO" Fixtures/raw --transfer copy
step "$BUTLER" ingest-raws "$REPO" Fixtures/raw --transfer copy   # again: nothing changes
step "$BUTLER" query-datasets "$REPO" raw
step "$BUTLER" define-visits "$REPO" LSSTCam
# Sky regions: which visits and detectors cover a position; a rings skymap's tracts and patches on the visits.
step "$BUTLER" query-dimension-records "$REPO" visit --where "visit.region OVERLAPS POINT(320.6, -17.9)"
step "$BUTLER" query-data-ids "$REPO" visit detector --where "visit_detector_region.region OVERLAPS CIRCLE(320.6, -17.9, 0.1)"
printf '%s\n' 'config.name = "demo_rings"' 'config.skyMap["rings"].numRings = 12' 'config.skyMap["rings"].projection = "TAN"' \
  'config.skyMap["rings"].tractOverlap = 1.0/60' 'config.skyMap["rings"].pixelScale = 2.0' > "$REPO/skymap.py"
step "$BUTLER" register-skymap "$REPO" --config "$REPO/skymap.py"
step "$BUTLER" query-data-ids "$REPO" visit tract patch --where "skymap = 'demo_rings' AND instrument = 'LSSTCam'"
step "$BUTLER" query-datasets "$REPO" raw --where "skymap = 'demo_rings' AND tract.region OVERLAPS POINT(320.6, -17.9)"
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

# The main job: calibrations, a two-step pipeline recorded with full provenance, and the PVI's lineage.
CONF="$REPO/configs"; mkdir -p "$CONF"
printf 'doBias: true\ndoFlat: true\noverscan: median\n' > "$CONF/isr.yaml"
printf 'astrometry: gaia_dr3\nphotometry: ps1\n' > "$CONF/calibrate.yaml"
printf 'numpy==2.1.0\nastropy==6.1.0\nlsst-ip-isr==30.0.1\nlsst-pipe-tasks==30.0.1\n' > "$CONF/requirements.txt"
step "$BUTLER" register-dataset-type "$REPO" flat ExposureF instrument detector physical_filter --is-calibration
step "$BUTLER" register-dataset-type "$REPO" postISRCCD ExposureF instrument detector exposure
step "$BUTLER" register-dataset-type "$REPO" pvi ExposureF instrument visit detector
step "$BUTLER" put "$REPO" Fixtures/raw/lsst/lsstCam-MC_C_20250425_000031_R01_S01.fits --run LSSTCam/calib/bias-20250425 \
    --dataset-type bias --data-id instrument=LSSTCam,detector=1 --task cpBias --package cp_pipe=30.0.1
step "$BUTLER" put "$REPO" Fixtures/raw/lsst/lsstCam-MC_O_20250415_000060_R01_S01.fits --run LSSTCam/calib/flat-20250415 \
    --dataset-type flat --data-id instrument=LSSTCam,detector=1,physical_filter=y_10 --task cpFlat --package cp_pipe=30.0.1
step "$BUTLER" certify-calibrations "$REPO" LSSTCam/calib/bias-20250425 LSSTCam/calib bias --begin-date 2025-04-01
step "$BUTLER" certify-calibrations "$REPO" LSSTCam/calib/flat-20250415 LSSTCam/calib flat --begin-date 2025-04-01
step "$BUTLER" collection-chain "$REPO" LSSTCam/defaults LSSTCam/raw/all LSSTCam/calib
DATAID=instrument=LSSTCam,detector=1,exposure=2025060900578
step "$BUTLER" run "$REPO" --run u/demo/drp --task isr --collections LSSTCam/defaults \
    --input raw=raw:$DATAID --input bias=bias:$DATAID --input flat=flat:$DATAID \
    --output postISRCCD=postISRCCD:$DATAID --config "$CONF/isr.yaml" --param doDefect=false \
    --packages-from "$CONF/requirements.txt" --code . -- "$STEP" isr {raw} {bias} {flat} {postISRCCD} {metrics}
step "$BUTLER" run "$REPO" --run u/demo/drp --task calibrate --collections u/demo/drp \
    --input exposure=postISRCCD:$DATAID --output pvi=pvi:instrument=LSSTCam,detector=1,visit=2025060900578 \
    --config "$CONF/calibrate.yaml" --packages-from "$CONF/requirements.txt" --code . -- "$STEP" pvi {exposure} {pvi} {metrics}
step "$BUTLER" query-datasets "$REPO" pvi --where "metrics.seeing < 0.9" --show-uri
# The file carries its own provenance: Rubin's LSST BUTLER cards in its header, readable without a repository.
PVI=$("$BUTLER" query-datasets "$REPO" pvi --show-uri --format csv | tail -1 | awk -F, '{print $NF}' | sed 's|^file://||')
step "$BUTLER" provenance "$PVI"

# Reprocessing with a new ISR config and a new ip_isr, into a new run.
printf 'doBias: true\ndoFlat: true\noverscan: mean\n' > "$CONF/isr-v2.yaml"
sed 's/lsst-ip-isr==30.0.1/lsst-ip-isr==30.0.2/' "$CONF/requirements.txt" > "$CONF/requirements-v2.txt"
mkdir -p "$CONF/v2" && cp "$CONF/isr-v2.yaml" "$CONF/v2/isr.yaml"
"$BUTLER" run "$REPO" --run u/demo/drp2 --task isr --collections LSSTCam/defaults \
    --input raw=raw:$DATAID --input bias=bias:$DATAID --input flat=flat:$DATAID \
    --output postISRCCD=postISRCCD:$DATAID --config "$CONF/v2/isr.yaml" --param doDefect=false \
    --packages-from "$CONF/requirements-v2.txt" --code . -- "$STEP" isr {raw} {bias} {flat} {postISRCCD} {metrics} >/dev/null
"$BUTLER" run "$REPO" --run u/demo/drp2 --task calibrate --collections u/demo/drp2 \
    --input exposure=postISRCCD:$DATAID --output pvi=pvi:instrument=LSSTCam,detector=1,visit=2025060900578 \
    --config "$CONF/calibrate.yaml" --packages-from "$CONF/requirements-v2.txt" --code . -- "$STEP" pvi {exposure} {pvi} {metrics} --seeing 0.92 >/dev/null
PVI_REF=pvi:instrument=LSSTCam,detector=1,visit=2025060900578
# What did this raw touch? What was made with ip_isr 30.0.1? Tag it for reprocessing.
step "$BUTLER" provenance "$REPO" raw:$DATAID --collections LSSTCam/raw/all --downstream
step "$BUTLER" query-datasets "$REPO" --produced-with lsst-ip-isr==30.0.1
step "$BUTLER" associate "$REPO" u/demo/reprocess --produced-with lsst-ip-isr==30.0.1 --collections u/demo/drp
# Why do the two PVIs differ?
step "$BUTLER" provenance-diff "$REPO" "$("$BUTLER" find-dataset "$REPO" $PVI_REF --collections u/demo/drp --format csv | tail -1 | cut -d, -f3)" \
    "$("$BUTLER" find-dataset "$REPO" $PVI_REF --collections u/demo/drp2 --format csv | tail -1 | cut -d, -f3)"
# Registry, files and provenance agree.
step "$BUTLER" verify "$REPO" --checksums
# How was this PVI made? Its lineage as a tree, then as W3C PROV-JSON and as a Graphviz graph.
step "$BUTLER" provenance "$REPO" $PVI_REF --collections u/demo/drp
step "$BUTLER" provenance "$REPO" $PVI_REF --collections u/demo/drp --format prov-json --output "$REPO/pvi.prov.json"
step "$BUTLER" provenance "$REPO" $PVI_REF --collections u/demo/drp --format dot --output "$REPO/pvi.dot"
if command -v dot >/dev/null; then dot -Tsvg "$REPO/pvi.dot" -o "$REPO/pvi.svg"; fi
echo
echo "Wrote $REPO/pvi.prov.json (W3C PROV-JSON) and $REPO/pvi.dot$([ -f "$REPO/pvi.svg" ] && echo " (rendered: $REPO/pvi.svg)")"

# Two sites and a centre, in short: the centre is this repository; a site takes its raws and calibrations, makes a
# PVI, and sends it back with its provenance; then the centre exports it in Rubin's format and a Zip.
SITE="$REPO-site"
rm -rf "$SITE" "$REPO-export" "$REPO-zips"
step "$BUTLER" create "$SITE" --name demo-site
step "$BUTLER" transfer-datasets "$REPO" "$SITE" --collections LSSTCam/defaults --register-dataset-types
"$BUTLER" register-dataset-type "$SITE" postISRCCD ExposureF instrument detector exposure >/dev/null
"$BUTLER" run "$SITE" --run site/drp --task isr --collections LSSTCam/defaults \
    --input raw=raw:$DATAID --input bias=bias:$DATAID --input flat=flat:$DATAID \
    --output postISRCCD=postISRCCD:$DATAID --config "$CONF/v2/isr.yaml" \
    --packages-from "$CONF/requirements-v2.txt" -- "$STEP" isr {raw} {bias} {flat} {postISRCCD} {metrics} >/dev/null
step "$BUTLER" transfer-datasets "$SITE" "$REPO" postISRCCD --collections site/drp --register-dataset-types
step "$BUTLER" transfer-datasets "$SITE" "$REPO" postISRCCD --collections site/drp
step "$BUTLER" provenance "$REPO" postISRCCD:$DATAID --collections site/drp
step "$BUTLER" verify "$REPO" --lineage postISRCCD:$DATAID --collections site/drp
# The site's step is foreign here: reproduce does not run it unless told to (--allow-foreign, or a trusted site).
step "$BUTLER" reproduce "$REPO" postISRCCD:$DATAID --collections site/drp --dry-run || echo "(refused, as it should be: exit $?)"
step "$BUTLER" export "$REPO" "$REPO-export" pvi postISRCCD --collections u/demo/drp,site/drp
step "$BUTLER" retrieve-artifacts "$REPO" "$REPO-zips" --collections u/demo/drp --zip
step "$BUTLER" verify "$REPO" --checksums

# If we run the PVI's steps again, do we get the same files? The whole chain, back to the raw and calibrations.
step "$BUTLER" reproduce "$REPO" $PVI_REF --collections u/demo/drp --upstream --run u/demo/reproduce
step "$BUTLER" provenance "$REPO" $PVI_REF --collections u/demo/drp --depth 1
# The seeing got worse between the two reprocessings: which change came with it? With a picture.
step "$BUTLER" compare-runs "$REPO" u/demo/drp u/demo/drp2 pvi --plot "$REPO/compare-runs.svg"
if command -v rsvg-convert >/dev/null; then rsvg-convert -f png -o "$REPO/compare-runs.png" "$REPO/compare-runs.svg"; fi
echo
echo "Wrote $REPO/compare-runs.svg$([ -f "$REPO/compare-runs.png" ] && echo " (rendered: $REPO/compare-runs.png)")"
