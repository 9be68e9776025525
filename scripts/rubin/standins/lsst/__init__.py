# A pkgutil namespace package, like the installed `lsst` of lsst-daf-butler: both roots are searched.
import pkgutil

__path__ = pkgutil.extend_path(__path__, __name__)
