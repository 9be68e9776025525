#!/usr/bin/env python3
"""Rubin's answers to the ported questions of its registry test suite, and the same normalization of ours.

    .build/rubin-venv/bin/python scripts/rubin/registry_questions.py rubin QUESTIONS.json EXPORT_SET OUT.json
    .build/rubin-venv/bin/python scripts/rubin/registry_questions.py ours QUESTIONS.json RAW.json OUT.json

`rubin`: makes a fresh SQLite repository with `Butler.makeRepo`, loads the exports of EXPORT_SET (a key of
QUESTIONS' "export_sets": files of Rubin's `lsst/daf/butler/tests/registry_data/`, loaded in order with
`import_(filename=..., without_datastore=True)` as Rubin's registry tests do), answers every question of that set with
Rubin's Python API (the registry calls its test suite makes) and writes {question id: normalized answer}.

`ours`: reads RAW.json, {question id: {"exit": N, "stdout": "...", "stderr": "..."}} from our CLI run with
`--format json`, and writes {question id: normalized answer} in the same shape.

Normalized answers (lists sorted unless the question is "ordered"):
  data-ids           [{dimension: value}] (required and implied dimensions)
  datasets           [{"id", "dataset_type", "run", "data_id" (required dimensions)}], each dataset once
  dimension-records  [{field: value}] (timespan as [begin, end] TAI ns, null when unbounded; region as sphgeom hex)
  collections        [{"name", "type", "children" (chains only, in order)}]
  dataset-types      [{"name", "dimensions" (required, sorted), "storage_class", "is_calibration"}]
  find-dataset       {"id", "dataset_type", "run", "data_id"} or null
A refusal is {"error": "the message"}; for a question marked "same_message", the message alone (Rubin's without its
exception's name, ours without "butler: error: "), and the two must be the same text.

OUT.json holds, for each question id, {"answer": the normalized answer as canonical JSON text (sorted keys), "refused":
true when it is a refusal}, so that two answers agree when their texts are equal.
"""
import json
import pathlib
import sys
import tempfile

from _rubin import _nsec_bounds, use_standins

REGISTRY_DATA = "resource://lsst.daf.butler/tests/registry_data/"


def _universe():
    from lsst.daf.butler import DimensionUniverse

    return DimensionUniverse()


def _required(universe, data_id):
    """Only the required dimensions of a data ID (the implied ones are dropped), values as they are."""
    names = [k for k in data_id if k in universe.getStaticDimensions().names]
    required = universe.conform(names).required
    return {k: data_id[k] for k in data_id if k in required}


def _key(value):
    return json.dumps(value, sort_keys=True)


def _write(out_path, answers):
    shaped = {qid: {"answer": _key(a), "refused": isinstance(a, dict) and set(a) == {"error"}}
              for qid, a in answers.items()}
    pathlib.Path(out_path).write_text(json.dumps(shaped, indent=1, sort_keys=True) + "\n")


def _finish(question, rows):
    if question.get("ordered"):
        return rows
    unique = {_key(r): r for r in rows}
    return [unique[k] for k in sorted(unique)]


def _plain(value):
    """A JSON value for a record field."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "encode") and type(value).__module__.startswith("lsst.sphgeom"):
        return value.encode().hex()
    if type(value).__name__ == "Timespan":
        return list(_nsec_bounds(value))
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return str(value)


# MARK: - Rubin's side


def _bind(question):
    bind = question.get("bind")
    if not bind:
        return None
    return {k: tuple(v) if isinstance(v, list) else v for k, v in bind.items()}


def _ordered(results, question):
    if question.get("order_by"):
        results = results.order_by(*question["order_by"])
    if question.get("limit") is not None:
        results = results.limit(question["limit"])
    return results


def _dataset(universe, ref):
    return {"id": str(ref.id), "dataset_type": ref.datasetType.name, "run": ref.run,
            "data_id": _required(universe, dict(ref.dataId.required))}


def _rubin_answer(butler, question):
    registry = butler.registry
    universe = butler.dimensions
    kind = question["kind"]
    where = question.get("where") or ""
    collections = question.get("collections")
    if kind == "data-ids":
        results = registry.queryDataIds(question.get("dimensions") or [], datasets=question.get("datasets"),
                                        collections=collections, where=where, bind=_bind(question))
        rows = []
        for data_id in _ordered(results, question):
            mapping = data_id.mapping if data_id.hasFull() else data_id.required
            rows.append({k: _plain(v) for k, v in mapping.items()})
        return _finish(question, rows)
    if kind == "datasets":
        types = question.get("dataset_types") or ...
        refs = registry.queryDatasets(types, collections=collections if collections is not None else ...,
                                      where=where, bind=_bind(question), findFirst=question.get("find_first", False))
        return _finish(question, [_dataset(universe, ref) for ref in refs])
    if kind == "dimension-records":
        results = registry.queryDimensionRecords(question["element"], datasets=question.get("datasets"),
                                                 collections=collections, where=where, bind=_bind(question))
        rows = [{k: _plain(v) for k, v in record.toDict().items()} for record in _ordered(results, question)]
        return _finish(question, rows)
    if kind == "collections":
        from lsst.daf.butler import CollectionType

        types = [CollectionType.from_name(t) for t in question.get("collection_types") or []] or CollectionType.all()
        patterns = question.get("patterns") or "*"
        infos = butler.collections.query_info(patterns, collection_types=types,
                                              flatten_chains=question.get("flatten_chains", False))
        rows = [{"name": c.name, "type": c.type.name,
                 "children": list(c.children) if c.type == CollectionType.CHAINED else []} for c in infos]
        return _finish(question, rows)
    if kind == "dataset-types":
        patterns = question.get("patterns") or ...
        rows = [{"name": t.name, "dimensions": sorted(t.dimensions.required), "storage_class": t.storageClass_name,
                 "is_calibration": t.isCalibration()} for t in registry.queryDatasetTypes(patterns)]
        return _finish(question, rows)
    if kind == "find-dataset":
        ref = registry.findDataset(question["dataset_type"], question["data_id"], collections=collections)
        return None if ref is None else _dataset(universe, ref)
    raise ValueError(f"unknown question kind {kind!r}")


def answer_with_rubin(questions_path, export_set, out_path):
    use_standins()
    import logging
    import warnings

    from lsst.daf.butler import Butler

    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")
    document = json.loads(pathlib.Path(questions_path).read_text())
    files = document["export_sets"][export_set]
    answers = {}
    with tempfile.TemporaryDirectory(prefix="rubin-questions-") as root:
        Butler.makeRepo(root)
        butler = Butler.from_config(root, writeable=True)
        for name in files:
            butler.import_(filename=REGISTRY_DATA + name, without_datastore=True)
        for question in document["questions"]:
            if question["exports"] != export_set:
                continue
            try:
                answers[question["id"]] = _rubin_answer(butler, question)
            except Exception as error:  # noqa: BLE001  (every refusal is an answer)
                message = str(error).strip().splitlines()
                first = message[0] if message else ''
                # "same_message": the refusal must say what Rubin's says (the message, without the exception's name).
                answers[question["id"]] = {"error": first if question.get("same_message") else f"{type(error).__name__}: {first}"}
        butler.close()
    _write(out_path, answers)


# MARK: - Our side


def _our_dataset(universe, row):
    data_id = row.get("data_id")
    if isinstance(data_id, str):  # k=v,k=v (find-dataset's table shape)
        data_id = dict(part.split("=", 1) for part in data_id.split(",") if part)
        data_id = {k: int(v) if v.lstrip("-").isdigit() else v for k, v in data_id.items()}
    return {"id": str(row.get("id", "")).lower(), "dataset_type": row.get("dataset_type", row.get("type")),
            "run": row.get("run"), "data_id": _required(universe, data_id or {})}


def _our_record(row):
    record = {}
    for key, value in row.items():
        if key in ("timespan_begin", "timespan_end"):
            continue
        if key == "timespan_begin_ns":
            record["timespan"] = [value, row.get("timespan_end_ns")]
        elif key == "timespan_end_ns":
            continue
        else:
            record[key] = value
    if "timespan" not in record and "timespan_begin" in row:
        record["timespan"] = [row.get("timespan_begin"), row.get("timespan_end")]
    return record


def _our_answer(universe, question, raw):
    if raw["exit"] != 0:
        lines = [line for line in raw["stderr"].strip().splitlines() if line.strip()]
        errors = [line for line in lines if "error" in line.lower()]
        error = (errors or lines or [f"exit status {raw['exit']}"])[0]
        # Our find-dataset's documented "not found" (README, scripting: exit 1 and one line "no 'TYPE' dataset
        # with ...") is Rubin's find_dataset returning None. Only that exact failure: every other one stays an error.
        if (question["kind"] == "find-dataset" and raw["exit"] == 1 and len(errors) == 1
                and error.startswith(f"butler: error: no '{question['dataset_type']}' dataset with ")):
            return None
        if question.get("same_message"):
            error = error.removeprefix("butler: error: ")
        return {"error": error}
    text = raw["stdout"].strip()
    kind = question["kind"]
    rows = json.loads(text) if text else []
    if kind == "data-ids":
        return _finish(question, rows)
    if kind == "datasets":
        return _finish(question, [_our_dataset(universe, r) for r in rows])
    if kind == "dimension-records":
        return _finish(question, [_our_record(r) for r in rows])
    if kind == "collections":
        out = [{"name": r["name"], "type": r["type"],
                "children": list(r.get("children") or []) if r["type"] == "CHAINED" else []} for r in rows]
        return _finish(question, out)
    if kind == "dataset-types":
        out = [{"name": r["name"], "dimensions": sorted(universe.conform(r.get("dimensions") or []).required),
                "storage_class": r.get("storage_class"), "is_calibration": r.get("is_calibration")} for r in rows]
        return _finish(question, out)
    if kind == "find-dataset":
        return _our_dataset(universe, rows[0]) if rows else None
    raise ValueError(f"unknown question kind {kind!r}")


def normalize_ours(questions_path, raw_path, out_path):
    use_standins()
    universe = _universe()
    document = json.loads(pathlib.Path(questions_path).read_text())
    raw = json.loads(pathlib.Path(raw_path).read_text())
    answers = {}
    for question in document["questions"]:
        if question["id"] not in raw:
            continue
        try:
            answers[question["id"]] = _our_answer(universe, question, raw[question["id"]])
        except Exception as error:  # noqa: BLE001  (an answer we cannot read is reported, not a crash)
            answers[question["id"]] = {"unreadable": f"{type(error).__name__}: {error}"}
    _write(out_path, answers)


def main():
    if len(sys.argv) != 5 or sys.argv[1] not in ("rubin", "ours"):
        sys.exit("usage: registry_questions.py rubin QUESTIONS.json EXPORT_SET OUT.json\n"
                 "       registry_questions.py ours QUESTIONS.json RAW.json OUT.json")
    if sys.argv[1] == "rubin":
        answer_with_rubin(*sys.argv[2:])
    else:
        normalize_ours(*sys.argv[2:])


if __name__ == "__main__":
    main()
