"""Rubin's verdict on --where expressions: reads one expression a line from standard input and prints, for each,
``OK`` or ``ERR <reason>`` as Rubin's query system (parser and conversion to a predicate) judges it, in the context of a
query for ``raw`` datasets (dimensions instrument, exposure, detector) with the bind values the corpus uses.

    .build/rubin-venv/bin/python scripts/rubin/check_where.py < Tests/ButlerKitTests/Resources/where-corpus.txt

Lines of the corpus are ``VERDICT<TAB>EXPRESSION``; only the expression is read here.

With ``--times``, each line is instead the text of a ``T'...'`` literal, and the output is its value in TAI
nanoseconds since 1970 as Rubin stores it (or ``ERR``).
"""
import sys

from lsst.daf.butler import DimensionUniverse
from lsst.daf.butler.queries._expression_strings import convert_expression_string_to_predicate
from lsst.daf.butler.queries._identifiers import IdentifierContext

universe = DimensionUniverse()
binds = {"cam": "LATISS", "ids": [229388, 1], "low": 100, "pattern": "MC_*"}
context = IdentifierContext(universe.conform(["instrument", "exposure", "detector"]), {"raw"}, binds)

if sys.argv[1:] == ["--times"]:
    import warnings

    from lsst.daf.butler.queries.expressions.parser.parserYacc import _parseTimeString
    from lsst.daf.butler.time_utils import TimeConverter

    warnings.simplefilter("ignore")
    for line in sys.stdin:
        try:
            print(TimeConverter().astropy_to_nsec(_parseTimeString(line.rstrip("\n"))))
        except Exception:
            print("ERR")
    sys.exit(0)

for line in sys.stdin:
    line = line.rstrip("\n")
    if not line or line.startswith("#"):
        continue
    expression = line.split("\t", 1)[-1]
    try:
        convert_expression_string_to_predicate(expression, context=context, universe=universe)
        print("OK")
    except Exception as exc:  # Rubin raises several kinds; any is a refusal.
        cause = exc.__cause__ or exc
        print("ERR", " ".join(str(cause).split())[:200])
