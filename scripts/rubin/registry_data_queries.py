#!/usr/bin/env python3
"""Rubin's answers to query questions over Rubin's own registry test data (registry_data/*.yaml), for
RubinQueryFidelityCLITests.

    .build/rubin-venv/bin/python scripts/rubin/registry_data_queries.py OUT_REPO FILE.yaml... < questions.json

Makes a Rubin repository at OUT_REPO (`Butler.makeRepo`), imports each export file in order registry-only
(`butler.import_(filename=..., without_datastore=True)`, as Rubin's registry tests load them), then answers each
question of the JSON list on standard input and prints one JSON list of answers, in order:

  {"kind": "data_ids", "dimensions": [...], "where": "...", "bind": {...}, "order_by": [...],
   "datasets": "TYPE", "collections": [...], "data_id": {...}}
  {"kind": "datasets", "dataset_type": "TYPE", "collections": [...], "where": "...", "bind": {...}, "find_first": bool}
  {"kind": "records", "element": "E", "where": "...", "bind": {...}, "order_by": [...], "datasets": "TYPE",
   "collections": [...], "data_id": {...}}

A bind value is {"int": 1}, {"float": 1.5}, {"str": "x"}, {"list": [values]}, {"time": "ISO (TAI)"},
{"timespan": ["ISO (TAI)" | null, "ISO (TAI)" | null]}, {"uuid": "..."} or {"circle": [ra, dec, radius]}.

An answer is {"rows": [...]} (data IDs as {dimension: value} of the required dimensions; datasets as
{"id", "run", "data_id"}; records as {field: value} of their keys and text fields), with "messages" (Rubin's
explanations of an empty result), or {"error": "ExceptionType: message"} when Rubin refuses the question.
"""
import json
import sys
import uuid

from _rubin import use_standins


def bind_value(spec):
    import astropy.time
    import lsst.sphgeom as sg
    from lsst.daf.butler import Timespan

    (kind, value), = spec.items()
    if kind in ("int", "float", "str"):
        return value
    if kind == "list":
        return [bind_value(v) for v in value]
    if kind == "time":
        return astropy.time.Time(value, scale="tai")
    if kind == "timespan":
        begin, end = (None if v is None else astropy.time.Time(v, scale="tai") for v in value)
        return Timespan(begin, end)
    if kind == "uuid":
        return uuid.UUID(value)
    if kind == "circle":
        ra, dec, radius = value
        return sg.Circle(sg.UnitVector3d(sg.LonLat.fromDegrees(ra, dec)), sg.Angle.fromDegrees(radius))
    raise ValueError(f"unknown bind kind {kind}")


def plain(value):
    if isinstance(value, (int, float, str)) or value is None:
        return value
    return str(value)


def answer(butler, question):
    kind = question["kind"]
    where = question.get("where", "")
    bind = {k: bind_value(v) for k, v in question.get("bind", {}).items()}
    data_id = question.get("data_id")
    order_by = question.get("order_by") or None
    with butler.query() as query:
        if question.get("datasets"):
            query = query.join_dataset_search(question["datasets"], question.get("collections"))
        if data_id:
            query = query.where(data_id)
        if kind == "data_ids":
            results = query.data_ids(question.get("dimensions", [])).where(where, bind=bind)
            if order_by:
                results = results.order_by(*order_by)
            rows = [{k: plain(v) for k, v in d.required.items()} for d in results]
        elif kind == "records":
            results = query.dimension_records(question["element"]).where(where, bind=bind)
            if order_by:
                results = results.order_by(*order_by)
            rows = []
            for record in results:
                fields = record.toDict()
                rows.append({k: plain(v) for k, v in fields.items() if k not in ("region", "timespan", "hash")})
        elif kind == "datasets":
            results = query.datasets(question["dataset_type"], question.get("collections"),
                                     find_first=question.get("find_first", False)).where(where, bind=bind)
            rows = [{"id": str(ref.id), "run": ref.run, "data_id": {k: plain(v) for k, v in ref.dataId.required.items()}}
                    for ref in results]
        else:
            raise ValueError(f"unknown question kind {kind}")
        messages = list(results.explain_no_results()) if not rows else []
    return {"rows": rows, "messages": [str(m) for m in messages]}


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: registry_data_queries.py OUT_REPO FILE.yaml... < questions.json")
    use_standins()
    from lsst.daf.butler import Butler

    repo = sys.argv[1]
    Butler.makeRepo(repo)
    butler = Butler.from_config(repo, writeable=True)
    for path in sys.argv[2:]:
        butler.import_(filename=path, without_datastore=True)
    answers = []
    for question in json.load(sys.stdin):
        try:
            answers.append(answer(butler, question))
        except Exception as error:  # Rubin refusing the question is an answer too.
            answers.append({"error": f"{type(error).__name__}: {error}"})
    json.dump(answers, sys.stdout)


if __name__ == "__main__":
    main()
