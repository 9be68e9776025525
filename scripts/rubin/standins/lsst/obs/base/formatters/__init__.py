"""Stand-ins for obs_base's formatters, reading FITS files with astropy."""

from ._fits import ReadOnlyFitsFormatter

__all__ = ("ReadOnlyFitsFormatter",)
