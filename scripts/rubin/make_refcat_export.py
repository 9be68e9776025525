#!/usr/bin/env python3
"""A Rubin repository holding a reference catalog sharded by sky pixel, exported the way Rubin exports it.

    .build/rubin-venv/bin/python scripts/rubin/make_refcat_export.py OUT_DIR PIXEL [PIXEL ...]

Makes OUT_DIR/repo with `Butler.makeRepo`, registers the dataset type `gaia_dr3` (dimensions `htm7`, storage class
SimpleCatalog), ingests one small file per PIXEL into the RUN `refcats/gaia` with `Butler.ingest`, and exports them
with `Butler.export(directory=OUT_DIR/export, filename="export.yaml", transfer="copy")`. Prints {dataset id: htm7} as JSON.
"""
import json
import pathlib
import sys

from _rubin import use_standins


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: make_refcat_export.py OUT_DIR PIXEL [PIXEL ...]")
    out = pathlib.Path(sys.argv[1])
    pixels = [int(p) for p in sys.argv[2:]]
    use_standins()
    from lsst.daf.butler import Butler, DataCoordinate, DatasetRef, DatasetType, FileDataset

    Butler.makeRepo(str(out / "repo"))
    butler = Butler.from_config(str(out / "repo"), writeable=True, run="refcats/gaia")
    dataset_type = DatasetType("gaia_dr3", ["htm7"], "SimpleCatalog", universe=butler.dimensions)
    butler.registry.registerDatasetType(dataset_type)
    files = out / "files"
    files.mkdir(parents=True)
    datasets = []
    for pixel in pixels:
        path = files / f"gaia_{pixel}.fits"
        path.write_bytes(b"SIMPLE  =                    T" + bytes(2850))
        data_id = DataCoordinate.standardize({"htm7": pixel}, universe=butler.dimensions)
        ref = DatasetRef(dataset_type, data_id, run="refcats/gaia")
        datasets.append(FileDataset(path=str(path), refs=[ref],
                                    formatter="lsst.obs.base.formatters.fitsGeneric.FitsGenericFormatter"))
    butler.ingest(*datasets, transfer="copy")
    refs = list(butler.registry.queryDatasets("gaia_dr3", collections="refcats/gaia"))
    (out / "export").mkdir()
    with butler.export(directory=str(out / "export"), filename="export.yaml", transfer="copy") as export:
        export.saveDatasets(refs)
    print(json.dumps({str(r.id): r.dataId["htm7"] for r in refs}, sort_keys=True))


if __name__ == "__main__":
    main()
