#!/usr/bin/env python3
"""Prints a JSON summary of a Rubin repository (see _rubin.summarize): datasets, collections, tags, calibrations.

    .build/rubin-venv/bin/python scripts/rubin/summarize.py REPO
"""
import sys

from _rubin import print_summary

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: summarize.py REPO")
    print_summary(sys.argv[1])
