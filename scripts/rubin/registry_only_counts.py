#!/usr/bin/env python3
"""Loads Rubin export files into a fresh Rubin repository registry-only, then prints what the registry holds.

    .build/rubin-venv/bin/python scripts/rubin/registry_only_counts.py OUT_REPO FILE [FILE ...]

Each FILE is imported in order with `Butler.import_(filename=FILE, without_datastore=True)`, as Rubin's registry test
suite loads its `registry_data/*.yaml` (a bare name is taken from that folder of this venv's daf_butler). Prints JSON:
datasets {dataset type: number of datasets, over every RUN}, dataset_types {name: storage class}, collections
{name: type}, dimension_records {element: count}, tags {collection: count}, calibrations {collection: count}.
"""
import json
import pathlib
import sys

from _rubin import dimension_record_counts, use_standins


def registry_data(name):
    path = pathlib.Path(name)
    if path.exists() or "/" in name:
        return path
    import lsst.daf.butler.tests.registry_data as data

    return pathlib.Path(data.__file__).parent / name


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: registry_only_counts.py OUT_REPO FILE [FILE ...]")
    repo = pathlib.Path(sys.argv[1])
    if repo.exists():
        sys.exit(f"{repo}: already exists (a fresh repository is made here)")
    use_standins()
    from lsst.daf.butler import Butler, CollectionType

    Butler.makeRepo(str(repo))
    butler = Butler.from_config(str(repo), writeable=True)
    for name in sys.argv[2:]:
        butler.import_(filename=str(registry_data(name)), without_datastore=True)
    registry = butler.registry
    infos = sorted(butler.collections.query_info("*"), key=lambda c: c.name)
    runs = [c.name for c in infos if c.type == CollectionType.RUN]
    dataset_types = sorted(registry.queryDatasetTypes(...), key=lambda t: t.name)
    datasets = {}
    for dataset_type in dataset_types:
        if runs:
            count = len({r.id for r in registry.queryDatasets(dataset_type, collections=runs, findFirst=False)})
            if count:
                datasets[dataset_type.name] = count
    tags, calibrations = {}, {}
    for c in infos:
        if c.type == CollectionType.TAGGED:
            tags[c.name] = len({r.id for t in dataset_types for r in registry.queryDatasets(t, collections=[c.name])})
        elif c.type == CollectionType.CALIBRATION:
            calibrations[c.name] = sum(
                len(list(registry.queryDatasetAssociations(t, collections=[c.name], flattenChains=False)))
                for t in dataset_types if t.isCalibration())
    records = dimension_record_counts(butler)
    json.dump({"datasets": datasets, "dataset_types": {t.name: t.storageClass_name for t in dataset_types},
               "collections": {c.name: c.type.name for c in infos}, "dimension_records": records,
               "tags": tags, "calibrations": calibrations}, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
