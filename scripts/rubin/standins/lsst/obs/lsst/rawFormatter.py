"""Stand-ins for lsst.obs.lsst.rawFormatter."""

from lsst.obs.base.formatters._fits import ReadOnlyFitsFormatter


class LsstCamRawFormatter(ReadOnlyFitsFormatter):
    """Stand-in for obs_lsst's LsstCamRawFormatter."""


class LatissRawFormatter(ReadOnlyFitsFormatter):
    """Stand-in for obs_lsst's LatissRawFormatter."""


class LsstComCamRawFormatter(ReadOnlyFitsFormatter):
    """Stand-in for obs_lsst's LsstComCamRawFormatter."""
