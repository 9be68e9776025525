#!/usr/bin/env python3
"""Loads a PROV-JSON document with the `prov` package, every warning an error, and prints its record counts as JSON.

Usage: check_prov.py FILE.json   (exit 1 with the reason when the document does not load cleanly)
"""
import json
import sys
import warnings

warnings.simplefilter("error")  # prov only warns about undeclared prefixes, bad times and unknown datatypes

from prov.model import ProvDocument  # noqa: E402

with open(sys.argv[1], encoding="utf-8") as f:
    text = f.read()
try:
    document = ProvDocument.deserialize(content=text, format="json")
except Exception as error:  # a warning turned error, or a parse failure
    print(f"{sys.argv[1]}: not valid PROV-JSON for prov: {type(error).__name__}: {error}", file=sys.stderr)
    sys.exit(1)

counts = {}
for record in document.get_records():
    name = record.get_type().localpart
    counts[name] = counts.get(name, 0) + 1
# Every relation must name records that exist in the document.
ids = {str(r.identifier) for r in document.get_records() if r.is_element()}
dangling = []
for record in document.get_records():
    if record.is_relation():
        for attribute, value in record.formal_attributes:
            if value is not None and hasattr(value, "namespace") and attribute.localpart in (
                    "activity", "entity", "agent", "generatedEntity", "usedEntity"):
                if str(value) not in ids:
                    dangling.append(f"{record.identifier} -> {value}")
print(json.dumps({"counts": counts, "dangling": dangling, "provn_lines": len(document.get_provn().splitlines())}))
