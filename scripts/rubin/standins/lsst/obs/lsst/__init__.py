"""Stand-in for obs_lsst: only the raw formatters exist (see scripts/rubin/standins/README.md)."""
