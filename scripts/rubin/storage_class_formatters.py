#!/usr/bin/env python3
"""Prints, as JSON, for each storage class of our storageClasses.yaml: whether Rubin's default storage class
configuration defines it, and the formatter Rubin's default file datastore configuration maps it to (null when none).
Formatter classes are looked up by storage-class name only, as Rubin's FormatterFactory does; nothing is imported.

    .build/rubin-venv/bin/python scripts/rubin/storage_class_formatters.py
"""
import json
import pathlib
import sys
import tempfile

import yaml
from lsst.daf.butler import Butler, StorageClassFactory

ROOT = pathlib.Path(__file__).resolve().parents[2]


def main():
    ours = yaml.safe_load((ROOT / "Sources/ButlerKit/Resources/storageClasses.yaml").read_text())["storageClasses"]
    with tempfile.TemporaryDirectory() as tmp:
        Butler.makeRepo(tmp)
        butler = Butler.from_config(tmp)
        registry = butler._datastore.formatterFactory._mappingFactory._registry
        known = StorageClassFactory()
        result = {}
        for name in ours:
            entry = next((v for k, v in registry.items() if k.name == name and k.dataId is None), None)
            formatter = None
            if entry is not None:
                t = entry["type"]
                formatter = t if isinstance(t, str) else f"{t.__module__}.{t.__qualname__}"
            result[name] = {"rubin_storage_class": name in known, "formatter": formatter}
    json.dump(result, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
