#!/usr/bin/env python3
"""Writes Rubin's default dimension universe as JSON (stdout): for every element with a table of its own or a view,
its required and implied dimensions, keys, metadata columns (name, type, length), temporal/spatial families and the
field order of its DimensionRecord. Run with the Rubin virtual environment (make rubin-venv):

    .build/rubin-venv/bin/python scripts/rubin/dump_universe.py > scripts/rubin/universe_fields.json
"""
import json
import sys

from lsst.daf.butler import DimensionUniverse


def column(spec):
    entry = {"name": spec.name, "type": type(spec).__name__.removesuffix("ColumnSpec").lower()}
    for attribute in ("length", "nbytes"):
        value = getattr(spec, attribute, None)
        if value is not None:
            entry[attribute] = value
    return entry


def main():
    universe = DimensionUniverse()
    elements = {}
    for element in universe.getStaticElements():
        # Skypix dimensions (htm*, healpix*) have no table and no configuration of their own: summarised once.
        if element.name.startswith(("htm", "healpix")):
            continue
        primary = getattr(element, "primary_key", None)
        alternates = list(getattr(element, "alternate_keys", ()))
        elements[element.name] = {
            "kind": type(element).__name__,
            "has_own_table": element.has_own_table,
            "implied_union_target": element.implied_union_target.name if element.implied_union_target else None,
            "populated_by": element.populated_by.name if element.populated_by else None,
            "always_join": element.alwaysJoin,
            "governor": universe.governor_dimensions.names.__contains__(element.name),
            "required": [d.name for d in element.required],
            "implied": [d.name for d in element.implied],
            "keys": ([column(primary)] if primary is not None else []) + [column(k) for k in alternates],
            "metadata": [column(m) for m in element.metadata_columns],
            "temporal": element.temporal.name if element.temporal else None,
            "spatial": element.spatial.name if element.spatial else None,
            "record_fields": list(element.RecordClass.fields.names),
        }
    out = {
        "namespace": universe.namespace,
        "version": universe.version,
        "skypix": {"common": universe.commonSkyPix.name,
                   "htm_max_level": max(int(d.name[3:]) for d in universe.skypix_dimensions if d.name.startswith("htm")),
                   "healpix_max_level": max(int(d.name[7:]) for d in universe.skypix_dimensions if d.name.startswith("healpix"))},
        "element_order": [e.name for e in universe.getStaticElements()],
        "elements": elements,
    }
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
