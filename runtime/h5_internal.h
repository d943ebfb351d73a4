/* HDF5 helpers shared by dataset.c, checkpoint.c and norm.c (internal to
 * runtime/). Every helper returns an hg_status naming the file (`path`)
 * and the object; HDF5's own message is appended when available.
 * Strings are written as variable-length UTF-8 (h5py reads them as str);
 * both variable- and fixed-length strings are read. */
#ifndef HG_H5_INTERNAL_H
#define HG_H5_INTERNAL_H

#include <hdf5.h>

#include "runtime/runtime.h"

/* Silences HDF5's automatic error printing (call before any H5 call). */
void hg_h5_quiet(void);

/* Error status "path: what (HDF5: innermost message)". */
hg_status hg_h5_error(hg_code code, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Creates a file for writing (in memory: hg_h5_mem_create of h5file.h;
 * `path` only names it) / opens one read-only (regular files only). */
hg_status hg_h5_create(const char *path, hid_t *file);
hg_status hg_h5_open_read(const char *path, hid_t *file);

/* Attributes on object `obj` (a file or group or dataset). */
hg_status hg_h5_attr_str(const char *path, hid_t obj, const char *name, const char *v);
hg_status hg_h5_attr_strs(const char *path, hid_t obj, const char *name, const char *const *v, int n);
hg_status hg_h5_attr_f64(const char *path, hid_t obj, const char *name, const double *v, int n, int scalar);
hg_status hg_h5_attr_i64(const char *path, hid_t obj, const char *name, const int64_t *v, int n, int scalar);
hg_status hg_h5_attr_u64(const char *path, hid_t obj, const char *name, uint64_t v);

int hg_h5_has_attr(hid_t obj, const char *name);
/* Reads a string attribute; *out is malloc'd (caller frees). */
hg_status hg_h5_read_attr_str(const char *path, hid_t obj, const char *name, char **out);
/* Reads a 1-D (or scalar) string attribute into up to max names of
 * HG_DS_NAME_MAX bytes each. */
hg_status hg_h5_read_attr_names(const char *path, hid_t obj, const char *name,
                                char (*out)[HG_DS_NAME_MAX], int max, int *n);
/* Numeric attribute with exactly n elements (scalar = 1). */
hg_status hg_h5_read_attr_f64(const char *path, hid_t obj, const char *name, double *v, int n);
hg_status hg_h5_read_attr_i64(const char *path, hid_t obj, const char *name, int64_t *v, int n);
hg_status hg_h5_read_attr_u64(const char *path, hid_t obj, const char *name, uint64_t *v);

/* Writes t as dataset `name` (slash path, intermediate groups created)
 * under loc, native little-endian types, bool as h5py's enum. */
hg_status hg_h5_write_tensor(const char *path, hid_t loc, const char *name, const hg_tensor *t);
/* Reads dataset `name` into an owned tensor (f32, f64, i32 or bool).
 * Refused before allocating (HG_ERR_FORMAT): unsupported type, rank above
 * HG_MAX_RANK, more than HG_H5_MAX_BYTES, or an unfiltered dataset whose
 * stored bytes are fewer than its shape needs. */
hg_status hg_h5_read_tensor(const char *path, hid_t loc, const char *name, hg_tensor *t);
/* The checks of hg_h5_read_tensor without reading: dtype and shape of
 * dataset `name`. Errors as hg_h5_read_tensor. */
hg_status hg_h5_inspect(const char *path, hid_t loc, const char *name, hg_dtype *dtype, hg_shape *shape);

/* Largest tensor a reader allocates from a file (bytes). */
#define HG_H5_MAX_BYTES ((uint64_t)1 << 36)
/* Per-dataset checksum attribute: FNV-1a 64 (hg_fnv1a64) of the raw bytes. */
#define HG_H5_SUM_ATTR "checksum"
/* hg_h5_write_tensor plus the checksum attribute. */
hg_status hg_h5_write_tensor_sum(const char *path, hid_t loc, const char *name, const hg_tensor *t);
/* Compares t (just read from dataset `name`) with its checksum attribute;
 * a missing attribute is an error when `required`. The message names the
 * tensor: "path: tensor 'state/x' is corrupted: checksum ...". */
hg_status hg_h5_verify_sum(const char *path, hid_t loc, const char *name, const hg_tensor *t, int required);
int hg_h5_exists(hid_t loc, const char *name); /* link path exists (every component) */

/* hg_norm as <loc>/norm/mean, <loc>/norm/std (f64 [F]) and attribute
 * norm.box_size. */
hg_status hg_h5_write_norm(const char *path, hid_t loc, const hg_norm *nm);
hg_status hg_h5_read_norm(const char *path, hid_t loc, hg_norm *nm);

/* Closes the in-memory file and writes it atomically to path
 * (hg_h5_mem_commit; tmp is unused, kept for the callers); on earlier
 * failure (s not OK) just closes. */
hg_status hg_h5_finish(hid_t file, const char *tmp, const char *path, hg_status s);

#endif
