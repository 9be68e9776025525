#!/usr/bin/env python3
"""Asks Rubin's `Butler.find_dataset` the questions of a JSON file and prints its answers as JSON.

    .build/rubin-venv/bin/python scripts/rubin/find_dataset.py REPO QUESTIONS.json

QUESTIONS.json is a list of {"dataset_type", "data_id": {...}, "collections": [...], "timespan": TEXT or null,
"time_of": ELEMENT or null}. TEXT is what our `find-dataset --timespan` takes: "BEGIN,END" (TAI ISO times, an empty
side unbounded) or one time T (Rubin's Timespan.fromInstant). "time_of": "exposure" passes the timespan of the data
ID's exposure record (what Rubin's Butler.get uses for a calibration). Prints one answer per question, in order:
{"id": "<uuid>"}, {"id": null} (nothing found), or {"error": "<exception class>", "message": "..."}.
"""
import json
import sys

from _rubin import use_standins

use_standins()

from astropy.time import Time  # noqa: E402
from lsst.daf.butler import Butler, Timespan  # noqa: E402


def parse_timespan(text):
    if text is None:
        return None
    parts = [p.strip() for p in text.split(",")]
    if len(parts) == 1:
        return Timespan.fromInstant(Time(parts[0], scale="tai"))
    begin, end = (None if not p else Time(p, scale="tai") for p in parts)
    return Timespan(begin, end)


def main():
    repo, questions_path = sys.argv[1], sys.argv[2]
    with open(questions_path) as f:
        questions = json.load(f)
    butler = Butler.from_config(repo)
    answers = []
    for q in questions:
        try:
            timespan = parse_timespan(q.get("timespan"))
            data_id = dict(q["data_id"])
            if q.get("time_of"):
                element = q["time_of"]
                keys = {k: v for k, v in data_id.items() if k in ("instrument", element)}
                (record,) = butler.query_dimension_records(element, data_id=keys)
                timespan = record.timespan
                data_id = {k: v for k, v in data_id.items() if k != element}
            ref = butler.find_dataset(q["dataset_type"], data_id, collections=q["collections"], timespan=timespan)
            answers.append({"id": None if ref is None else str(ref.id)})
        except Exception as error:  # the answer is the refusal itself
            answers.append({"error": type(error).__name__, "message": str(error)})
    print(json.dumps(answers))


if __name__ == "__main__":
    main()
