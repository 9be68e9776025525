#!/usr/bin/env python3
"""Ingests a Zip (ours or Rubin's) into a fresh Rubin repository with Rubin's own CLI, then prints its summary.

    .build/rubin-venv/bin/python scripts/rubin/ingest_zip_into_rubin.py ZIP OUT_REPO

Runs `butler ingest-zip OUT_REPO ZIP --transfer-dimensions -t copy` with the formatter stand-ins on PYTHONPATH,
after `Butler.makeRepo(OUT_REPO)`. On failure, prints Rubin's output and exits non-zero.
"""
import pathlib
import sys

from _rubin import print_summary, rubin_cli, use_standins


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: ingest_zip_into_rubin.py ZIP OUT_REPO")
    archive, repo = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    if repo.exists():
        sys.exit(f"{repo}: already exists (a fresh repository is made here)")
    use_standins()
    from lsst.daf.butler import Butler

    Butler.makeRepo(str(repo))
    rubin_cli("ingest-zip", repo, archive.resolve(), "--transfer-dimensions", "-t", "copy")
    print_summary(repo)


if __name__ == "__main__":
    main()
