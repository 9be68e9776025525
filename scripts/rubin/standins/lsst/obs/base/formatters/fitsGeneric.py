"""Stand-in for lsst.obs.base.formatters.fitsGeneric."""

from ._fits import ReadOnlyFitsFormatter


class FitsGenericFormatter(ReadOnlyFitsFormatter):
    """Stand-in for obs_base's FitsGenericFormatter."""
