"""Stand-in for obs_base: only the formatter modules exist (see scripts/rubin/standins/README.md)."""
