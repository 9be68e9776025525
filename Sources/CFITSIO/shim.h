#ifndef BUTLER_CFITSIO_SHIM_H
#define BUTLER_CFITSIO_SHIM_H

#include <fitsio.h>

/* fits_open_file is a macro (ffopentest with the library's SONAME), which Swift cannot import. */
static inline int cfitsio_open_file(fitsfile **fptr, const char *path, int mode, int *status) {
    return fits_open_file(fptr, path, mode, status);
}

/* The library's version number, e.g. 4.02. */
static inline float cfitsio_version(void) {
    float v = 0;
    return ffvers(&v);
}

#endif
