#!/usr/bin/env python3
"""Compares our dimension universe (Sources/ButlerKit/Resources/dimensions.yaml) with Rubin's default one as dumped
by dump_universe.py (scripts/rubin/universe_fields.json) and prints every difference, one a line; exit 1 if any.

Our record fields follow our table columns (DimensionSchema.columns): required dimensions by dimension name, the
element's own keys by key name, implied dimensions by dimension name, metadata, timespan_begin/timespan_end, region.
For the order comparison our timespan_begin/timespan_end pair is shown as Rubin's single field `timespan`.

    .build/rubin-venv/bin/python scripts/rubin/compare_universe.py
"""
import json
import pathlib
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]


def our_universe(path):
    spec = yaml.safe_load(path.read_text())
    elements = spec["elements"]
    # Our order: file order, each element moved after everything it requires or implies.
    remaining = list(elements)
    order, placed = [], set()
    while remaining:
        for name in remaining:
            e = elements[name]
            if all(d in placed for d in e.get("requires", []) + e.get("implies", [])):
                break
        remaining.remove(name)
        order.append(name)
        placed.add(name)
    position = {n: i for i, n in enumerate(order)}
    closures = {}
    for name in order:
        deps = set()
        for d in elements[name].get("requires", []):
            deps |= set(closures[d])
            deps.add(d)
        closures[name] = sorted(deps, key=lambda n: position[n])
    return spec, order, closures


def main():
    rubin = json.loads((ROOT / "scripts/rubin/universe_fields.json").read_text())
    spec, order, closures = our_universe(ROOT / "Sources/ButlerKit/Resources/dimensions.yaml")
    ours = spec["elements"]
    problems = []

    def report(text):
        problems.append(text)

    if spec.get("namespace") != rubin["namespace"] or spec.get("version") != rubin["version"]:
        report(f"universe: ours {spec.get('namespace')} v{spec.get('version')}, Rubin's {rubin['namespace']} v{rubin['version']}")
    rubin_elements = rubin["elements"]
    for name in rubin_elements:
        if name not in ours:
            report(f"{name}: element missing from ours")
    for name in ours:
        if name not in rubin_elements:
            report(f"{name}: element not in Rubin's universe")
    rubin_order = [n for n in rubin["element_order"] if n in ours]
    our_order = [n for n in order if n in rubin_elements]
    if rubin_order != our_order:
        report("element order (sorts DimensionGroup names and implied fields): ours " + ", ".join(our_order)
               + "; Rubin's " + ", ".join(rubin_order))

    for name, r in rubin_elements.items():
        o = ours.get(name)
        if o is None:
            continue
        required = closures[name] + ([name] if o.get("keys") else [])
        if required != r["required"]:
            report(f"{name}: required ours {required}, Rubin's {r['required']}")
        if sorted(o.get("implies", [])) != sorted(r["implied"]):
            report(f"{name}: implied ours {o.get('implies', [])}, Rubin's {r['implied']}")
        our_keys = [{k: v for k, v in c.items() if k in ("name", "type", "length", "nbytes")} for c in o.get("keys", [])]
        if our_keys != r["keys"]:
            report(f"{name}: keys ours {our_keys}, Rubin's {r['keys']}")
        our_meta = [{k: v for k, v in c.items() if k in ("name", "type", "length", "nbytes")} for c in o.get("metadata", [])]
        if [m["name"] for m in our_meta] != [m["name"] for m in r["metadata"]]:
            missing = [m["name"] for m in r["metadata"] if m["name"] not in [x["name"] for x in our_meta]]
            extra = [m["name"] for m in our_meta if m["name"] not in [x["name"] for x in r["metadata"]]]
            report(f"{name}: metadata names differ: missing {missing}, extra {extra}; ours "
                   f"{[m['name'] for m in our_meta]}, Rubin's {[m['name'] for m in r['metadata']]}")
        rubin_meta = {m["name"]: m for m in r["metadata"]}
        for m in our_meta:
            if m["name"] in rubin_meta and m != rubin_meta[m["name"]]:
                report(f"{name}.{m['name']}: column ours {m}, Rubin's {rubin_meta[m['name']]}")
        if bool(o.get("temporal")) != (r["temporal"] is not None):
            report(f"{name}: temporal ours {bool(o.get('temporal'))}, Rubin's {r['temporal']}")
        if bool(o.get("spatial")) != (r["spatial"] is not None):
            report(f"{name}: spatial ours {bool(o.get('spatial'))}, Rubin's {r['spatial']}")
        if bool(o.get("governor")) != r["governor"]:
            report(f"{name}: governor ours {bool(o.get('governor'))}, Rubin's {r['governor']}")
        if bool(o.get("always_join")) != r["always_join"]:
            report(f"{name}: always_join ours {bool(o.get('always_join'))}, Rubin's {r['always_join']}")
        if o.get("view_of") != r["implied_union_target"]:
            report(f"{name}: view_of ours {o.get('view_of')}, Rubin's implied_union_target {r['implied_union_target']}")
        rubin_populated = r["populated_by"] if r["populated_by"] != name else None
        if o.get("populated_by") != rubin_populated and r["kind"] != "DatabaseDimensionCombination":
            pass  # Rubin sets populated_by on dimensions themselves; only join elements are compared.
        if r["kind"] == "DatabaseDimensionCombination" and o.get("populated_by") != r["populated_by"]:
            report(f"{name}: populated_by ours {o.get('populated_by')}, Rubin's {r['populated_by']}")
        # Record fields, as our table columns.
        fields = list(closures[name]) + [k["name"] for k in o.get("keys", [])] + list(o.get("implies", [])) \
            + [m["name"] for m in o.get("metadata", [])]
        if o.get("temporal"):
            fields.append("timespan")
        if o.get("spatial"):
            fields.append("region")
        if sorted(fields) != sorted(r["record_fields"]):
            report(f"{name}: record field names ours {fields}, Rubin's {r['record_fields']}")
        elif fields != r["record_fields"]:
            report(f"{name}: record field order ours {fields}, Rubin's {r['record_fields']}")
    for line in problems:
        print(line)
    print(f"{len(problems)} difference(s)", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
