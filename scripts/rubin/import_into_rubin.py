#!/usr/bin/env python3
"""Imports an export directory into a fresh Rubin repository with Rubin's own CLI, then prints its summary.

    .build/rubin-venv/bin/python scripts/rubin/import_into_rubin.py EXPORT_DIR OUT_REPO

Runs `butler import OUT_REPO EXPORT_DIR -t copy` (EXPORT_DIR/export.yaml) with the formatter stand-ins on
PYTHONPATH, after `Butler.makeRepo(OUT_REPO)`. On failure, prints Rubin's output and exits non-zero.
"""
import pathlib
import sys

from _rubin import print_summary, rubin_cli, use_standins


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: import_into_rubin.py EXPORT_DIR OUT_REPO")
    export, repo = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    if repo.exists():
        sys.exit(f"{repo}: already exists (a fresh repository is made here)")
    use_standins()
    from lsst.daf.butler import Butler

    Butler.makeRepo(str(repo))
    rubin_cli("import", repo, export, "-t", "copy")
    print_summary(repo)


if __name__ == "__main__":
    main()
