"""The one reading behaviour every stand-in formatter shares."""

from typing import Any

from lsst.daf.butler import FormatterV2


class ReadOnlyFitsFormatter(FormatterV2):
    """Reads a FITS file into an astropy HDUList (fully loaded, file closed); writing is not supported."""

    default_extension = ".fits"
    supported_extensions = frozenset({".fits", ".fits.gz", ".fits.fz", ".fz"})
    unsupported_parameters = None
    can_read_from_local_file = True

    def read_from_local_file(self, path: str, component: str | None = None, expected_size: int = -1) -> Any:
        from astropy.io import fits

        with fits.open(path, memmap=False) as hdus:
            hdus.readall()
            return fits.HDUList([hdu.copy() for hdu in hdus])

    def write_local_file(self, in_memory_dataset: Any, uri: Any) -> None:
        raise NotImplementedError(f"{type(self).__name__} is a read-only stand-in: it cannot write {uri}")
