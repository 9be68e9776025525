#!/usr/bin/env python3
"""Builds a small Rubin repository with Rubin's own Python API, then exports it the ways Rubin does.

    .build/rubin-venv/bin/python scripts/rubin/make_rubin_repo.py OUT [--fixtures DIR]

Writes:
  OUT/repo           the repository: instrument LATISS, detector 0, two day_obs, two groups, two exposures with one
                     visit each (visit system 0, regions), `raw` (Exposure) in RUN LATISS/raw/all, `bias` (ExposureF,
                     calibration) in two RUNs certified into CALIBRATION LATISS/calib for [2023-01-01, 2024-01-01) and
                     [2024-01-01, unbounded) TAI, `calexp` (ExposureF; instrument, visit, detector) in RUN u/test/run1,
                     TAGGED u/test/tagged, CHAINED LATISS/defaults = [LATISS/raw/all, LATISS/calib] nested in CHAINED
                     u/test = [u/test/tagged, u/test/run1, LATISS/defaults]. Dataset ids are DATAID_TYPE_RUN UUIDv5s.
  OUT/export         Rubin's Butler.export(transfer="copy"): export.yaml with every record, collection and association
  OUT/export-calibs  Rubin's `butler export-calibs OUT/repo OUT/export-calibs LATISS/calib -t copy`
  OUT/zip/<uuid>.zip Rubin's `butler retrieve-artifacts --zip` of every dataset
  OUT/expected.json  summarize.py's summary of OUT/repo
The FITS files are the LATISS fixture raws (Fixtures/raw/lsst/latiss-*.fits by default), copied into the repository.
"""
import argparse
import json
import pathlib
import sys

from _rubin import HERE, rubin_cli, summarize, use_standins

use_standins()

from lsst.daf.butler import (  # noqa: E402
    Butler,
    CollectionType,
    DatasetIdGenEnum,
    DatasetRef,
    DatasetType,
    FileDataset,
    Timespan,
)
from lsst.daf.butler.time_utils import TimeConverter  # noqa: E402
from lsst.sphgeom import ConvexPolygon, LonLat, UnitVector3d  # noqa: E402

INSTRUMENT = "LATISS"
RAW_RUN = "LATISS/raw/all"
CALIB = "LATISS/calib"
BIAS_RUNS = ("LATISS/calib/bias/20230101", "LATISS/calib/bias/20240101")
CALEXP_RUN = "u/test/run1"
TAGGED = "u/test/tagged"
DEFAULTS = "LATISS/defaults"
OUTER = "u/test"
RAW_FORMATTER = "lsst.obs.lsst.rawFormatter.LatissRawFormatter"
EXPOSURE_FORMATTER = "lsst.obs.base.formatters.fitsExposure.FitsExposureFormatter"

# The two LATISS fixture exposures, as our ingest-raws reads their headers (TAI nanoseconds since 1970 TAI).
EXPOSURES = [
    {"file": "latiss-AT_O_20230321_000053.fits", "id": 2023032100053, "obs_id": "AT_O_20230321_000053",
     "physical_filter": "empty~empty", "band": "white", "group": "2023-03-21T16:11:07.633", "day_obs": 20230321,
     "day_obs_span": (1679400000000000000, 1679486400000000000), "exposure_time": 30.0, "dark_time": 30.0126,
     "observation_type": "dark", "observation_reason": "dark", "seq_num": 53, "target_name": "slew_icrs",
     "science_program": "unknown", "tracking_ra": 142.4991379349352, "tracking_dec": -80.88061139891191,
     "sky_angle": 183.66883336421898, "azimuth": 175.34841395774586, "zenith_angle": 67.86661660777006,
     "span": (1679415067706000000, 1679415097719000000)},
    {"file": "latiss-AT_O_20240624_000106_R00_S00.fits", "id": 2024062400106, "obs_id": "AT_O_20240624_000106",
     "physical_filter": "SDSSr_65mm~empty", "band": "r", "group": "2024-06-25T01:26:31.895#1", "day_obs": 20240624,
     "day_obs_span": (1719230400000000000, 1719316800000000000), "exposure_time": 30.0, "dark_time": 30.2407,
     "observation_type": "cwfs", "observation_reason": "intra", "seq_num": 106, "target_name": "HD 131586",
     "science_program": "cwfs", "tracking_ra": 223.77379669301, "tracking_dec": -20.013429451065846,
     "sky_angle": 98.63385126206754, "azimuth": -3.3659773360866496, "zenith_angle": 10.144164659476743,
     "span": (1719278875160000000, 1719278905400000000)},
]
# Validity ranges of the two biases, TAI (None: unbounded).
BIAS_RANGES = [(1672531200000000000, 1704067200000000000), (1704067200000000000, None)]


def timespan(begin_ns, end_ns):
    converter = TimeConverter()
    return Timespan(None if begin_ns is None else converter.nsec_to_astropy(begin_ns),
                    None if end_ns is None else converter.nsec_to_astropy(end_ns))


def square(ra, dec, half_width=0.05):
    """A small square region (degrees) around a pointing."""
    corners = [(ra - half_width, dec - half_width), (ra + half_width, dec - half_width),
               (ra + half_width, dec + half_width), (ra - half_width, dec + half_width)]
    return ConvexPolygon([UnitVector3d(LonLat.fromDegrees(a, d)) for a, d in corners])


def records():
    """Every dimension record of the repository, by element, in insertion order."""
    r = {
        "instrument": [{"name": INSTRUMENT, "visit_max": 10000000000000, "visit_system": 0,
                        "exposure_max": 10000000000000, "detector_max": 1, "class_name": "lsst.obs.lsst.Latiss"}],
        "physical_filter": [{"instrument": INSTRUMENT, "name": e["physical_filter"], "band": e["band"]} for e in EXPOSURES],
        "detector": [{"instrument": INSTRUMENT, "id": 0, "full_name": "RXX_S00", "name_in_raft": "S00", "raft": "RXX",
                      "purpose": "SCIENCE"}],
        "day_obs": [{"instrument": INSTRUMENT, "id": e["day_obs"], "timespan": timespan(*e["day_obs_span"])} for e in EXPOSURES],
        "group": [{"instrument": INSTRUMENT, "name": e["group"]} for e in EXPOSURES],
        "visit_system": [{"instrument": INSTRUMENT, "id": 0, "name": "one-to-one"}],
        "exposure": [], "visit": [], "visit_definition": [], "visit_system_membership": [], "visit_detector_region": [],
    }
    for e in EXPOSURES:
        fields = {k: e[k] for k in ("id", "obs_id", "physical_filter", "group", "day_obs", "exposure_time", "dark_time",
                                     "observation_type", "observation_reason", "seq_num", "target_name",
                                     "science_program", "tracking_ra", "tracking_dec", "sky_angle", "azimuth",
                                     "zenith_angle")}
        r["exposure"].append({"instrument": INSTRUMENT, **fields, "timespan": timespan(*e["span"])})
        r["visit"].append({"instrument": INSTRUMENT, "id": e["id"], "name": e["obs_id"],
                           "physical_filter": e["physical_filter"], "day_obs": e["day_obs"], "seq_num": e["seq_num"],
                           "exposure_time": e["exposure_time"], "target_name": e["target_name"],
                           "observation_reason": e["observation_reason"], "science_program": e["science_program"],
                           "azimuth": e["azimuth"], "zenith_angle": e["zenith_angle"],
                           "region": square(e["tracking_ra"], e["tracking_dec"], 0.1), "timespan": timespan(*e["span"])})
        r["visit_definition"].append({"instrument": INSTRUMENT, "exposure": e["id"], "visit": e["id"]})
        r["visit_system_membership"].append({"instrument": INSTRUMENT, "visit_system": 0, "visit": e["id"]})
        r["visit_detector_region"].append({"instrument": INSTRUMENT, "detector": 0, "visit": e["id"],
                                           "region": square(e["tracking_ra"], e["tracking_dec"], 0.05)})
    return r


def ref(butler, dataset_type, data_id, run):
    return DatasetRef(dataset_type, butler.registry.expandDataId(data_id, dimensions=dataset_type.dimensions), run=run,
                      id_generation_mode=DatasetIdGenEnum.DATAID_TYPE_RUN)


def build(repo, fixtures):
    Butler.makeRepo(str(repo))
    butler = Butler.from_config(str(repo), writeable=True)
    registry = butler.registry
    all_records = records()
    for element, rows in all_records.items():
        registry.insertDimensionData(element, *rows)
    universe = butler.dimensions
    raw = DatasetType("raw", ["instrument", "detector", "exposure"], "Exposure", universe=universe)
    bias = DatasetType("bias", ["instrument", "detector"], "ExposureF", universe=universe, isCalibration=True)
    calexp = DatasetType("calexp", ["instrument", "visit", "detector"], "ExposureF", universe=universe)
    for t in (raw, bias, calexp):
        registry.registerDatasetType(t)
    registry.registerRun(RAW_RUN, doc="Raw LATISS exposures.")
    for run in BIAS_RUNS:
        registry.registerRun(run)
    registry.registerRun(CALEXP_RUN, doc="Processed exposures of the test.")
    registry.registerCollection(CALIB, CollectionType.CALIBRATION, doc="Certified LATISS calibrations.")
    registry.registerCollection(TAGGED, CollectionType.TAGGED, doc="Hand-picked datasets.")

    raws, biases, calexps = [], [], []
    for e in EXPOSURES:
        path = fixtures / e["file"]
        r = ref(butler, raw, {"instrument": INSTRUMENT, "detector": 0, "exposure": e["id"]}, RAW_RUN)
        butler.ingest(FileDataset(path=str(path), refs=[r], formatter=RAW_FORMATTER), transfer="copy")
        raws.append(r)
        c = ref(butler, calexp, {"instrument": INSTRUMENT, "detector": 0, "visit": e["id"]}, CALEXP_RUN)
        butler.ingest(FileDataset(path=str(path), refs=[c], formatter=EXPOSURE_FORMATTER), transfer="copy")
        calexps.append(c)
    for run, (begin, end) in zip(BIAS_RUNS, BIAS_RANGES):
        b = ref(butler, bias, {"instrument": INSTRUMENT, "detector": 0}, run)
        butler.ingest(FileDataset(path=str(fixtures / EXPOSURES[0]["file"]), refs=[b], formatter=EXPOSURE_FORMATTER),
                      transfer="copy")
        registry.certify(CALIB, [b], timespan(begin, end))
        biases.append(b)
    registry.associate(TAGGED, [raws[1], calexps[1], biases[0]])
    registry.registerCollection(DEFAULTS, CollectionType.CHAINED, doc="Raws and calibrations of LATISS.")
    registry.setCollectionChain(DEFAULTS, [RAW_RUN, CALIB])
    registry.registerCollection(OUTER, CollectionType.CHAINED)
    registry.setCollectionChain(OUTER, [TAGGED, CALEXP_RUN, DEFAULTS])
    return butler, all_records, raws + biases + calexps


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=pathlib.Path)
    parser.add_argument("--fixtures", type=pathlib.Path, default=HERE.parents[1] / "Fixtures/raw/lsst")
    args = parser.parse_args()
    if args.out.exists() and any(args.out.iterdir()):
        sys.exit(f"{args.out}: already exists and is not empty")
    args.out.mkdir(parents=True, exist_ok=True)
    repo = args.out / "repo"
    butler, all_records, refs = build(repo, args.fixtures.resolve())

    (args.out / "export").mkdir()
    with butler.export(directory=str(args.out / "export"), format="yaml", transfer="copy") as export:
        for element, rows in all_records.items():
            export.saveDimensionData(element, rows)
        for info in butler.collections.query_info("*"):
            export.saveCollection(info.name)
        export.saveDatasets(refs)
    rubin_cli("export-calibs", repo, args.out / "export-calibs", CALIB, "-t", "copy")
    rubin_cli("retrieve-artifacts", "--zip", repo, args.out / "zip", "-d", "raw", "-d", "bias", "-d", "calexp",
              "--collections", ",".join([RAW_RUN, *BIAS_RUNS, CALEXP_RUN]))
    (args.out / "expected.json").write_text(json.dumps(summarize(repo), indent=1, sort_keys=True) + "\n")
    print(f"Rubin repository, export, export-calibs, Zip and summary written under {args.out}")


if __name__ == "__main__":
    main()
