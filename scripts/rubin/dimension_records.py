#!/usr/bin/env python3
"""Prints every dimension record of a Rubin repository, as Rubin's registry reads them, as JSON.

    .build/rubin-venv/bin/python scripts/rubin/dimension_records.py REPO

Output: {element: [record, ...]} for every element with a table and at least one record; each record is
{field: value} with `str()` of values that JSON cannot hold (timespans, regions, times), sorted by its JSON text.
"""
import json
import sys

from _rubin import use_standins


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: dimension_records.py REPO")
    use_standins()
    from lsst.daf.butler import Butler

    butler = Butler.from_config(sys.argv[1])
    out = {}
    for element in butler.dimensions.getStaticElements():
        if not element.has_own_table:
            continue
        rows = []
        for record in butler.registry.queryDimensionRecords(element.name):
            row = {}
            for key, value in record.toDict().items():
                row[key] = value if value is None or isinstance(value, (bool, int, float, str)) else str(value)
            rows.append(json.dumps(row, sort_keys=True))
        if rows:
            out[element.name] = [json.loads(r) for r in sorted(rows)]
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
