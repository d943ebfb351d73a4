/* HDF5 output files built in memory (part of runtime's interface, for the
 * writers of runtime/ and models/; includes hdf5.h, so kept out of
 * runtime.h). HDF5 1.10 cannot recover from a failed write or close of a
 * file on disk (the half-closed file crashes the library at exit), so no
 * HDF5 output touches the disk through HDF5: the file is built with the
 * core driver (no backing store), its image is taken and written with
 * hg_atomic_write (runtime.h: temporary file, fsync, rename), whose
 * failures (disk full, special destination) are ordinary errors. Peak
 * memory: the file's size twice. */
#ifndef HG_H5FILE_H
#define HG_H5FILE_H

#include <hdf5.h>

#include "runtime/runtime.h"

/* Creates an empty in-memory HDF5 file (`name` only labels it; nothing is
 * created on disk). Errors: HG_ERR_NOMEM / HG_ERR_IO naming `name`. */
hg_status hg_h5_mem_create(const char *name, hid_t *file);

/* Closes `file` (every object opened in it must be closed) and, when s is
 * OK, writes its image atomically to `path`. Returns s if it failed, else
 * the first error (HG_ERR_NOMEM, HG_ERR_IO, HG_ERR_INVALID from the
 * destination check). Never leaves a file at path or a temporary file on
 * failure. */
hg_status hg_h5_mem_commit(hid_t file, const char *path, hg_status s);

#endif
