"""What the scripts in scripts/rubin share: the formatter stand-ins, Rubin's CLI of this venv, and the summary of a
Rubin repository that our Swift tests compare with what our butler reads (RubinInterchangeCLITests)."""

import importlib.util
import json
import os
import pathlib
import subprocess
import sys
import zipfile

HERE = pathlib.Path(__file__).resolve().parent
STANDINS = HERE / "standins"


def use_standins():
    """Puts the formatter stand-ins on sys.path (and PYTHONPATH, for Rubin's CLI) unless the real obs_base exists."""
    try:
        real = importlib.util.find_spec("lsst.obs.base") is not None
    except ModuleNotFoundError:
        real = False
    if real and str(STANDINS) not in sys.path:
        return
    if str(STANDINS) not in sys.path:
        sys.path.insert(0, str(STANDINS))
        import lsst  # noqa: F401  (the pkgutil namespace is recomputed from sys.path)

        lsst.__path__ = __import__("pkgutil").extend_path(lsst.__path__, "lsst")
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if str(STANDINS) not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([str(STANDINS)] + paths)


def rubin_cli(*arguments):
    """Runs Rubin's `butler` command of this venv; on failure prints its output and exits with its status."""
    use_standins()
    butler = pathlib.Path(sys.executable).with_name("butler")
    done = subprocess.run([str(butler), *map(str, arguments)], capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stdout)
        sys.stderr.write(done.stderr)
        sys.stderr.write(f"Rubin's butler {' '.join(map(str, arguments))} failed with status {done.returncode}\n")
        sys.exit(done.returncode or 1)
    return done


def _nsec_bounds(timespan):
    from lsst.daf.butler.time_utils import TimeConverter

    converter = TimeConverter()
    begin, end = timespan.nsec
    return (None if begin == converter.min_nsec else int(begin)), (None if end == converter.max_nsec else int(end))


def _file_facts(uri):
    """(exists, size, first 6 bytes are b'SIMPLE') of a dataset's file, looking inside a Zip for `#zip-path=`."""
    fragment = uri.fragment or ""
    if fragment.startswith("zip-path="):
        member = fragment[len("zip-path="):]
        container = uri.replace(fragment="")
        if not container.exists():
            return False, None, False
        with zipfile.ZipFile(container.ospath) as archive:
            try:
                info = archive.getinfo(member)
            except KeyError:
                return False, None, False
            with archive.open(info) as f:
                return True, info.file_size, f.read(6) == b"SIMPLE"
    if not uri.exists():
        return False, None, False
    with open(uri.ospath, "rb") as f:
        magic = f.read(6) == b"SIMPLE"
    return True, uri.size(), magic


def _importable(name):
    from lsst.utils import doImportType

    try:
        doImportType(name)
        return True
    except Exception:
        return False


def summarize(repo):
    """The JSON-able summary of a Rubin repository.

    datasets {id: {dataset_type, storage_class, run, data_id (required dimensions), file_exists, file_size,
    fits_magic, formatter, formatter_importable}}, collections {name: {type, children, doc}},
    tags {collection: sorted ids}, calibrations {collection: [{dataset_type, id, begin, end}]} (TAI ns, null when
    unbounded; sorted by dataset type, begin, id), dimension_records {element: count}.
    """
    use_standins()
    from lsst.daf.butler import Butler, CollectionType

    butler = Butler.from_config(str(repo))
    registry = butler.registry
    infos = sorted(butler.collections.query_info("*", include_doc=True), key=lambda c: c.name)
    collections = {
        c.name: {"type": c.type.name, "children": list(c.children), "doc": c.doc or None} for c in infos
    }
    runs = [c.name for c in infos if c.type == CollectionType.RUN]
    dataset_types = list(registry.queryDatasetTypes(...))
    datasets = {}
    for dataset_type in sorted(dataset_types, key=lambda t: t.name):
        if not runs:
            break
        for ref in registry.queryDatasets(dataset_type, collections=runs, findFirst=False):
            stored = butler._datastore.getStoredItemsInfo(ref)
            formatter = stored[0].formatter if stored else None
            exists, size, magic = _file_facts(butler.getURI(ref))
            datasets[str(ref.id)] = {
                "dataset_type": ref.datasetType.name,
                "storage_class": ref.datasetType.storageClass_name,
                "run": ref.run,
                "data_id": {k: ref.dataId[k] for k in ref.dataId.required},
                "file_exists": exists,
                "file_size": size,
                "fits_magic": magic,
                "formatter": formatter,
                "formatter_importable": _importable(formatter) if formatter else False,
            }
    tags = {}
    calibrations = {}
    for c in infos:
        if c.type == CollectionType.TAGGED:
            ids = set()
            for dataset_type in dataset_types:
                ids.update(str(r.id) for r in registry.queryDatasets(dataset_type, collections=[c.name]))
            tags[c.name] = sorted(ids)
        elif c.type == CollectionType.CALIBRATION:
            entries = []
            for dataset_type in dataset_types:
                if not dataset_type.isCalibration():
                    continue
                for a in registry.queryDatasetAssociations(dataset_type, collections=[c.name], flattenChains=False):
                    begin, end = _nsec_bounds(a.timespan)
                    entries.append({"dataset_type": dataset_type.name, "id": str(a.ref.id), "begin": begin, "end": end})
            entries.sort(key=lambda e: (e["dataset_type"], -1 if e["begin"] is None else e["begin"], e["id"]))
            calibrations[c.name] = entries
    return {"datasets": datasets, "collections": collections, "tags": tags, "calibrations": calibrations,
            "dimension_records": dimension_record_counts(butler)}


def dimension_record_counts(butler):
    """The number of records of each dimension element with a table of its own, elements without records left out."""
    records = {}
    for element in butler.dimensions.getStaticElements():
        if element.has_own_table:
            count = len(list(butler.registry.queryDimensionRecords(element.name)))
            if count:
                records[element.name] = count
    return records


def print_summary(repo):
    json.dump(summarize(repo), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
