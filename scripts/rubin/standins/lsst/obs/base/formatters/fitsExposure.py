"""Stand-ins for lsst.obs.base.formatters.fitsExposure."""

from ._fits import ReadOnlyFitsFormatter


class FitsExposureFormatter(ReadOnlyFitsFormatter):
    """Stand-in for obs_base's FitsExposureFormatter."""


class FitsImageFormatter(ReadOnlyFitsFormatter):
    """Stand-in for obs_base's FitsImageFormatter."""


class FitsMaskFormatter(ReadOnlyFitsFormatter):
    """Stand-in for obs_base's FitsMaskFormatter."""


class FitsMaskedImageFormatter(ReadOnlyFitsFormatter):
    """Stand-in for obs_base's FitsMaskedImageFormatter."""
